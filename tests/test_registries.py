"""Conventions: every registry entry loads as what its table promises, and every list of names is its registry's."""

from __future__ import annotations

import argparse
import importlib.util
from pathlib import Path

import pytest
import torch
from torch import nn

from fcdd import registry
from fcdd.anomalies.registry import OE_FOLDER_SOURCES, OE_SOURCES, SUPERVISE_MODES, SYNTHETIC_NOISE, noise_mode_names
from fcdd.anomalies.supervisor import OnlineSupervisor
from fcdd.config import AnomalyConfig, DataConfig, NetworkConfig, RunConfig
from fcdd.data.base import DatasetLoader
from fcdd.data.loading import get_loader
from fcdd.data.registry import DATASETS, literal_keys, preprocessing_names
from fcdd.methods.base import Method
from fcdd.methods.build import get_method, method_of
from fcdd.methods.registry import METHODS
from fcdd.networks.autoencoders import AENet
from fcdd.networks.build import list_networks, network_class
from fcdd.networks.hsc import HSCNet
from fcdd.networks.receptive_field import FCDDNet
from fcdd.networks.registry import NETWORKS
from fcdd.presets import PRESETS
from tune.flags import add_config_arguments


@pytest.mark.parametrize("name", sorted(DATASETS))
def test_dataset_entries_are_loaders_named_like_their_module(name):
    loader = registry.lookup(DATASETS, name, "dataset", DatasetLoader)
    assert isinstance(loader, DatasetLoader)
    module = __import__(DATASETS[name].split(":")[0], fromlist=["NAME"])
    assert module.NAME == name and loader.default_preprocessing in loader.recipes


@pytest.mark.parametrize("name", sorted(NETWORKS))
def test_network_entries_are_nets_of_exactly_one_method(name):
    cls = network_class(name)
    owners = [m for m in METHODS if issubclass(cls, get_method(m).network_base)]
    assert len(owners) == 1, (name, owners)
    assert method_of(name).name == owners[0]


@pytest.mark.parametrize("name", sorted(SYNTHETIC_NOISE))
def test_noise_entries_draw_the_asked_shape(name):
    source = registry.lookup_function(SYNTHETIC_NOISE, name, "noise mode")
    out = source(3, (1, 8, 8), torch.Generator().manual_seed(0))
    assert out.shape == (3, 1, 8, 8) and out.dtype == torch.float32


def test_oe_sources_are_functions_and_the_folder_table_names_sources():
    for name in OE_SOURCES:
        assert callable(registry.lookup_function(OE_SOURCES, name, "OE source")), name
    assert set(OE_FOLDER_SOURCES) <= set(OE_SOURCES)
    assert not set(SYNTHETIC_NOISE) & set(OE_SOURCES)  # one name, one meaning


def test_method_entries_are_named_methods_whose_counterparts_cover_every_fcdd_net():
    fcdd_nets = set(list_networks(FCDDNet))
    for name in METHODS:
        method = get_method(name)
        assert isinstance(method, Method) and method.name == name
        counterparts = method.counterparts()
        assert bool(counterparts) == (method.baseline is not None), name  # a baseline stands in for every FCDD net
        if counterparts:
            assert set(counterparts) == fcdd_nets, name
            for net in counterparts.values():
                assert issubclass(network_class(net), method.network_base), (name, net)
    assert {get_method(n).network_base for n in METHODS} == {FCDDNet, HSCNet, AENet}


BASELINE_METHODS = [name for name in METHODS if get_method(name).baseline is not None]


@pytest.mark.parametrize("name", sorted(NETWORKS))
def test_counterparts_agree_in_both_directions(name):
    # Stated once, on the baseline nets (`fcdd_counterpart`); a method derives FCDD net -> its net
    # from them and lists only the picks the nets do not decide.
    cls = network_class(name)
    if issubclass(cls, FCDDNet):
        assert getattr(cls, "fcdd_counterpart", None) is None
        for method in map(get_method, BASELINE_METHODS):
            back = network_class(method.counterpart(name)).fcdd_counterpart
            assert back == name or name in method.counterpart_picks, (method.name, name, back)
        return
    method = method_of(name)
    fcdd_net = cls.fcdd_counterpart  # every baseline net names the FCDD net it stands in for
    assert issubclass(network_class(fcdd_net), FCDDNet), name
    assert method.counterpart(fcdd_net) == name or fcdd_net in method.counterpart_picks, name


@pytest.mark.parametrize("method", BASELINE_METHODS)
def test_counterpart_picks_are_only_what_the_nets_do_not_decide(method):
    picks = get_method(method).counterpart_picks
    for fcdd_net, net in picks.items():
        assert issubclass(network_class(fcdd_net), FCDDNet) and method_of(net).name == method, (fcdd_net, net)
        naming = [n for n in NETWORKS if getattr(network_class(n), "fcdd_counterpart", None) == fcdd_net
                  and method_of(n).name == method]  # fmt: skip
        assert naming != [net], f"{method}: {fcdd_net} -> {net} is stated on {net} already; drop the pick"


