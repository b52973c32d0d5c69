"""The README's "how to add one" recipes, followed with dummy entries and run end to end.

Each recipe is a :class:`Recipe`: the new code it writes (here, in this test module) and the
registry lines it adds (here, ``monkeypatch.setitem`` on the registry dict, with a
``"module:attribute"`` reference to this module, exactly as a built-in entry refers to its own).
A recipe records every file it stands for, and :func:`test_each_recipe_names_every_file_it_touches`
checks that the README's recipe names each of them: a recipe that needs one more file fails
there until the README says so.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import torch
from torch import Tensor, nn

import fcdd.anomalies.registry as anomaly_registry
import fcdd.data.registry as data_registry
import fcdd.methods.ae as ae_method
import fcdd.methods.hsc as hsc_method
import fcdd.methods.registry as method_registry
import fcdd.networks.registry as network_registry
from fcdd.config import HeatmapConfig, RunConfig
from fcdd.data.base import ADData, DatasetLoader, fixed_classes, never_one_vs_rest
from fcdd.data.preprocess import Recipe as Pipeline
from fcdd.data.preprocess import build_preprocessing
from fcdd.methods.base import Method
from fcdd.methods.fcdd import FCDDScorer, pseudo_huber, sample_scores
from fcdd.networks.autoencoders import AENet
from fcdd.networks.hsc import HSCNet
from fcdd.networks.receptive_field import FCDDNet, LayerBuilder, ReceptiveField
from fcdd.presets import get_preset
from fcdd.runner import run
from tests.helpers import record
from tune.cli import main
from tune.report import sections
from tune.report.build import build_report
from tune.report.context import ReportContext
from tune.report.html import Paragraph, Section
from tune.store import ResultsStore

HERE = "tests.test_extension_points"
ROOT = Path(__file__).resolve().parents[1]


# --- following a recipe ------------------------------------------------------------------------
@dataclass
class Recipe:
    """One README recipe as a test follows it: every file it writes or edits, in order."""

    title: str  # the recipe's bold title in the README ("A network")
    monkeypatch: pytest.MonkeyPatch
    files: list[str] = field(default_factory=list)

    def write(self, path: str) -> None:
        """New code the recipe puts at ``path`` (a file, or ``folder/`` for a new module); here it is in this module."""
        if path not in self.files:
            self.files.append(path)

    def register(self, module: ModuleType, table: str, key: str, value: Any) -> None:
        """One entry in the dict ``table`` of ``module``."""
        self.monkeypatch.setitem(getattr(module, table), key, value)
        self.write(_source(module))

    def insert(self, module: ModuleType, table: str, index: int, entry: Any) -> None:
        """One line at ``index`` of the list ``table`` of ``module``."""
        entries = list(getattr(module, table))
        self.monkeypatch.setattr(module, table, [*entries[:index], entry, *entries[index:]])
        self.write(_source(module))


def _source(module: ModuleType) -> str:
    assert module.__file__ is not None
    return Path(module.__file__).resolve().relative_to(ROOT).as_posix()


def readme_recipe(title: str) -> str:
    """The bullet of the README's "How to add one" that starts with ``**title**``."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    part = text.split("### How to add one", 1)[1].split("\n#", 1)[0]
    found = re.search(rf"^- \*\*{re.escape(title)}\*\*.*?(?=^- \*\*|\Z)", part, re.S | re.M)
    assert found is not None, f"the README has no recipe {title!r}"
    return found.group(0)


# --- a noise mode: one function with the AnomalySource signature ------------------------------
def stripes(n: int, shape: tuple[int, int, int], generator: torch.Generator) -> Tensor:
    """White rows every 4 pixels, shifted at random per image."""
    c, h, w = shape
    offset = torch.randint(0, 4, (n, 1, 1, 1), generator=generator, device=generator.device)
    rows = torch.arange(h, device=generator.device).view(1, 1, h, 1)
    return ((rows + offset) % 4 == 0).float().expand(n, c, h, w) * 255.0


def noise_mode_recipe(monkeypatch: pytest.MonkeyPatch) -> Recipe:
    recipe = Recipe("A noise mode", monkeypatch)
    recipe.write("fcdd/anomalies/noise.py")
    recipe.register(anomaly_registry, "SYNTHETIC_NOISE", "stripes", f"{HERE}:stripes")
    return recipe


