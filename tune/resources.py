"""Resource pre-flight: can every trial be placed on some node of the cluster?

Ray Tune only warns after a minute when a trial can never be scheduled, and such a trial waits in
PENDING forever; checking before anything starts turns that into a one-line error.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from tune.spec import Resources


class InsufficientResourcesError(ValueError):
    """No node of the cluster can hold one trial."""


def check_placement(request: Resources, nodes: Iterable[Mapping[str, float]]) -> None:
    """Raise unless some node has at least the CPUs and GPUs one trial asks for.

    ``nodes`` are the total resources of each alive node, as Ray reports them (keys ``CPU``, ``GPU``).
    """
    nodes = list(nodes)
    for node in nodes:
        if node.get("CPU", 0.0) >= request.cpus_per_trial and node.get("GPU", 0.0) >= request.gpus_per_trial:
            return
    total_gpus = sum(n.get("GPU", 0.0) for n in nodes)
    listing = ", ".join(f"{n.get('CPU', 0):g} CPU/{n.get('GPU', 0):g} GPU" for n in nodes) or "no nodes"
    if request.gpus_per_trial > 0 and total_gpus == 0:
        fix = "the Ray cluster has no GPU: pass --gpus-per-trial 0, or add GPU nodes"
    else:
        fix = "lower --cpus-per-trial/--gpus-per-trial or add bigger nodes"
    raise InsufficientResourcesError(
        f"a trial asks for {request.cpus_per_trial:g} CPU + {request.gpus_per_trial:g} GPU but no node has that "
        f"(nodes: {listing}); {fix}"
    )
