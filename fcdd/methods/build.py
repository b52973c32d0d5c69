"""A config's method, network and scorer: the one place that joins the method registry to the networks."""

from __future__ import annotations

from torch import nn

from fcdd import registry
from fcdd.config import RunConfig
from fcdd.methods.base import Method, Scorer
from fcdd.methods.registry import METHODS
from fcdd.networks.build import build_network, network_class

__all__ = ["build_model", "get_method", "make_scorer", "method_of"]


def get_method(name: str) -> Method:
    """The method registered as ``name`` (``fcdd``, ``hsc``, ``ae``)."""
    method: Method = registry.lookup(METHODS, name, "objective")
    return method


def method_of(network: str | nn.Module) -> Method:
    """The method that trains ``network`` (a registered name or a built net), from its class."""
    cls = network_class(network) if isinstance(network, str) else type(network)
    for name in METHODS:
        method = get_method(name)
        if issubclass(cls, method.network_base):
            return method
    raise ValueError(f"no method trains a {cls.__name__}; build nets with fcdd.networks.build.build_network")


def build_model(config: RunConfig, *, pretrained: bool | None = None) -> nn.Module:
    """The network of a config, checked against its objective (``pretrained`` overrides the config's)."""
    n = config.network
    method, owner = get_method(config.objective), method_of(n.name)
    if owner is not method:
        fix = f"use --net {method.counterpart(n.name)}" if n.name in method.counterparts else "pick a matching --net"
        raise ValueError(
            f"--net {n.name} is a network for objective {owner.name}, not {method.name}; {fix} "
            "(or add the baselines with --baselines)"
        )
    use_pretrained = n.pretrained if pretrained is None else pretrained
    return build_network(n.name, bias=n.bias, pretrained=use_pretrained, weights=n.weights if use_pretrained else None)


def make_scorer(config: RunConfig, net: nn.Module) -> Scorer:
    """The scorer of the config's method for the built ``net``."""
    return get_method(config.objective).make_scorer(config.heatmap, net)