def test_supervise_modes_are_the_supervisors():
    for mode in SUPERVISE_MODES:
        source = None if mode == "unsupervised" else registry.lookup_function(SYNTHETIC_NOISE, "solid", "noise mode")
        if mode == "other":
            from fcdd.anomalies.outlier_exposure import OutlierPool

            source = OutlierPool(torch.zeros(2, 1, 4, 4, dtype=torch.uint8))
        OnlineSupervisor(mode, source)  # every listed mode is one the supervisor implements
    with pytest.raises(ValueError, match="unknown supervise mode"):
        OnlineSupervisor("semi", None)


def test_config_accepts_exactly_the_registered_names():
    for name in DATASETS:
        DataConfig(dataset=name)
    for name in NETWORKS:
        NetworkConfig(name=name)
    for name in noise_mode_names():
        AnomalyConfig(noise_mode=name)
    for name in SUPERVISE_MODES:
        AnomalyConfig(supervise_mode=name)
    for name in METHODS:
        RunConfig(objective=name)
    for bad in (lambda: DataConfig(dataset="mnist"), lambda: NetworkConfig(name="RESNET"),
                lambda: AnomalyConfig(noise_mode="salt"), lambda: AnomalyConfig(supervise_mode="semi"),
                lambda: RunConfig(objective="dsvdd")):  # fmt: skip
        with pytest.raises(ValueError, match="unknown"):
            bad()


def test_cli_choices_are_the_registries():
    parser = argparse.ArgumentParser()
    add_config_arguments(parser)
    choices = {a.option_strings[0]: a.choices for a in parser._actions if a.choices is not None}
    assert list(choices["--noise-mode"]) == list(noise_mode_names())
    assert list(choices["--supervise-mode"]) == list(SUPERVISE_MODES)
    assert list(choices["--objective"]) == list(METHODS)


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_presets_are_valid_configs_of_registered_parts(name):
    preset = PRESETS[name]
    assert isinstance(preset, RunConfig)
    assert RunConfig.from_dict(preset.to_dict()) == preset
    assert issubclass(network_class(preset.network.name), nn.Module)


def test_the_papers_class_names_are_the_datasets():
    from fcdd.data import cifar, fmnist, mvtec
    from fcdd.paper import PAPER

    names = {"fmnist": fmnist.CLASS_NAMES, "cifar10": cifar.CLASS_NAMES, "mvtec": mvtec.CATEGORIES}
    for table in PAPER:
        assert table.dataset in DATASETS
        if table.per_class:
            assert tuple(table.per_class) == names[table.dataset], (table.dataset, table.variant)
            assert abs(sum(table.per_class.values()) / len(table.per_class) - table.mean) < 0.006, table.source


@pytest.mark.parametrize("name", sorted(DATASETS))
def test_every_dataset_answers_whether_it_is_one_vs_rest(name):
    loader = get_loader(name)
    answers = {loader.one_vs_rest(DataConfig(dataset=name, one_vs_rest=flag)) for flag in (False, True)}
    assert answers <= {True, False} and all(type(a) is bool for a in answers)
    assert len(answers) == (2 if name == "custom" else 1), "only custom folders follow the --one-vs-rest flag"


def _train_help(capsys) -> str:
    from tune.cli import main

    with pytest.raises(SystemExit):
        main(["train", "--help"])
    return " ".join(capsys.readouterr().out.split())  # argparse's line wrapping undone


def test_the_help_lists_every_dataset_and_its_preprocessings(monkeypatch, capsys):
    monkeypatch.setitem(DATASETS, "dummy", "tests.test_extension_points:LOADER")  # a dataset registered later
    text = _train_help(capsys)
    assert f"--dataset DATASET dataset: {', '.join(DATASETS)} " in text
    for name in DATASETS:
        recipes = get_loader(name).recipes
        assert f"{name}: {', '.join(recipes)}" in text, name
    assert "dummy: none" in text


@pytest.mark.parametrize("name", sorted(DATASETS))
def test_the_preprocessings_read_without_importing_are_the_loaders(name):
    # `fcdd train --help` reads RECIPES from the module's source (torch-free); it must be the loader's table.
    module = importlib.util.find_spec(str(DATASETS[name]).partition(":")[0])
    assert module is not None and module.origin is not None
    loader = get_loader(name)
    assert literal_keys(Path(module.origin), "RECIPES") == tuple(loader.recipes)
    assert preprocessing_names(name) == tuple(loader.recipes)
