"""The runner protocols: which runner has which capability, as the experiment finds it (``isinstance``)."""

from __future__ import annotations

from tune.runners.base import MeasuresGpus, PushesResults
from tune.runners.serial import SerialRunner


def test_the_ray_runner_measures_gpus_and_pushes_results_the_serial_runner_neither():
    from tune.runners.ray import RayRunner  # imports Ray, starts nothing

    ray_runner = RayRunner(remote_storage="s3://bucket/prefix")
    # A capability renamed in the runner would silently stop working: the experiment only asks isinstance.
    assert isinstance(ray_runner, MeasuresGpus) and isinstance(ray_runner, PushesResults)
    serial = SerialRunner(show_progress=False)
    assert not isinstance(serial, MeasuresGpus) and not isinstance(serial, PushesResults)


def test_a_ray_runner_for_a_subfolder_keeps_its_settings_and_moves_its_remote_storage():
    from tune.runners.ray import RayRunner

    def probe(config):
        return None

    runner = RayRunner(address="ray://head:10001", remote_storage="s3://bucket/prefix/", check_resources=False,
                       gpu_probe=probe)  # fmt: skip
    best = runner.for_subfolder("best")
    assert (best.address, best.remote_storage, best.check_resources, best.gpu_probe) == (
        "ray://head:10001", "s3://bucket/prefix/best", False, probe,
    )  # fmt: skip
    assert RayRunner().for_subfolder("best").remote_storage is None
