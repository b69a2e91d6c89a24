"""Shared fixtures: a tiny random VGG (fast), its checkpoint file, paths to ../shared images, and a
weight cache of their own for every test not marked ``weights``."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from brushwork.nets.vgg import Backbone, VGGTrunk
from brushwork.nets.weights import CACHE_ENV

TINY_WIDTHS = (4, 8, 8, 16, 16)
SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "images"


def tiny_trunk(arch: str = "vgg16", seed: int = 0) -> VGGTrunk:
    """A VGG trunk with narrow random layers: real topology, ~50x cheaper than the real one."""
    torch.manual_seed(seed)
    return VGGTrunk(arch, "avg", TINY_WIDTHS)


@pytest.fixture(scope="session")
def _test_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("cache")


@pytest.fixture(autouse=True)
def _no_writes_to_the_real_cache(request: pytest.FixtureRequest, _test_cache: Path,
                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """Point BRUSHWORK_CACHE_DIR (inherited by subprocesses) at a folder of the test session, except
    for the tests marked ``weights``, which need the real cached weights (vgg19-caffe-q8, vgg16-hed)."""
    if request.node.get_closest_marker("weights") is None:
        monkeypatch.setenv(CACHE_ENV, str(_test_cache))


@pytest.fixture
def tiny_backbone() -> Backbone:
    return Backbone(tiny_trunk(), "caffe", name="tiny")


@pytest.fixture
def tiny_checkpoint(tmp_path: Path) -> Path:
    """The tiny trunk saved in this project's own layer names (conv1_1.weight, ...)."""
    path = tmp_path / "tiny.pth"
    state = {k.removeprefix("layers."): v for k, v in tiny_trunk().state_dict().items()}
    torch.save(state, path)
    return path


@pytest.fixture
def shared_images() -> Path:
    if not SHARED.is_dir():
        pytest.skip(f"{SHARED} is not there (it sits beside the project's folder)")
    return SHARED
