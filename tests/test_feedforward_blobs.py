"""The blob detector and dark-tone share of bench/feedforward_eval.py, on synthetic images."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest
import torch

BENCH = Path(__file__).resolve().parents[1] / "bench"


@pytest.fixture(scope="module")
def evaluation() -> ModuleType:
    sys.path.insert(0, str(BENCH))  # the script imports its sibling common.py
    try:
        spec = importlib.util.spec_from_file_location("bench_feedforward_eval_blobs", BENCH / "feedforward_eval.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module  # its dataclass looks itself up there
        spec.loader.exec_module(module)
        return module
    finally:
        sys.path.remove(str(BENCH))


def flat(value: float, height: int = 48, width: int = 64) -> torch.Tensor:
    return torch.full((1, 3, height, width), value)


def with_disc(image: torch.Tensor, value: float, row: int, col: int, radius: int) -> torch.Tensor:
    """``image`` with a disc of grey ``value`` centred at (row, col)."""
    rows, cols = torch.meshgrid(torch.arange(image.shape[-2]), torch.arange(image.shape[-1]), indexing="ij")
    disc = (rows - row) ** 2 + (cols - col) ** 2 <= radius ** 2
    return torch.where(disc, torch.tensor(value), image)


def painting(low: float = 0.2, high: float = 0.6) -> torch.Tensor:
    """A painting whose luminance spans [low, high]: left half low, right half high."""
    image = flat(low, 40, 40)
    image[..., 20:] = high
    return image


def test_a_bright_patch_that_neither_photo_nor_painting_has_is_one_blob(evaluation: ModuleType) -> None:
    photo = flat(0.4)
    blobs = evaluation.find_blobs(with_disc(photo, 1.0, 30, 16, 7), photo, painting())
    assert len(blobs) == 1
    blob = blobs[0]
    assert blob.kind == "bright" and blob.excess > 0.3
    assert blob.centre == pytest.approx((30 / 48, 16 / 64), abs=0.04)
    assert 0.02 < blob.area < 0.08  # a disc of radius 7 covers 5 % of 48 x 64 px, widened a little by the window


def test_a_dark_patch_darker_than_both_is_a_dark_blob(evaluation: ModuleType) -> None:
    photo = flat(0.5)
    blobs = evaluation.find_blobs(with_disc(photo, 0.0, 20, 40, 7), photo, painting())
    assert [b.kind for b in blobs] == ["dark"]


def test_the_photo_itself_and_a_faithful_output_have_no_blob(evaluation: ModuleType) -> None:
    photo = with_disc(flat(0.4), 1.0, 24, 32, 8)  # the photo has its own bright moon
    assert evaluation.find_blobs(photo, photo, painting()) == []
    # The painting's tones anywhere are no blob: its dark half in the photo's bright place, its light half elsewhere.
    assert evaluation.find_blobs(with_disc(flat(0.6), 0.2, 24, 32, 8), photo, painting()) == []


def test_a_patch_as_bright_as_the_painting_has_is_no_blob(evaluation: ModuleType) -> None:
    photo = flat(0.4)
    assert evaluation.find_blobs(with_disc(photo, 1.0, 24, 32, 7), photo, painting(0.2, 1.0)) == []


def test_specks_and_fine_texture_are_no_blobs(evaluation: ModuleType) -> None:
    photo = flat(0.4)
    specks = with_disc(with_disc(photo, 1.0, 10, 10, 1), 1.0, 35, 50, 1)
    assert evaluation.find_blobs(specks, photo, painting()) == []
    stripes = photo.clone()
    stripes[..., ::2] = 0.8  # bright every other column: local means of 0.53 to 0.67, within the margin
    assert evaluation.find_blobs(stripes, photo, painting()) == []


def test_photo_and_painting_of_other_sizes_are_resized(evaluation: ModuleType) -> None:
    output = with_disc(flat(0.4, 96, 128), 1.0, 60, 32, 14)
    blobs = evaluation.find_blobs(output, flat(0.4, 48, 64), painting().repeat(1, 1, 8, 8))
    assert [b.kind for b in blobs] == ["bright"]


def test_dark_share_is_the_quantile_for_the_painting_and_zero_for_a_pale_output(evaluation: ModuleType) -> None:
    art = torch.linspace(0, 1, 100).repeat(1, 3, 100, 1)
    assert evaluation.dark_share(art, art) == pytest.approx(evaluation.DARK_QUANTILE, abs=0.011)
    assert evaluation.dark_share(flat(0.7), art) == 0.0
    assert evaluation.dark_share(flat(0.05), art) == 1.0


def test_the_sheet_stacks_rows_in_order_padded_with_white_to_its_width(evaluation: ModuleType) -> None:
    wide, narrow = flat(0.0, 40, 120), flat(0.5, 40, 60)  # black, then grey half as wide
    sheet = evaluation.stack_rows([wide, narrow])
    gap = evaluation.SHEET_GAP
    assert sheet.width == evaluation.SHEET_WIDTH
    assert sheet.height == round((80 + gap) * sheet.width / 120)
    scale = sheet.width / 120
    top = sheet.getpixel((sheet.width // 2, round(20 * scale)))
    bottom_left = sheet.getpixel((round(30 * scale), round((40 + gap + 20) * scale)))
    bottom_right = sheet.getpixel((round(90 * scale), round((40 + gap + 20) * scale)))
    assert max(top) < 10 and all(120 < c < 135 for c in bottom_left) and min(bottom_right) > 245


def test_blended_scores_follow_apply_strength_and_average_per_strength(evaluation: ModuleType) -> None:
    """A stand-in judge that reports the mean brightness as style and its distance from 1 as content: blending a
    white output into a black photo at strength s scores s and 1 - s; the summary averages each strength over photos."""
    def judge(image: torch.Tensor) -> dict[str, float]:
        return {"style": float(image.mean()), "content": 1 - float(image.mean())}

    blends = evaluation.blended_scores(judge, flat(0.0), flat(1.0, 24, 32), [0.25, 1.0])  # any size, resized
    assert blends == {"0.25": {"style": 0.25, "content": 0.75}, "1.0": {"style": 1.0, "content": 0.0}}
    rows = [{"independent": {"style": 1.0, "content": 0.0}, "blended": blends},
            {"independent": {"style": 0.5, "content": 0.5},
             "blended": evaluation.blended_scores(judge, flat(0.0), flat(0.5), [0.25, 1.0])}]
    summary = evaluation.independent_summary(rows)["independent"]
    assert summary["blended"] == {"blended": {"0.25": {"style": 0.1875, "content": 0.8125},
                                              "1.0": {"style": 0.75, "content": 0.25}}}


def test_style_at_the_optimisations_content_is_read_between_the_blends(evaluation: ModuleType) -> None:
    curve = {1.0: {"style": 1.2, "content": 1.1}, 0.8: {"style": 1.3, "content": 0.9},
             0.6: {"style": 1.5, "content": 0.7}}
    assert evaluation.style_at_content(curve, 1.0) == {"strength": 0.9, "style": 1.25}
    assert evaluation.style_at_content(curve, 0.8) == {"strength": 0.7, "style": 1.4}
    assert evaluation.style_at_content(curve, 1.2) == {"strength": 1.0, "style": 1.2}  # keeps that much unblended
    assert evaluation.style_at_content(curve, 0.5) is None  # no blend measured keeps that much


def test_the_summary_judges_the_bar_at_the_optimisations_content(evaluation: ModuleType) -> None:
    row = {"independent": {"style": 1.2, "content": 1.1}, "reference": {"style": 1.0, "content": 1.0},
           "reference_dark_share": 0.2, "blended": {"0.8": {"style": 1.3, "content": 0.9}}}
    level = evaluation.independent_summary([row])["independent"]["against_reference"]["equal_content"]
    assert level == {"strength": 0.9, "style": 1.25, "style_ratio": 1.25, "passes": False}
    row["blended"]["0.8"]["style"] = 1.1
    assert evaluation.independent_summary([row])["independent"]["against_reference"]["equal_content"]["passes"]