# --- an outlier-exposure source: a function (config, data) -> OutlierExposure -----------------
def checkers(config: RunConfig, data: ADData):
    """An outlier-exposure source: a pool of 8 checkerboards at the data's raw shape."""
    from fcdd.anomalies.oe_modes import OutlierExposure
    from fcdd.anomalies.outlier_exposure import OutlierPool

    _, h, w = data.raw_shape
    grid = (torch.arange(h).view(-1, 1) // 4 + torch.arange(w).view(1, -1) // 4) % 2
    pool = (grid * 255).to(torch.uint8).expand(8, 1, h, w).contiguous()
    return OutlierExposure(pool=OutlierPool(pool), data=data)


def oe_source_recipe(monkeypatch: pytest.MonkeyPatch) -> Recipe:
    recipe = Recipe("An outlier-exposure source", monkeypatch)
    recipe.write("fcdd/anomalies/oe_modes.py")
    recipe.register(anomaly_registry, "OE_SOURCES", "checkers", f"{HERE}:checkers")
    return recipe


# --- a dataset: a module with load, classes, RECIPES and LOADER -------------------------------
CLASSES = ("dark", "bright")
RECIPES = {"none": Pipeline()}


def load(root, normal_class, *, preprocessing="none", download=False, one_vs_rest=False, image_size=None) -> ADData:
    """Dark and bright noisy squares (28² unless ``image_size`` says otherwise)."""
    side = image_size or 28
    generator = torch.Generator().manual_seed(0)
    levels = torch.tensor([40, 200])
    train_labels = torch.arange(64) % 2
    test_labels = torch.arange(32) % 2

    def images(labels: Tensor) -> Tensor:
        noise = torch.randint(0, 30, (len(labels), 1, side, side), generator=generator)
        return (levels[labels].view(-1, 1, 1, 1) + noise).clamp(0, 255).to(torch.uint8)

    train, test = images(train_labels), images(test_labels)
    pre = build_preprocessing(
        preprocessing, "dummy", normal_class, (1, side, side), recipes=RECIPES, mean=(0.5,), std=(0.25,)
    )
    return ADData(
        name="dummy", class_names=CLASSES, normal_class=normal_class,
        train_images=train[train_labels == normal_class], test_images=test,
        test_labels=(test_labels != normal_class).long(), test_classes=test_labels.long(), preprocessing=pre,
    )  # fmt: skip


LOADER = DatasetLoader(load=load, classes=fixed_classes(CLASSES), recipes=RECIPES, one_vs_rest=never_one_vs_rest)


def dataset_recipe(monkeypatch: pytest.MonkeyPatch) -> Recipe:
    recipe = Recipe("A dataset", monkeypatch)
    recipe.write("fcdd/data/")
    recipe.register(data_registry, "DATASETS", "dummy", f"{HERE}:LOADER")
    return recipe


# --- a network: an FCDDNet built through a LayerBuilder, and its baseline nets ---------------
def _tiny_layers(side: int, bias: bool) -> tuple[nn.Sequential, ReceptiveField]:
    """conv3 → pool2 → conv1×1 on 1×side×side."""
    b = LayerBuilder((1, side, side))
    layers = nn.Sequential(b.conv(8, 3, padding=1, bias=bias), b.max_pool(2), b.conv(1, 1, bias=bias))
    return layers, b.receptive_field


class TinyFCDD(FCDDNet):
    """A 28² FCDD net (14×14 map): the input size of FCDD_CNN28, so it shares that net's baseline nets."""

    SIDE = 28

    def __init__(self, *, bias: bool = True) -> None:
        layers, receptive_field = _tiny_layers(self.SIDE, bias)
        super().__init__((1, self.SIDE, self.SIDE), receptive_field)
        self.layers = layers

    def forward(self, x: Tensor) -> Tensor:
        return self.layers(x)


def network_recipe(monkeypatch: pytest.MonkeyPatch) -> Recipe:
    """A net of an input size the baselines have nets for: it picks them in the methods' COUNTERPART_PICKS."""
    recipe = Recipe("A network", monkeypatch)
    recipe.write("fcdd/networks/")
    recipe.register(network_registry, "NETWORKS", "TINY_FCDD", f"{HERE}:TinyFCDD")
    recipe.register(hsc_method, "COUNTERPART_PICKS", "TINY_FCDD", "CNN28")
    recipe.register(ae_method, "COUNTERPART_PICKS", "TINY_FCDD", "AE28")
    return recipe


class TinyFCDD20(TinyFCDD):
    """A 20² FCDD net: an input size no baseline net takes."""

    SIDE = 20


class TinyHSC20(HSCNet):
    """The HSC net that stands in for TINY_FCDD20: conv3 → pool2 → linear, 8 features."""

    input_shape = (1, 20, 20)
    feature_dim = 8
    fcdd_counterpart = "TINY_FCDD20"

    def __init__(self, *, bias: bool = True) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1, bias=bias), nn.LeakyReLU(), nn.MaxPool2d(2))
        self.head = nn.Linear(4 * 10 * 10, self.feature_dim, bias=bias)

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.body(x).flatten(1))


