"""`--gpus-per-trial auto` without a GPU: the arithmetic, the spec and flag, which trial is probed, the plumbing."""

from __future__ import annotations

import dataclasses
import json

import pytest

from fcdd.config import RunConfig
from fcdd.presets import get_preset
from fcdd.probe import probe_peak_memory, probe_steps
from tune.cli import make_parser
from tune.experiment import BenchmarkOptions, run_benchmark
from tune.plan import expand, format_plan
from tune.resolve import resolve_spec
from tune.resources import (
    CONTEXT_RESERVE_BYTES,
    GIB,
    MAX_TRIALS_PER_GPU,
    PROBE_MARGIN,
    InsufficientResourcesError,
    NoGpuToMeasureError,
    check_placement,
    gpu_fraction,
    gpu_share,
    largest_in_space,
    largest_trial,
    measured,
    probe_failure,
    probe_summary,
    probe_target,
    trials_per_gpu,
)
from tune.spec import GpuProbe, Resources
from tune.spec_file import check_raw, spec_from_dict

MIB = 2**20


def test_the_constants_are_the_documented_ones():
    assert (PROBE_MARGIN, CONTEXT_RESERVE_BYTES, MAX_TRIALS_PER_GPU) == (1.3, 512 * MIB, 8)


@pytest.mark.parametrize(
    ("peak", "total", "trials", "share"),
    [
        # 16 GiB, 2.5 GiB peak: 2.5 × 1.3 + 0.5 = 3.75 GiB a trial; 16 / 3.75 = 4.27 → 4
        (2.5 * GIB, 16 * GIB, 4, 0.25),
        # 80 GiB, 10 GiB peak: 13 + 0.5 = 13.5; 80 / 13.5 = 5.93 → 5
        (10 * GIB, 80 * GIB, 5, 0.2),
        # 24 GiB, 5 GiB peak: 6.5 + 0.5 = 7; 24 / 7 = 3.43 → 3, and 3 × 0.3333 ≤ 1
        (5 * GIB, 24 * GIB, 3, 0.3333),
        # 141 GiB, 12 GiB peak: 15.6 + 0.5 = 16.1; 141 / 16.1 = 8.76 → 8 (also the cap)
        (12 * GIB, 141 * GIB, 8, 0.125),
        # 40 GiB, 4 GiB: 5.7 a trial; 40 / 5.7 = 7.02 → 7 → 1/7 = 0.142857 → 0.1428
        (4 * GIB, 40 * GIB, 7, 0.1428),
        # 100 MiB on 80 GiB would be 127 trials: capped at 8
        (100 * MIB, 80 * GIB, 8, 0.125),
        # 6 GiB on 16: 8.3 a trial; 16 / 8.3 = 1.93 → 1: a whole GPU
        (6 * GIB, 16 * GIB, 1, 1.0),
        # 15 GiB on 16: 20 a trial with the margin: not even once → a whole GPU (and a warning)
        (15 * GIB, 16 * GIB, 0, 1.0),
    ],
)
def test_gpu_share_by_hand(peak, total, trials, share):
    assert gpu_share(int(peak), int(total)) == (trials, share)


def test_exact_fit_counts_and_one_byte_less_does_not():
    # peak 1 GiB × 1.5 + 0.5 GiB = 2 GiB a trial: 8 GiB holds exactly 4
    assert trials_per_gpu(GIB, 8 * GIB, margin=1.5) == 4
    assert trials_per_gpu(GIB, 8 * GIB - 1, margin=1.5) == 3
    assert trials_per_gpu(GIB, 8 * GIB, margin=1.5, reserve_bytes=0) == 5  # 8 / 1.5 = 5.3
    assert trials_per_gpu(0, 8 * GIB, reserve_bytes=0) == MAX_TRIALS_PER_GPU


