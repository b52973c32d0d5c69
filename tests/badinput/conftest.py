"""The shared inputs of the bad-input and signal suites (one finished training, built once per session)."""

from __future__ import annotations

import pytest

from tests.badinput.world import World, build_world


@pytest.fixture(scope="session")
def world(tmp_path_factory, tiny_fmnist, tiny_oe_folder) -> World:
    return build_world(tmp_path_factory.mktemp("world"), tiny_fmnist, tiny_oe_folder)