class TinyAE20(AENet):
    """The AE that stands in for TINY_FCDD20: TinyHSC20 as encoder, linear → upsample → conv3 back to 20²."""

    encoder_cls = TinyHSC20

    def __init__(self, *, bias: bool = True, linear_output: bool = False) -> None:
        decoder = nn.Sequential(
            nn.Linear(TinyHSC20.feature_dim, 4 * 10 * 10, bias=bias), nn.Unflatten(1, (4, 10, 10)),
            nn.Upsample(scale_factor=2), nn.Conv2d(4, 1, 3, padding=1, bias=bias),
        )  # fmt: skip
        super().__init__(TinyHSC20(bias=bias), decoder, linear_output=linear_output)


def network_new_size_recipe(monkeypatch: pytest.MonkeyPatch) -> Recipe:
    """A net of a new input size: its HSC and AE nets name it as their `fcdd_counterpart`."""
    recipe = Recipe("A network", monkeypatch)
    recipe.write("fcdd/networks/")
    recipe.write("fcdd/networks/hsc.py")
    recipe.write("fcdd/networks/autoencoders.py")
    recipe.register(network_registry, "NETWORKS", "TINY_FCDD20", f"{HERE}:TinyFCDD20")
    recipe.register(network_registry, "NETWORKS", "TINY_HSC20", f"{HERE}:TinyHSC20")
    recipe.register(network_registry, "NETWORKS", "TINY_AE20", f"{HERE}:TinyAE20")
    return recipe


# --- a method: its loss and scorer, a Method record, its own network base and a net ----------
class MarginNet(nn.Module):
    """Base of the margin method's nets: FCDD-shaped score maps (so FCDD's scorer reads them)."""

    input_shape: tuple[int, int, int]
    receptive_field: ReceptiveField


class TinyMargin(MarginNet):
    """TinyFCDD's layers, as a net of the margin method."""

    def __init__(self, *, bias: bool = True) -> None:
        super().__init__()
        self.layers, self.receptive_field = _tiny_layers(28, bias)
        self.input_shape = (1, 28, 28)

    def forward(self, x: Tensor) -> Tensor:
        return self.layers(x)


def margin_losses(phi: Tensor, labels: Tensor) -> Tensor:
    """FCDD's score for nominal samples; a hinge max(0, 1 − score) for anomalous ones."""
    scores = sample_scores(pseudo_huber(phi))
    return torch.where(labels.bool(), torch.relu(1.0 - scores), scores)


@dataclass(frozen=True)
class MarginScorer:
    """FCDD's scores, heatmaps and upsampling, with :func:`margin_losses` for training."""

    fcdd: FCDDScorer

    def losses(self, net: nn.Module, inputs: Tensor, labels: Tensor, gt_maps: Tensor | None) -> Tensor:
        return margin_losses(net(inputs).float(), labels)

    def score(self, net: nn.Module, inputs: Tensor) -> tuple[Tensor, Tensor]:
        return self.fcdd.score(net, inputs)

    def upsample(self, net: nn.Module, maps: Tensor, size: tuple[int, int]) -> Tensor:
        return self.fcdd.upsample(net, maps, size)

    def picture(self, net: nn.Module, maps: Tensor, size: tuple[int, int]) -> Tensor:
        return self.fcdd.picture(net, maps, size)


def _margin_scorer(heatmap: HeatmapConfig, net: nn.Module) -> MarginScorer:
    return MarginScorer(FCDDScorer(heatmap.gauss_std))


MARGIN = Method(name="margin", summary="FCDD's maps, a hinge on anomalies", network_base=MarginNet,
                make_scorer=_margin_scorer)  # fmt: skip


