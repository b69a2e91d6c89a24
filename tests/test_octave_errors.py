"""bench/octave_errors.py: the per-octave Gram errors it reports, on a tiny random VGG."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch

from brushwork.nets.vgg import Backbone

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))

from octave_errors import octave_errors  # noqa: E402

LAYERS = ("relu1_1", "relu3_1", "relu5_1")


def test_errors_are_zero_for_the_painting_itself_and_positive_for_another_image(tiny_backbone: Backbone) -> None:
    g = torch.Generator().manual_seed(0)
    painting, other = torch.rand(1, 3, 96, 128, generator=g) ** 2, torch.rand(1, 3, 96, 128, generator=g)
    same = octave_errors(tiny_backbone, LAYERS, painting, painting)
    assert len(same) == 2 and all(set(octave) == set(LAYERS) for octave in same)
    assert all(value == pytest.approx(0, abs=1e-4) for octave in same for value in octave.values())
    assert all(value > 0 for octave in octave_errors(tiny_backbone, LAYERS, other, painting) for value in octave.values())

