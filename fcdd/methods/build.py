"""A config's method, network and scorer: the one place that joins the method registry to the networks."""

from __future__ import annotations

from typing import Any

from torch import nn

from fcdd import registry
from fcdd.config import RunConfig
from fcdd.methods.base import Method, Scorer
from fcdd.methods.registry import METHODS
from fcdd.networks.build import build_network, network_class, network_input_shape, takes_pretrained

__all__ = [
    "baseline_changes",
    "build_model",
    "check_model",
    "check_pretraining",
    "get_method",
    "make_scorer",
    "method_of",
]


def get_method(name: str) -> Method:
    """The method registered as ``name`` (``fcdd``, ``hsc``, ``ae``)."""
    return registry.lookup(METHODS, name, "objective", Method)


def method_of(network: str | nn.Module) -> Method:
    """The method that trains ``network`` (a registered name or a built net), from its class."""
    cls = network_class(network) if isinstance(network, str) else type(network)
    for name in METHODS:
        method = get_method(name)
        if issubclass(cls, method.network_base):
            return method
    raise ValueError(f"no method trains a {cls.__name__}; build nets with fcdd.networks.build.build_network")


def baseline_changes(config: RunConfig) -> dict[str, dict[str, Any]]:
    """An FCDD config's baselines: each registered method with a ``baseline`` rule, in registry order → its changes.

    A new baseline method is one module and one registry line; ``--baselines`` picks it up from here.
    """
    if config.objective != "fcdd":
        raise ValueError(f"baselines are added to an FCDD config; this one's objective is {config.objective}")
    rules = {name: get_method(name).baseline for name in METHODS}
    return {name: rule(config) for name, rule in rules.items() if rule is not None}


def build_model(config: RunConfig, *, pretrained: bool | None = None) -> nn.Module:
    """The network of a config, checked against its objective (``pretrained`` overrides the config's)."""
    n = config.network
    method, owner = get_method(config.objective), method_of(n.name)
    if owner is not method:
        fix = f"use --net {method.counterpart(n.name)}" if n.name in method.counterparts() else "pick a matching --net"
        raise ValueError(
            f"--net {n.name} is a network for objective {owner.name}, not {method.name}; {fix} "
            "(or add the baselines with --baselines)"
        )
    check_pretraining(config)
    use_pretrained = n.pretrained if pretrained is None else pretrained
    return build_network(n.name, bias=n.bias, pretrained=use_pretrained, weights=n.weights if use_pretrained else None)


def check_pretraining(config: RunConfig) -> None:
    """Refuse a net that freezes its pretrained layers when the config asks for no pretraining."""
    n = config.network
    if not n.pretrained and getattr(network_class(n.name), "freezes_pretrained_layers", False):
        raise ValueError(
            f"--net {n.name} freezes its first layers, which only makes sense with ImageNet weights, but "
            "--no-pretrained asks for random ones; drop --no-pretrained (or pass --weights PATH), "
            "or use --net FCDD_CNN224_VGG_NOPT, which trains every layer from scratch"
        )


def check_model(config: RunConfig) -> None:
    """The pre-flight of a config's network, nothing built: method, input shape, pretraining, weights at hand."""
    from fcdd.data.loading import input_shape

    n = config.network
    method, owner = get_method(config.objective), method_of(n.name)
    if owner is not method:
        build_model(config)  # raises the one-line error that names the matching net
    takes, gives = network_input_shape(n.name), input_shape(config.data)
    if gives is not None and tuple(takes) != tuple(gives):
        raise ValueError(
            f"network {n.name} takes inputs of shape {tuple(takes)} but {config.data.dataset} with these settings "
            f"gives {tuple(gives)}; pick a matching --net (see `fcdd nets`) or --image-size"
        )
    check_pretraining(config)
    if n.pretrained and takes_pretrained(n.name):
        from fcdd.networks.vgg import ensure_weights

        ensure_weights(n.weights)


def make_scorer(config: RunConfig, net: nn.Module) -> Scorer:
    """The scorer of the config's method for the built ``net``."""
    return get_method(config.objective).make_scorer(config.heatmap, net)