def method_recipe(monkeypatch: pytest.MonkeyPatch) -> Recipe:
    recipe = Recipe("A method", monkeypatch)
    recipe.write("fcdd/methods/")
    recipe.register(method_registry, "METHODS", "margin", f"{HERE}:MARGIN")
    recipe.write("fcdd/networks/")
    recipe.register(network_registry, "NETWORKS", "TINY_MARGIN", f"{HERE}:TinyMargin")
    return recipe


# --- a report section: a function of the ReportContext, one line in SECTIONS ------------------
def ok_per_class(ctx: ReportContext) -> Section:
    """A section with a file of its own: the ok trials per class."""
    ok = ctx.table[ctx.table["status"] == "ok"]
    counts = ok.groupby("normal_class").size().rename("ok").reset_index()
    ctx.files.csv("ok_per_class", "ok_per_class.csv", counts)
    return Section("Ok trials per class", [Paragraph(f"{len(counts)} class(es) with an ok trial.")])


def report_section_recipe(monkeypatch: pytest.MonkeyPatch) -> Recipe:
    recipe = Recipe("A report section", monkeypatch)
    recipe.write("tune/report/sections/")
    # its place in the list is its place on the page: right after the run facts
    recipe.insert(sections, "SECTIONS", 1, ("ok_per_class", ok_per_class))
    return recipe


# --- the README names every file of every recipe ----------------------------------------------
FILES_TOUCHED = {  # recipe → the files it touches (code; the README's tables of datasets and files aside)
    noise_mode_recipe: 2,
    oe_source_recipe: 2,
    dataset_recipe: 2,
    network_recipe: 4,
    network_new_size_recipe: 4,
    method_recipe: 4,
    report_section_recipe: 2,
}


@pytest.mark.parametrize("follow", list(FILES_TOUCHED), ids=[f.__name__ for f in FILES_TOUCHED])
def test_each_recipe_names_every_file_it_touches(follow, monkeypatch):
    recipe = follow(monkeypatch)
    text = readme_recipe(recipe.title)
    missing = [path for path in recipe.files if f"`{path}`" not in text]
    assert not missing, f"the README's recipe {recipe.title!r} does not name {missing}"
    assert len(recipe.files) == FILES_TOUCHED[follow], recipe.files


# --- each recipe, end to end --------------------------------------------------------------------
@pytest.fixture
def registered(monkeypatch):
    for follow in (noise_mode_recipe, dataset_recipe, network_recipe):
        follow(monkeypatch)


def _config(**changes) -> RunConfig:
    base = get_preset("fmnist").replace(**{
        "data.dataset": "dummy", "data.preprocessing": "none", "network.name": "TINY_FCDD",
        "anomalies.noise_mode": "stripes", "optim.epochs": 5, "optim.lr": 0.05, "optim.batch_size": 16,
        "heatmap.n_samples": 4,
        "device": "cpu", "threads": 1,
    })  # fmt: skip
    return base.replace(**changes)


def _train(out: Path, *flags: str) -> list[Any]:
    """`fcdd train` on the dummy dataset's class bright, one seed, one epoch; the store's records, by setting."""
    argv = ["train", "--dataset", "dummy", "--preprocessing", "none", "--noise-mode", "stripes", "--classes", "bright",
            "--seeds", "1", "--epochs", "1", "--batch-size", "16", "--device", "cpu", "--cpus-per-trial", "1",
            "--quiet", "--out", str(out), *flags]  # fmt: skip
    assert main(argv) == 0
    return sorted(ResultsStore(out).records(), key=lambda r: r.setting)


def test_unregistered_names_are_refused_by_the_config():
    with pytest.raises(ValueError, match="unknown noise mode 'stripes'"):
        get_preset("fmnist").replace(**{"anomalies.noise_mode": "stripes"})
    with pytest.raises(ValueError, match="unknown dataset 'dummy'"):
        get_preset("fmnist").replace(**{"data.dataset": "dummy"})
    with pytest.raises(ValueError, match="unknown network 'TINY_FCDD'"):
        get_preset("fmnist").replace(**{"network.name": "TINY_FCDD"})
    with pytest.raises(ValueError, match="unknown objective 'margin'"):
        get_preset("fmnist").replace(objective="margin")


@pytest.mark.slow
def test_registered_noise_mode_dataset_and_network_run_end_to_end(registered, tmp_path):
    result = run(_config(), tmp_path / "run")
    assert result.metrics.epochs == 5 and (tmp_path / "run" / "heatmaps_test.png").is_file()
    assert result.metrics.auc > 0.9  # bright vs dark images: trivially separable for a working trainer


