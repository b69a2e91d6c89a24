"""Shared fixtures: a tiny random VGG (fast), its checkpoint file, and paths to ../shared images."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from brushwork.nets.vgg import Backbone, VGGTrunk

TINY_WIDTHS = (4, 8, 8, 16, 16)
SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "images"


def tiny_trunk(arch: str = "vgg16", seed: int = 0) -> VGGTrunk:
    """A VGG trunk with narrow random layers: real topology, ~50x cheaper than the real one."""
    torch.manual_seed(seed)
    return VGGTrunk(arch, "avg", TINY_WIDTHS)


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
