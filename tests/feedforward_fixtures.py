"""Fixtures of the feed-forward tests: generated photos, a style image, a tiny trained model.

Import them into a test module (``from feedforward_fixtures import ...``) for pytest to find them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from conftest import tiny_trunk
from PIL import Image

from brushwork.feedforward.trainer import train_style_network
from brushwork.nets.vgg import Backbone

#: Settings that make a training step take milliseconds with the tiny backbone (and no optimisation's
#: reference in the previews, which test_feedforward_styles.py tests).
TINY: dict[str, Any] = {"crop_size": 32, "batch_size": 2, "width": 4, "residual_blocks": 1, "workers": 0,
                        "validation_count": 2, "style_size": 48, "learning_rate": 5e-3, "reference": "none"}


def make_photo(rng: np.random.Generator, height: int, width: int) -> Image.Image:
    """A smooth colour gradient with some noise: more like a photo than pure noise."""
    y, x = np.mgrid[0:height, 0:width] / max(height, width)
    base = np.stack([x, y, 1 - x * y], axis=-1) * rng.uniform(0.3, 1.0, 3)
    pixels = np.clip(base + rng.normal(0, 0.08, base.shape), 0, 1)
    return Image.fromarray((pixels * 255).astype(np.uint8))


@pytest.fixture(scope="session")
def photo_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """12 photos in nested folders, plus an unreadable file, a tiny image and a hidden file."""
    root = tmp_path_factory.mktemp("photos")
    rng = np.random.default_rng(0)
    for i in range(12):
        folder = root / ("a" if i % 3 == 0 else "b/c" if i % 3 == 1 else "")
        folder.mkdir(parents=True, exist_ok=True)
        make_photo(rng, 40 + 4 * (i % 2), 52).save(folder / f"photo{i:02d}.{'jpg' if i % 2 else 'png'}")
    (root / "notes.jpg").write_bytes(b"not an image")
    make_photo(rng, 8, 8).save(root / "a" / "tiny.png")
    make_photo(rng, 40, 40).save(root / ".hidden.png")
    return root


@pytest.fixture(scope="session")
def style_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("style") / "stripes.png"
    stripes = np.zeros((48, 64, 3), dtype=np.uint8)
    stripes[:, ::8] = (230, 90, 20)
    stripes[::6, :] = (20, 40, 200)
    Image.fromarray(stripes).save(path)
    return path


@pytest.fixture(scope="session")
def session_backbone() -> Backbone:
    return Backbone(tiny_trunk(), "caffe", name="tiny")


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory: pytest.TempPathFactory, photo_dir: Path, style_file: Path,
               session_backbone: Backbone) -> Path:
    """A tiny network trained for 4 steps."""
    path = tmp_path_factory.mktemp("model") / "stripes.safetensors"
    train_style_network(style_file, photo_dir, path, steps=4, backbone=session_backbone, **TINY)
    return path


def torch_tensor_image(path: Path) -> torch.Tensor:
    """An 8-bit image file as float [1,3,H,W] in [0,1]."""
    return torch.from_numpy(np.asarray(Image.open(path).convert("RGB"), dtype=np.float32) / 255).permute(2, 0, 1)[None]