@pytest.mark.parametrize("k", range(1, 100))
def test_k_shares_fit_on_one_gpu_and_k_plus_one_do_not(k):
    # Ray adds fractions in fixed point with 4 decimals
    units = round(gpu_fraction(k) * 10_000)
    assert units == int(10_000 // k) and k * units <= 10_000
    if k > 1:
        assert (k + 1) * units > 10_000


def test_bad_probe_numbers_are_refused():
    with pytest.raises(ValueError, match="bad GPU probe numbers"):
        trials_per_gpu(GIB, 0)
    with pytest.raises(ValueError, match="bad GPU probe numbers"):
        trials_per_gpu(GIB, 8 * GIB, margin=0.5)


def test_probe_lines():
    probe = GpuProbe("trial abc", int(2.5 * GIB), 16 * GIB, 4, PROBE_MARGIN, CONTEXT_RESERVE_BYTES)
    assert probe_summary(probe, 0.25) == (
        "gpus-per-trial auto: probe of trial abc peaked at 2.50 GiB of 16.00 GiB → 4 trials per GPU (0.25 each)"
    )
    tight = GpuProbe("trial abc", 15 * GIB, 16 * GIB, 0, PROBE_MARGIN, CONTEXT_RESERVE_BYTES)
    assert "not even 1 trial per GPU" in probe_summary(tight, 1.0) and "(1 each)" in probe_summary(tight, 1.0)
    oom = RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB\nmore")
    assert probe_failure("trial abc", oom) == (
        "--gpus-per-trial auto: trial abc does not fit on one GPU even alone (CUDA out of memory. Tried to allocate "
        "2.00 GiB); lower --batch-size or set --micro-batch-size"
    )
    assert probe_failure("trial abc", ValueError("no CUDA\nx")).endswith("failed: ValueError: no CUDA")


# --- the spec and the flag ---------------------------------------------------------------------


def _spec(**kw):
    return spec_from_dict({"preset": "fmnist", "classes": [0, 1], "seeds": 1, **kw}, n_classes=10)


@pytest.mark.parametrize("value", ["auto", "AUTO", " auto "])
def test_spec_says_auto(value):
    spec = _spec(resources={"cpus_per_trial": 2, "gpus_per_trial": value})
    r = spec.resources
    assert (r.gpus_auto, r.gpus_per_trial, r.probe, r.gpus_unmeasured, r.gpus_label) == (True, 0.0, None, True, "auto")
    assert "2 CPU + auto GPU per trial" in format_plan(spec, expand(spec))
    with pytest.raises(RuntimeError, match="must be measured"):
        r.as_ray()


def test_measured_resources_hand_ray_the_share_and_keep_the_numbers():
    probe = GpuProbe("trial x", GIB, 16 * GIB, 4, PROBE_MARGIN, CONTEXT_RESERVE_BYTES, "H200")
    r = Resources(2, gpus_auto=True).measured(0.25, probe)
    assert r.as_ray() == {"cpu": 2, "gpu": 0.25} and not r.gpus_unmeasured and r.gpus_label == "0.25"
    assert r.probe == probe


@pytest.mark.parametrize(
    ("resources", "match"),
    [
        ({"gpus_per_trial": "most"}, r"`gpus_per_trial` must be a number or auto .* got 'most'"),
        ({"gpus_per_trial": "0.5"}, r"must be a number or auto"),
        ({"gpus_per_trial": -1}, r">= 0"),
    ],
)
def test_bad_gpus_in_a_spec(resources, match):
    with pytest.raises(ValueError, match=match):
        _spec(resources=resources)


def test_only_the_probe_fills_in_the_measurement():
    with pytest.raises(ValueError, match="unknown key 'resources.gpus_auto'"):
        check_raw({"preset": "fmnist", "resources": {"gpus_auto": True}})
    with pytest.raises(ValueError, match="auto or a number, not both"):
        Resources(1, 0.5, gpus_auto=True)
    with pytest.raises(ValueError, match="belongs to `gpus_per_trial: auto`"):
        Resources(1, 0.5, probe=GpuProbe("t", 1, 2, 1, 1.3, 0))


def test_the_trial_ids_do_not_depend_on_the_gpu_share():
    ids = [[t.trial_id for t in expand(_spec(resources={"gpus_per_trial": g}))] for g in ("auto", 0, 0.25)]
    assert ids[0] == ids[1] == ids[2]


def test_the_flag_takes_a_number_or_auto(tiny_fmnist):
    parse = make_parser().parse_args
    common = ["--data-dir", str(tiny_fmnist), "--classes", "0", "--cpus-per-trial", "1"]
    assert parse(["benchmark", "--gpus-per-trial", "auto", *common]).gpus_per_trial == "auto"
    assert parse(["tune", "--gpus-per-trial", "0.25", *common]).gpus_per_trial == 0.25
    spec = resolve_spec(parse(["benchmark", "--gpus-per-trial", "Auto", *common]))
    assert spec.resources.gpus_unmeasured and spec.resources.cpus_per_trial == 1


def test_a_bad_flag_value_is_one_line(capsys):
    with pytest.raises(SystemExit) as stop:
        make_parser().parse_args(["benchmark", "--gpus-per-trial", "lots"])
    assert stop.value.code == 2
    assert "argument --gpus-per-trial: expected a number of GPUs or auto, got 'lots'" in capsys.readouterr().err


# --- which trial is probed ---------------------------------------------------------------------


def test_largest_trial_is_batch_times_channels_times_pixels_first_on_ties():
    fmnist = get_preset("fmnist")  # 1 × 28 × 28
    mvtec = get_preset("mvtec").replace(**{"network.name": "FCDD_CNN224_VGG_NOPT"})  # 3 × 224 × 224
    configs = [fmnist.replace(**{"optim.batch_size": b}) for b in (64, 256, 256, 128)]
    assert largest_trial(configs) == 1  # the first of the two 256s
    # 16 × 3 × 224² = 2.4 M pixels beats 256 × 28² = 0.2 M
    assert largest_trial([*configs, mvtec.replace(**{"optim.batch_size": 16})]) == 4
    # micro-batches bound the activations: 512 in chunks of 32 is smaller than 64 at once
    chunked = fmnist.replace(**{"optim.batch_size": 512, "optim.micro_batch_size": 32})
    assert largest_trial([chunked, fmnist.replace(**{"optim.batch_size": 64})]) == 1


def test_probe_target_of_a_plan_and_of_a_search():
    spec = _spec(
        resources={"gpus_per_trial": "auto"},
        settings=[{"name": "small", "overrides": {"optim.batch_size": 32}}, {"name": "big"}],
    )  # fmnist's preset batch is 128
    trials = expand(spec)
    label, config = probe_target(spec.resources, [(t.trial_id, t.run_config()) for t in trials])
    assert label == trials[2].trial_id and (config.optim.batch_size, config.data.normal_class) == (128, 0)
    assert probe_target(_spec().resources, [(t.trial_id, t.run_config()) for t in trials]) is None
    space = {
        "optim.batch_size": {"type": "categorical", "choices": [64, 512, 128]},
        "data.image_size": {"type": "int", "low": 28, "high": 28},
        "optim.lr": {"type": "loguniform", "low": 1e-4, "high": 1e-1},
    }
    assert largest_in_space(get_preset("fmnist"), space).optim.batch_size == 512


def test_trials_on_the_cpu_cannot_measure_a_gpu_share():
    spec = _spec(resources={"gpus_per_trial": "auto"}, overrides={"device": "cpu"})
    with pytest.raises(ValueError, match="run on --device cpu; pass --device auto"):
        probe_target(spec.resources, [(t.trial_id, t.run_config()) for t in expand(spec)])


def test_placement_of_an_unmeasured_share():
    auto = Resources(2, gpus_auto=True)
    check_placement(auto, [{"CPU": 2.0}, {"CPU": 8.0, "GPU": 1.0}])
    with pytest.raises(NoGpuToMeasureError) as error:
        check_placement(auto, [{"CPU": 2.0, "GPU": 0.0}])
    assert str(error.value) == (
        "--gpus-per-trial auto needs a GPU to measure, and the Ray cluster has none (nodes: 2 CPU/0 GPU); "
        "pass --gpus-per-trial 0, or add GPU nodes"
    )
    with pytest.raises(InsufficientResourcesError, match=r"1 GPU \(to measure --gpus-per-trial auto\)"):
        check_placement(auto, [{"CPU": 1.0, "GPU": 1.0}])


# --- the probe itself, as far as a CPU goes ------------------------------------------------------


def test_the_probe_needs_cuda():
    with pytest.raises(ValueError, match="no CUDA device is visible to torch here"):
        probe_peak_memory(get_preset("fmnist"))


@pytest.mark.slow
def test_the_probe_trains_the_runs_own_first_steps(tiny_fmnist, tiny_oe_folder, tmp_path):
    config = get_preset("fmnist").replace(
        **{"data.data_dir": str(tiny_fmnist), "anomalies.oe_folder": str(tiny_oe_folder),
           "anomalies.noise_mode": "folder", "optim.batch_size": 8, "device": "cpu", "threads": 1}
    )  # fmt: skip
    # 24 training images: 3 batches of the trial's 8, the first 2 trained
    assert probe_steps(config, tmp_path / "probe", steps=2) == [8, 8]
    assert not (tmp_path / "probe" / "metrics.json").exists()


# --- the plumbing, with a stand-in runner ------------------------------------------------------


def _local(tiny_fmnist):
    """The fixture's data, with synthetic anomalies (no outlier-exposure files)."""
    return {"data.data_dir": str(tiny_fmnist), "anomalies.noise_mode": "confetti",
            "anomalies.supervise_mode": "malformed_normal"}  # fmt: skip


class MeasuringRunner:
    """A runner that shares GPUs, as the experiment sees it: its probe measures 2.5 of 16 GiB."""

    name = "fake"

    def __init__(self) -> None:
        self.probed: list[tuple[str, RunConfig]] = []
        self.ran: list = []

    def prepare(self, spec):
        check_placement(spec.resources, [{"CPU": 4.0, "GPU": 1.0}])

    def resolve_gpus(self, spec, trial, config):
        self.probed.append((trial, config))
        return dataclasses.replace(spec, resources=measured(spec.resources, trial, int(2.5 * GIB), 16 * GIB, "fake"))

    def run(self, trials, out, spec):
        self.ran.append(([t.trial_id for t in trials], spec))


def test_a_benchmark_runs_and_records_the_measured_share(tiny_fmnist, tmp_path):
    spec = _spec(
        resources={"cpus_per_trial": 1, "gpus_per_trial": "auto"},
        overrides=_local(tiny_fmnist),
        settings=[{"name": "small", "overrides": {"optim.batch_size": 32}}, {"name": "big"}],
    )  # fmt: skip
    runner = MeasuringRunner()
    run_benchmark(spec, tmp_path / "out", runner, BenchmarkOptions(report=False))
    trials = expand(spec)
    big = trials[2]
    assert [label for label, _ in runner.probed] == [f"trial {big.trial_id} (big, class 0, seed 0)"]
    assert runner.probed[0][1] == big.run_config()
    [(ids, ran_spec)] = runner.ran
    assert ids == [t.trial_id for t in trials]  # the same trials, the same ids
    assert ran_spec.resources.as_ray() == {"cpu": 1, "gpu": 0.25}
    recorded = json.loads((tmp_path / "out" / "benchmark.json").read_text())["resources"]
    assert recorded == {
        "cpus_per_trial": 1,
        "gpus_per_trial": 0.25,
        "gpus_auto": True,
        "probe": {
            "trial": f"trial {big.trial_id} (big, class 0, seed 0)",
            "peak_bytes": int(2.5 * GIB),
            "total_bytes": 16 * GIB,
            "trials_per_gpu": 4,
            "margin": PROBE_MARGIN,
            "reserve_bytes": CONTEXT_RESERVE_BYTES,
            "device_name": "fake",
        },
    }


def test_no_probe_for_a_number_or_for_the_serial_runner(tiny_fmnist, tmp_path):
    from tune.runners.serial import SerialRunner

    fixed = _spec(resources={"cpus_per_trial": 1, "gpus_per_trial": 0.5}, overrides=_local(tiny_fmnist))
    runner = MeasuringRunner()
    run_benchmark(fixed, tmp_path / "fixed", runner, BenchmarkOptions(report=False))
    assert runner.probed == [] and runner.ran[0][1].resources.as_ray() == {"cpu": 1, "gpu": 0.5}

    class Serial(SerialRunner):
        def run(self, trials, out, spec):
            self.spec = spec

    serial = Serial()
    auto = _spec(resources={"cpus_per_trial": 1, "gpus_per_trial": "auto"}, overrides=_local(tiny_fmnist))
    run_benchmark(auto, tmp_path / "serial", serial, BenchmarkOptions(report=False))
    assert serial.spec.resources.gpus_unmeasured  # the serial runner shares no GPU: nothing to measure


def test_a_search_probes_its_largest_trial_once_for_the_search_and_the_reruns(tiny_fmnist, tmp_path):
    from tune.experiment import run_search

    class Stop(Exception):
        pass

    class Searching(MeasuringRunner):
        def search(self, spec, base, out, **kwargs):
            self.searched = spec
            raise Stop

        def max_concurrent(self, resources):
            return 1

    spec = _spec(
        resources={"cpus_per_trial": 1, "gpus_per_trial": "auto"},
        overrides=_local(tiny_fmnist),
        search={"trials": 2, "space": {"optim.batch_size": {"type": "categorical", "choices": [16, 64]}}},
    )  # fmt: skip
    runner = Searching()
    with pytest.raises(Stop):
        run_search(spec, tmp_path / "tune", runner)
    [(label, config)] = runner.probed
    assert label == "the search's largest trial (batch 64, class 0)" and config.optim.batch_size == 64
    assert runner.searched.resources.gpus_per_trial == 0.25 and runner.searched.resources.probe is not None
