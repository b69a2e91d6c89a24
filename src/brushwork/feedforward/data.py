"""Training photos: a folder read recursively, unusable files skipped and counted, random square crops.

Crops are drawn from a generator seeded by (seed, epoch, index), so a run is the same whether it
decodes in worker processes or not, and a resumed run draws the crops the uninterrupted one would.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError
from torch.utils.data import Dataset

from brushwork.errors import BrushworkError, SettingError
from brushwork.image import load_image, resize


@dataclass(frozen=True)
class PhotoFolder:
    """The usable photos under a folder, sorted by path, and how many files were passed over."""

    root: Path
    photos: tuple[Path, ...]
    unreadable: int
    tiny: int
    min_side: int

    def skipped(self) -> str:
        """What was passed over, e.g. '1 unreadable, 1 under 128 px skipped'."""
        return f"{self.unreadable} unreadable, {self.tiny} under {self.min_side} px skipped"

    def summary(self) -> str:
        """One line for the log, e.g. '298 photos in data (1 unreadable, 1 under 128 px skipped)'."""
        return f"{len(self.photos)} photos in {self.root} ({self.skipped()})"


def scan_photos(root: Path, crop_size: int, max_pixels: int) -> PhotoFolder:
    """Find every image below ``root``; skip hidden files, unreadable ones, and ones over ``max_pixels``
    or with a short side under ``crop_size / 2`` (a photo upsampled more than 2x teaches blur).

    Only headers are read here, so a large folder scans quickly; a file that fails to decode later
    is replaced by another photo (see :class:`CropDataset`). An empty result is an error.
    """
    root = Path(root)
    if not root.is_dir():
        raise SettingError.of("data", root, "not a folder")
    min_side = crop_size // 2
    photos: list[Path] = []
    unreadable = tiny = 0
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        if any(part.startswith(".") for part in path.relative_to(root).parts):
            continue
        try:
            with Image.open(path) as im:
                width, height = im.size
        except (OSError, UnidentifiedImageError, ValueError, Image.DecompressionBombError):
            unreadable += 1
            continue
        if width * height > max_pixels:
            unreadable += 1
        elif min(width, height) < min_side:
            tiny += 1
        else:
            photos.append(path)
    folder = PhotoFolder(root, tuple(photos), unreadable, tiny, min_side)
    if not photos:
        raise SettingError.of("data", root, f"no usable photos ({folder.skipped()})")
    return folder


def photo_scale(height: int, width: int, size: int, long_side: int | None = None) -> float:
    """The factor by which training scales a photo of ``height`` x ``width`` px before its ``size`` px crop: its
    long side to ``long_side`` px (default: its short side to ``size``; never its short side under ``size``)."""
    return max(size / min(height, width), (long_side or 0) / max(height, width))


def square_crop(photo: torch.Tensor, size: int, rng: np.random.Generator | None,
                long_side: int | None = None) -> torch.Tensor:
    """[1,3,H,W] -> [1,3,size,size]: the photo scaled by :func:`photo_scale`, then a crop (random where a generator is given,
    else the centre) and, when random, a coin-flip horizontal mirror."""
    height, width = photo.shape[-2:]
    scale = photo_scale(height, width, size, long_side)
    photo = resize(photo, max(size, round(height * scale)), max(size, round(width * scale)))
    height, width = photo.shape[-2:]
    top, left = (height - size) // 2, (width - size) // 2
    if rng is not None:
        top, left = int(rng.integers(0, height - size + 1)), int(rng.integers(0, width - size + 1))
    crop = photo[..., top:top + size, left:left + size]
    return crop.flip(-1) if rng is not None and rng.random() < 0.5 else crop


class CropDataset(Dataset[torch.Tensor]):
    """Random square crops [3,S,S] in [0,1] of ``photos`` (each scaled as ``square_crop`` with ``photo_size``);
    call ``set_epoch`` before each pass."""

    def __init__(self, photos: tuple[Path, ...], crop_size: int, max_pixels: int, seed: int,
                 photo_size: int | None = None) -> None:
        self.photos, self.crop_size, self.max_pixels, self.seed = photos, crop_size, max_pixels, seed
        self.photo_size = photo_size
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.photos)

    def __getitem__(self, index: int) -> torch.Tensor:
        rng = np.random.default_rng([self.seed, self.epoch, index])
        # A file that passed the header scan but does not decode (truncated, corrupt) is replaced by
        # the next photo: one bad file must not end an hour of training.
        for offset in range(len(self.photos)):
            try:
                photo, _ = load_image(self.photos[(index + offset) % len(self.photos)], self.max_pixels)
            except BrushworkError:
                continue
            return square_crop(photo, self.crop_size, rng, self.photo_size)[0]
        raise BrushworkError(f"{self.photos[0].parent}: none of the photos decodes")
