"""The photo folder: recursive, skipping what it cannot use with a count, deterministic crops."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from feedforward_fixtures import make_photo, photo_dir  # noqa: F401  (a fixture)

from brushwork.errors import SettingError
from brushwork.feedforward.data import CropDataset, scan_photos


def test_scan_is_recursive_and_counts_what_it_skips(photo_dir: Path) -> None:
    folder = scan_photos(photo_dir, crop_size=32, max_pixels=10**8)
    assert len(folder.photos) == 12 and folder.unreadable == 1 and folder.tiny == 1
    assert any("b/c" in str(p) for p in folder.photos) and not any(".hidden" in str(p) for p in folder.photos)
    assert folder.summary().startswith("12 photos in") and "1 unreadable, 1 under 16 px skipped" in folder.summary()


def test_an_empty_or_missing_folder_is_a_one_line_error(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    (tmp_path / "junk").mkdir()
    (tmp_path / "junk" / "a.jpg").write_bytes(b"junk")
    for folder, says in (("empty", "no usable photos (0 unreadable"), ("junk", "no usable photos (1 unreadable"),
                         ("missing", "not a folder")):
        with pytest.raises(SettingError, match=r"^data .*" + folder) as info:
            scan_photos(tmp_path / folder, 32, 10**8)
        assert says in str(info.value) and "\n" not in str(info.value)


def test_crops_depend_on_seed_epoch_and_index_only(photo_dir: Path) -> None:
    photos = scan_photos(photo_dir, 32, 10**8).photos
    data = CropDataset(photos, 32, 10**8, seed=1)
    first = data[3]
    assert first.shape == (3, 32, 32) and 0 <= float(first.min()) and float(first.max()) <= 1
    assert torch.equal(CropDataset(photos, 32, 10**8, seed=1)[3], first)
    before = [data[i] for i in range(6)]
    data.set_epoch(1)
    assert not all(torch.equal(data[i], crop) for i, crop in enumerate(before))


def test_a_file_that_does_not_decode_is_replaced_by_the_next(tmp_path: Path) -> None:
    import numpy as np
    good = tmp_path / "b.png"
    make_photo(np.random.default_rng(0), 40, 40).save(good)
    truncated = tmp_path / "a.png"
    truncated.write_bytes(good.read_bytes()[:200])  # the header reads, the pixels do not
    data = CropDataset((truncated, good), 32, 10**8, seed=0)
    assert data[0].shape == (3, 32, 32)


def test_photo_size_scales_the_photo_before_the_crop() -> None:
    """A 40 x 80 photo, dark to bright from left to right: at the default scale (the short side to the crop) a
    crop spans half its width, so half its range of brightness; with the long side at 160 px, a tenth."""
    from brushwork.feedforward.data import square_crop
    photo = torch.linspace(0, 1, 80).expand(1, 3, 40, 80)

    def spread(crop: torch.Tensor) -> float:
        assert crop.shape == (1, 3, 16, 16)
        return float(crop.max() - crop.min())

    assert spread(square_crop(photo, 16, None)) == pytest.approx(0.5, abs=0.05)
    assert spread(square_crop(photo, 16, None, long_side=160)) == pytest.approx(0.1, abs=0.02)
    # Never a short side under the crop: a long side too small for that is raised.
    assert torch.equal(square_crop(photo, 16, None, long_side=20), square_crop(photo, 16, None))
