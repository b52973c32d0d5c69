"""The cluster configs parse, carry the keys Ray and KubeRay need, and name real commands."""

from __future__ import annotations

import re
import shlex
import tomllib
from pathlib import Path

import pytest
import yaml

from tune.cli import make_parser

CLUSTER = Path(__file__).resolve().parents[2] / "cluster"
LAUNCHER = ["ray-cluster-aws.yaml", "ray-cluster-onprem.yaml"]


def _load(name: str) -> dict:
    return yaml.safe_load((CLUSTER / name).read_text())


@pytest.mark.parametrize("path", sorted(CLUSTER.rglob("*.yaml")), ids=lambda p: p.name)
def test_every_yaml_in_cluster_parses(path):
    documents = list(yaml.safe_load_all(path.read_text()))
    assert documents and all(isinstance(d, dict) for d in documents)


@pytest.mark.parametrize("name", LAUNCHER)
def test_launcher_yaml_has_required_keys(name):
    config = _load(name)
    for key in ("cluster_name", "provider", "auth", "head_start_ray_commands", "worker_start_ray_commands"):
        assert key in config, key
    assert config["provider"]["type"] in ("aws", "local")
    assert "--dashboard-host=127.0.0.1" in " ".join(config["head_start_ray_commands"])  # dashboard stays private
    starts = [c for c in config["head_start_ray_commands"] + config["worker_start_ray_commands"] if "ray start" in c]
    assert starts and all(c.startswith("RAY_AUTH_MODE=token ") for c in starts)  # every node demands the token
    assert config["file_mounts"]["~/.ray/auth_token"] == "~/.ray/auth_token"  # the same token on every node
    if config["provider"]["type"] == "aws":
        types = config["available_node_types"]
        assert config["head_node_type"] in types
        assert any(t["resources"].get("GPU", 0) >= 1 and t["max_workers"] > t["min_workers"] for t in types.values())
    else:
        assert config["provider"]["head_ip"] and config["provider"]["worker_ips"]


def _containers(pod_template: dict) -> list[dict]:
    return pod_template["spec"]["containers"]


def _check_ray_cluster_spec(spec: dict) -> None:
    assert spec["headGroupSpec"]["rayStartParams"]["dashboard-host"] == "127.0.0.1"
    assert spec["authOptions"]["mode"] == "token"
    gpu_groups = [
        g
        for g in spec["workerGroupSpecs"]
        if any("nvidia.com/gpu" in c["resources"]["limits"] for c in _containers(g["template"]))
    ]
    assert gpu_groups and all(g["maxReplicas"] >= g["minReplicas"] for g in gpu_groups)


def test_kuberay_raycluster():
    manifest = _load("kuberay/raycluster.yaml")
    assert (manifest["apiVersion"], manifest["kind"]) == ("ray.io/v1", "RayCluster")
    _check_ray_cluster_spec(manifest["spec"])


def test_kuberay_rayjob_runs_a_real_command_and_shuts_down():
    manifest = _load("kuberay/rayjob.yaml")
    assert (manifest["apiVersion"], manifest["kind"]) == ("ray.io/v1", "RayJob")
    spec = manifest["spec"]
    assert spec["shutdownAfterJobFinishes"] is True
    # a localhost-only dashboard is reachable by a submitter in the head pod only
    assert spec["submissionMode"] == "SidecarMode"
    _check_ray_cluster_spec(spec["rayClusterSpec"])
    _parse_fcdd(spec["entrypoint"])


def test_kuberay_pods_mount_the_shared_claim():
    claim, shell = yaml.safe_load_all((CLUSTER / "kuberay" / "storage.yaml").read_text())
    assert (claim["kind"], claim["spec"]["accessModes"]) == ("PersistentVolumeClaim", ["ReadWriteMany"])
    name = claim["metadata"]["name"]
    assert shell["kind"] == "Pod" and shell["spec"]["volumes"][0]["persistentVolumeClaim"]["claimName"] == name
    for manifest in ("raycluster.yaml", "rayjob.yaml"):
        text = (CLUSTER / "kuberay" / manifest).read_text()
        assert f"claimName: {name}}}" in text and "mountPath: /mnt/fcdd}" in text, manifest


def _parse_fcdd(command: str) -> None:
    """The command must parse with the real `fcdd` CLI (sub-command and every flag)."""
    argv = shlex.split(command)
    assert argv[0] == "fcdd", command
    make_parser().parse_args(argv[1:])  # argparse exits (SystemExit) on an unknown command or flag


def test_every_fcdd_command_in_the_cluster_readme_parses():
    text = (CLUSTER / "README.md").read_text()
    commands = [c.strip() for c in re.findall(r"(?:^|\s--\s|`)(fcdd [^`\n]*)", text, flags=re.MULTILINE)]
    assert len(commands) >= 3
    for command in commands:
        _parse_fcdd(command.rstrip("\\").strip())


def test_image_installs_the_pinned_project():
    dockerfile = (CLUSTER / "Dockerfile").read_text()
    pyproject = tomllib.loads((CLUSTER.parent / "pyproject.toml").read_text())
    ray_pin = next(d for d in pyproject["project"]["dependencies"] if d.startswith("ray"))
    ray_version = ray_pin.split("==")[1]
    assert f"rayproject/ray:{ray_version}-" in dockerfile  # base image = the pinned Ray
    assert 'pip install --no-cache-dir ".[cluster]"' in dockerfile  # the project's own pins
    pins = [*pyproject["project"]["dependencies"], *sum(pyproject["project"]["optional-dependencies"].values(), [])]
    assert {re.sub(r"\[.*\]", "", p) for p in pins if p.startswith("ray")} == {f"ray=={ray_version}"}
    for manifest in ("kuberay/raycluster.yaml", "kuberay/rayjob.yaml"):
        assert f'rayVersion: "{ray_version}"' in (CLUSTER / manifest).read_text()
