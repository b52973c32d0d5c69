"""make_scorer: the config's method and heatmap settings reach the scorer (the baselines' picture blur σ)."""

from __future__ import annotations

import pytest
import torch

from fcdd.config import RunConfig
from fcdd.methods.blur import blur_heatmaps
from fcdd.methods.build import make_scorer
from tests.helpers import build, randn

# objective, baseline net; both blur over FCDD_CNN28_W's receptive field: 15 taps (r 16, made odd)
BASELINES = [("hsc", "CNN28_W"), ("ae", "AE28_W")]


def _config(objective: str, net: str, **heatmap: object) -> RunConfig:
    return RunConfig(objective=objective).replace(
        **{"network.name": net, **{f"heatmap.{k}": v for k, v in heatmap.items()}}
    )


@pytest.mark.parametrize(("objective", "net_name"), BASELINES)
def test_blur_sigma_changes_the_picture_and_not_the_score(objective: str, net_name: str) -> None:
    net = build(net_name).eval()
    inputs = randn(3, 1, 28, 28)
    narrow = make_scorer(_config(objective, net_name, blur=True, blur_std=0.5), net)
    wide = make_scorer(_config(objective, net_name, blur=True, blur_std=3.0), net)
    (s_narrow, m_narrow), (s_wide, m_wide) = narrow.score(net, inputs), wide.score(net, inputs)
    assert torch.equal(s_narrow, s_wide) and torch.equal(m_narrow, m_wide)  # what the metrics see
    narrow_picture, wide_picture = narrow.picture(net, m_narrow, (28, 28)), wide.picture(net, m_wide, (28, 28))
    torch.testing.assert_close(wide_picture, blur_heatmaps(m_wide, 15, 3.0))
    torch.testing.assert_close(narrow_picture, blur_heatmaps(m_narrow, 15, 0.5))
    assert not torch.allclose(narrow_picture, wide_picture)


@pytest.mark.parametrize(("objective", "net_name"), BASELINES)
def test_blur_sigma_defaults_to_the_upsampling_sigma_and_needs_blur_on(objective: str, net_name: str) -> None:
    net = build(net_name).eval()
    maps = make_scorer(_config(objective, net_name), net).score(net, randn(2, 1, 28, 28))[1]
    # blur_std unset: the σ of the receptive-field upsampling (gauss_std), one σ for both as in the original
    default = make_scorer(_config(objective, net_name, blur=True, gauss_std=2.5), net)
    torch.testing.assert_close(default.picture(net, maps, (28, 28)), blur_heatmaps(maps, 15, 2.5))
    # blur off: no σ changes the picture, which is the raw map
    for sigma in (0.5, 3.0):
        plain = make_scorer(_config(objective, net_name, blur_std=sigma), net)
        assert torch.equal(plain.picture(net, maps, (28, 28)), maps)


def test_fcdd_pictures_follow_the_upsampling_sigma_and_ignore_the_blur_settings() -> None:
    net = build("FCDD_CNN28_W").eval()
    maps = make_scorer(RunConfig(), net).score(net, randn(2, 1, 28, 28))[1]
    pictures = {
        (blur, std): make_scorer(RunConfig().replace(**{"heatmap.blur": blur, "heatmap.blur_std": std}), net).picture(
            net, maps, (28, 28)
        )
        for blur, std in [(False, None), (True, 3.0)]
    }
    assert torch.equal(*pictures.values())
    wider = make_scorer(RunConfig().replace(**{"heatmap.gauss_std": 3.0}), net).picture(net, maps, (28, 28))
    assert not torch.allclose(wider, pictures[(False, None)])
