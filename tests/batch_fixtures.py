"""Fixtures of the batch tests: a nested folder of small photos, tiny networks, a tiny VGG file, and
readers of what a run left (its manifest, its pairs)."""

from __future__ import annotations

import os
import signal
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import tiny_trunk
from feedforward_fixtures import make_photo
from PIL import Image

from brushwork.batch.manifest import read_manifest
from brushwork.feedforward.model_file import save_style_network
from brushwork.feedforward.network import seeded_network
from brushwork.progress import ProgressEvent


#: The photos of ``batch_photos``, by their paths relative to its folder (sorted).
PHOTOS = ["city/old/img0.png", "city/old/img3.jpg", "city/old/img6.png", "img2.png", "img5.jpg", "sea/img1.jpg",
          "sea/img4.png", "sea/img7.jpg"]


@pytest.fixture(scope="session")
def batch_photos(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The :data:`PHOTOS`, 36x48 px each, in nested folders."""
    root = tmp_path_factory.mktemp("batch-photos")
    rng = np.random.default_rng(1)
    for name in PHOTOS:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        make_photo(rng, 36, 48).save(root / name)
    return root


@pytest.fixture(scope="session")
def networks(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder of three tiny random networks (width 4, one residual block)."""
    folder = tmp_path_factory.mktemp("networks")
    for k in range(3):
        save_style_network(seeded_network(4, 1, k), folder / f"net{k}.safetensors", {"style": f"style{k}.png"})
    return folder


@pytest.fixture(scope="session")
def tiny_vgg_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny random VGG as a weights file (``--weights``), for the optimisation path."""
    path = tmp_path_factory.mktemp("vgg") / "tiny.pth"
    torch.save({k.removeprefix("layers."): v for k, v in tiny_trunk().state_dict().items()}, path)
    return path


@pytest.fixture(scope="session")
def style_image(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("style") / "dots.png"
    Image.fromarray(np.random.default_rng(2).integers(0, 255, (40, 40, 3), dtype=np.uint8)).save(path)
    return path


def done_pairs(out: Path) -> dict[str, str]:
    """{input: style} of the images that the manifest of ``out`` records as done; each at most once."""
    done = [r for r in read_manifest(out) if r["status"] == "done"]
    assert max(Counter(r["input"] for r in done).values(), default=0) == 1, "an image was done twice"
    return {r["input"]: r["style"] for r in done}


def outputs(out: Path) -> list[str]:
    """Every file under ``out`` but the manifest, relative; hidden temporary files would show."""
    return sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file() and p.name != "manifest.jsonl")


def kill_the_worker_of_the_first_result(out: Path) -> tuple[list[int], Callable[[ProgressEvent], None]]:
    """A progress callback that kill -9s the worker that finished the first image (it holds its next one)."""
    killed: list[int] = []

    def callback(event: ProgressEvent) -> None:
        if not killed:
            pid = int(read_manifest(out)[-1]["worker"].rsplit(":", 1)[1])
            os.kill(pid, signal.SIGKILL)
            killed.append(pid)
    return killed, callback