@pytest.mark.slow
def test_registered_entries_work_through_the_cli(registered, tmp_path, capsys):
    (trial,) = _train(tmp_path / "out", "--net", "TINY_FCDD")
    assert trial.status == "ok" and "class 1 (bright)" in capsys.readouterr().out
    assert main(["nets"]) == 0 and "TINY_FCDD" in capsys.readouterr().out


@pytest.mark.slow
def test_registered_outlier_exposure_source(registered, monkeypatch, tmp_path):
    oe_source_recipe(monkeypatch)
    result = run(_config(**{"anomalies.noise_mode": "checkers"}), tmp_path / "run")
    assert result.metrics.auc > 0.9


@pytest.mark.slow
def test_a_network_of_a_known_input_size_runs_its_baselines(registered, tmp_path):
    trials = _train(tmp_path / "out", "--net", "TINY_FCDD", "--baselines")
    nets = {t.setting: (t.config["objective"], t.config["network.name"], t.status) for t in trials}
    assert nets == {"fcdd": ("fcdd", "TINY_FCDD", "ok"), "hsc": ("hsc", "CNN28", "ok"), "ae": ("ae", "AE28", "ok")}


def test_a_network_without_baseline_nets_is_one_line_for_baselines(registered, monkeypatch, tmp_path, capsys):
    monkeypatch.delitem(hsc_method.COUNTERPART_PICKS, "TINY_FCDD")  # the recipe's pick left out
    argv = ["train", "--dataset", "dummy", "--net", "TINY_FCDD", "--baselines", "--plan-only", "--out", str(tmp_path)]
    assert main(argv) == 2
    assert "unknown FCDD network (for a hsc counterpart) 'TINY_FCDD'" in capsys.readouterr().err


@pytest.mark.slow
def test_a_network_of_a_new_input_size_runs_with_its_own_baseline_nets(monkeypatch, tmp_path):
    for follow in (noise_mode_recipe, dataset_recipe, network_new_size_recipe):
        follow(monkeypatch)
    trials = _train(tmp_path / "out", "--net", "TINY_FCDD20", "--image-size", "20", "--baselines")
    nets = {t.setting: (t.config["network.name"], t.status) for t in trials}
    assert nets == {"fcdd": ("TINY_FCDD20", "ok"), "hsc": ("TINY_HSC20", "ok"), "ae": ("TINY_AE20", "ok")}


@pytest.mark.slow
def test_a_registered_method_trains_through_the_cli(registered, monkeypatch, tmp_path):
    method_recipe(monkeypatch)
    (trial,) = _train(tmp_path / "out", "--objective", "margin", "--net", "TINY_MARGIN")
    assert (trial.status, trial.config["objective"], trial.metrics.epochs) == ("ok", "margin", 1)
    assert (Path(trial.run_dir) / "heatmaps_test.png").is_file()


def test_a_registered_method_takes_its_own_nets_and_is_no_baseline(registered, monkeypatch, tmp_path):
    from fcdd.methods.build import baseline_changes, check_model

    method_recipe(monkeypatch)
    assert "margin" not in baseline_changes(_config())  # no `baseline` rule: --baselines leaves it out
    check_model(_config(objective="margin", **{"network.name": "TINY_MARGIN"}))
    with pytest.raises(ValueError, match="--net TINY_FCDD is a network for objective fcdd, not margin"):
        check_model(_config(objective="margin"))


def test_registered_report_section(monkeypatch, tmp_path):
    store = ResultsStore(tmp_path)
    for normal_class in (0, 1):
        store.append(record(f"t{normal_class}", normal_class=normal_class, class_name=f"c{normal_class}"))
    store.append(record("t2", "failed", normal_class=1, class_name="c1"))
    report_section_recipe(monkeypatch)
    written = build_report(tmp_path)
    assert written["ok_per_class"] == tmp_path / "report" / "ok_per_class.csv"
    assert written["ok_per_class"].read_text().splitlines() == ["normal_class,ok", "0,1", "1,1"]
    page, markdown = written["html"].read_text(), written["markdown"].read_text()
    assert "<h2>Ok trials per class</h2>\n<p>2 class(es) with an ok trial.</p>" in page
    assert page.index("<h2>Run</h2>") < page.index("<h2>Ok trials per class</h2>") < page.index("<h2>Sample AUC</h2>")
    assert "## Ok trials per class\n\n2 class(es) with an ok trial." in markdown
