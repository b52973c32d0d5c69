"""A real multi-node Ray cluster on this machine: every node is its own `ray start --block` process group.

Tests use it the way a user runs a cluster: nodes join with `ray start --address`, work arrives through
`ray job submit`, token authentication is on. Each node gets one custom resource named after it, so a
test can tell from `ray list nodes` which Ray node id is which machine.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from tests.helpers import free_port

RAY = str(Path(sys.executable).with_name("ray"))
# Ray's defaults wait about a minute before declaring a silent node dead; a test wants seconds.
FAST_FAILURE_DETECTION = {
    "RAY_health_check_initial_delay_ms": "1000",
    "RAY_health_check_period_ms": "1000",
    "RAY_health_check_timeout_ms": "1000",
    "RAY_health_check_failure_threshold": "3",
}


def _port_flags() -> list[str]:
    # Two nodes on one machine must not both take Ray's fixed default ports.
    return [
        f"--dashboard-agent-listen-port={free_port()}",
        f"--dashboard-agent-grpc-port={free_port()}",
        f"--metrics-export-port={free_port()}",
        f"--runtime-env-agent-port={free_port()}",
        f"--node-manager-port={free_port()}",
        f"--object-manager-port={free_port()}",
        "--min-worker-port=0",  # 0/0: every worker process binds a port the OS picks
        "--max-worker-port=0",
    ]


@dataclass
class Node:
    """One `ray start --block` process; its process group holds the node's raylet and agents."""

    name: str
    process: subprocess.Popen
    log: Path
    node_id: str | None = None

    def kill(self) -> None:
        """Lose the node as a crashed machine would: SIGKILL, no goodbye to the head."""
        _signal_group(self.process, signal.SIGKILL)
        self.process.wait(timeout=30)

    def stop(self) -> None:
        """Let `ray start --block` shut its processes down, then make sure of it."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                pass
        _signal_group(self.process, signal.SIGKILL)
        if self.process.poll() is None:
            self.process.wait(timeout=30)


def _signal_group(process: subprocess.Popen, sig: int) -> None:
    try:
        os.killpg(process.pid, sig)
    except ProcessLookupError:
        pass


@dataclass
class LocalCluster:
    """A head node and worker nodes started with `ray start`, plus the environment that reaches them."""

    root: Path
    env: dict[str, str]
    gcs_address: str
    dashboard_url: str
    nodes: dict[str, Node] = field(default_factory=dict)

    def start_head(self, cpus: int) -> Node:
        port = int(self.gcs_address.rsplit(":", 1)[1])
        return self._start(
            "head",
            [
                "--head",
                f"--port={port}",
                "--include-dashboard=true",
                "--dashboard-host=127.0.0.1",  # the dashboard (and the jobs API) stays private
                f"--dashboard-port={self.dashboard_url.rsplit(':', 1)[1]}",
                f"--ray-client-server-port={free_port()}",
                f"--temp-dir={self.root / 'ray'}",
                f"--num-cpus={cpus}",
            ],
        )

    def start_worker(self, name: str, cpus: int) -> Node:
        return self._start(name, [f"--address={self.gcs_address}", f"--num-cpus={cpus}"])

    def _start(self, name: str, flags: list[str]) -> Node:
        log = self.root / f"{name}.log"
        command = [
            RAY,
            "start",
            "--block",
            "--node-ip-address=127.0.0.1",
            "--num-gpus=0",
            f"--resources={json.dumps({f'node_{name}': 1})}",
            "--disable-usage-stats",
            *_port_flags(),
            *flags,
        ]
        with log.open("w") as handle:
            process = subprocess.Popen(
                command, env=self.env, stdout=handle, stderr=subprocess.STDOUT, start_new_session=True
            )
        node = Node(name, process, log)
        self.nodes[name] = node
        self.wait_for_nodes(len(self.nodes), timeout=90)
        return node

    def ray(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
        """Run the `ray` CLI against this cluster."""
        return subprocess.run([RAY, *args], env=self.env, capture_output=True, text=True, timeout=timeout, check=False)

    def alive_nodes(self) -> list[dict]:
        """`ray list nodes` for the alive nodes (state API, through the dashboard)."""
        listed = self.ray("list", "nodes", f"--address={self.dashboard_url}", "--format=json", timeout=30)
        try:
            nodes = json.loads(listed.stdout) if listed.returncode == 0 else []
        except json.JSONDecodeError:  # "No resource in the cluster" while the head is still registering
            return []
        return [n for n in nodes if isinstance(n, dict) and n.get("state") == "ALIVE"]

    def wait_for_nodes(self, count: int, timeout: float) -> None:
        """Block until ``count`` nodes are alive, then learn each started node's Ray node id."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            for node in self.nodes.values():
                if node.process.poll() is not None:
                    raise RuntimeError(f"ray node {node.name} exited: {node.log.read_text()[-2000:]}")
            alive = self.alive_nodes()
            if len(alive) == count:
                for listed in alive:
                    for name, node in self.nodes.items():
                        if f"node_{name}" in listed.get("resources_total", {}):
                            node.node_id = listed["node_id"]
                return
            time.sleep(0.5)
        raise TimeoutError(f"{count} Ray nodes did not come up within {timeout:.0f} s; logs in {self.root}")

    def stop(self) -> None:
        """Stop every node, then any worker process they left behind."""
        for node in reversed(list(self.nodes.values())):
            node.stop()
        _kill_marked_processes(self.env["FCDD_TEST_CLUSTER"])
        shutil.rmtree(self.root, ignore_errors=True)


def _kill_marked_processes(marker: str) -> None:
    # Ray's worker processes leave the node's process group; they inherit its environment, though.
    needle = f"FCDD_TEST_CLUSTER={marker}".encode()
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit() or int(proc.name) == os.getpid():
            continue
        try:
            if needle in (proc / "environ").read_bytes().split(b"\0"):
                os.kill(int(proc.name), signal.SIGKILL)
        except (OSError, ProcessLookupError):
            continue


def new_cluster() -> LocalCluster:
    """An empty cluster description: ports, a token, a short temp folder (Ray's socket paths are length-capped)."""
    root = Path(tempfile.mkdtemp(prefix="fcdd-ray-"))
    venv_bin = str(Path(sys.executable).parent)
    env = {
        **os.environ,
        **FAST_FAILURE_DETECTION,
        "PATH": f"{venv_bin}{os.pathsep}{os.environ.get('PATH', '')}",  # the job's `fcdd` is this venv's
        "RAY_AUTH_MODE": "token",
        "RAY_AUTH_TOKEN": secrets.token_hex(32),
        "FCDD_TEST_CLUSTER": root.name,
        "TUNE_WARN_EXCESSIVE_EXPERIMENT_CHECKPOINT_SYNC_THRESHOLD_S": "0",
    }
    env.pop("RAY_ADDRESS", None)
    return LocalCluster(
        root=root,
        env=env,
        gcs_address=f"127.0.0.1:{free_port()}",
        dashboard_url=f"http://127.0.0.1:{free_port()}",
    )
