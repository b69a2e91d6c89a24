"""The independent quality scorer (bench/quality.py), its calibration helpers and the blind A/B procedure,
on a randomly initialised EfficientNet-Lite0 and tiny images: no real weights, a few seconds."""

from __future__ import annotations

import functools
import json
import sys
from pathlib import Path

import pytest
import torch
from PIL import Image

BENCH = Path(__file__).resolve().parents[1] / "bench"
sys.path.insert(0, str(BENCH))

import blind_ab  # noqa: E402
import quality  # noqa: E402
from quality_calibration import gaussian_blur, margins  # noqa: E402

TAPS = ("stage2", "stage3", "stage4")


@pytest.fixture(scope="module")
def net() -> quality.EfficientNetLite0:
    torch.manual_seed(0)
    return quality.EfficientNetLite0().eval().requires_grad_(False)


def scorer(net: quality.EfficientNetLite0, content: torch.Tensor, style: torch.Tensor) -> quality.Scorer:
    return quality.Scorer(content, style, functools.partial(net.features, last="stage4"), size=96, style_taps=TAPS,
                          content_tap="stage4")


def smooth(seed: int, height: int = 72, width: int = 96) -> torch.Tensor:
    """A random but smooth RGB image [1,3,H,W] in [0,1]."""
    generator = torch.Generator().manual_seed(seed)
    coarse = torch.rand(1, 3, height // 8, width // 8, generator=generator)
    return torch.nn.functional.interpolate(coarse, size=(height, width), mode="bilinear", align_corners=False)


def test_network_has_efficientnet_lite0_layout(net: quality.EfficientNetLite0) -> None:
    state = net.state_dict()
    assert len(state) == 296  # as in the wheel's file, num_batches_tracked included
    assert sum(v.numel() for k, v in state.items() if "running" not in k and "num_batches" not in k) == 4_652_008
    assert state["_blocks.15._depthwise_conv.weight"].shape == (1152, 1, 3, 3)
    features = net.features(torch.rand(1, 3, 64, 96))
    assert {k: tuple(v.shape[1:]) for k, v in features.items()}["stage6"] == (192, 2, 3)
    assert net(torch.rand(2, 3, 64, 64)).shape == (2, 1000)


def test_same_padding_puts_the_odd_pixel_below_and_right() -> None:
    x = torch.ones(1, 1, 4, 6)
    padded = quality.same_pad(x, kernel=3, stride=2)
    assert padded.shape == (1, 1, 5, 7)
    assert padded[0, 0, 0].sum() > 0 and padded[0, 0, -1].sum() == 0 and padded[0, 0, :, -1].sum() == 0


def test_identical_images_score_zero(net: quality.EfficientNetLite0) -> None:
    image = smooth(1)
    scores = scorer(net, image, image)(image)
    assert scores["style"] == pytest.approx(0, abs=1e-9)
    assert scores["content"] == pytest.approx(0, abs=1e-9)


def test_different_images_score_positive(net: quality.EfficientNetLite0) -> None:
    scores = scorer(net, smooth(1), smooth(2))(smooth(3))
    assert scores["style"] > 0.01 and scores["content"] > 0.01


def test_style_statistics_ignore_where_features_are() -> None:
    features = torch.randn(1, 8, 10, 12)
    shuffled = features.flatten(2)[..., torch.randperm(120)].view_as(features)
    assert quality.statistic_error(quality.moments(shuffled), quality.moments(features)) < 1e-12
    assert quality.statistic_error(quality.moments(features * 1.5), quality.moments(features)) > 0.5


def test_errors_are_relative_so_feature_scale_cancels() -> None:
    out, target = torch.randn(1, 8, 10, 12), torch.randn(1, 8, 9, 9)
    base = quality.statistic_error(quality.moments(out), quality.moments(target))
    assert quality.statistic_error(quality.moments(out * 7), quality.moments(target * 7)) == pytest.approx(base)


def test_output_is_compared_at_the_photo_shape(net: quality.EfficientNetLite0) -> None:
    """An output at another resolution is resized first: the photo upscaled scores content ~0."""
    photo = smooth(4)
    judge = scorer(net, photo, smooth(5))
    bigger = torch.nn.functional.interpolate(photo, scale_factor=2, mode="bilinear", align_corners=False)
    assert judge(bigger)["content"] < 0.1 < judge(smooth(6))["content"]


def test_the_painting_scores_best_on_style_and_worst_on_content(net: quality.EfficientNetLite0) -> None:
    photo, painting = smooth(7), torch.rand(1, 3, 72, 96, generator=torch.Generator().manual_seed(8))
    judge = scorer(net, photo, painting)
    assert judge(painting)["style"] < judge(photo)["style"]
    assert judge(painting)["content"] > judge(photo)["content"]


def test_pair_names(tmp_path: Path) -> None:
    for folder, stem in (("content", "golden_gate"), ("content", "tubingen"), ("style", "starry_night"),
                         ("style", "the_scream")):
        (tmp_path / folder).mkdir(exist_ok=True)
        (tmp_path / folder / f"{stem}.jpg").touch()
    photo, painting, variant = quality.pair_of("tubingen_starry_original_colors", tmp_path)
    assert (photo.name, painting.name, variant) == ("tubingen.jpg", "starry_night.jpg", "original_colors")
    assert quality.pair_of("golden_gate_the_scream", tmp_path)[1].name == "the_scream.jpg"
    photo, painting, variant = quality.pair_of("textbook_lr1_golden_gate_scream_seed2", tmp_path)
    assert (photo.name, painting.name, variant) == ("golden_gate.jpg", "the_scream.jpg", "textbook_lr1_seed2")
    assert quality.pair_of("tubingen_starry", tmp_path)[2] == ""
    with pytest.raises(ValueError):
        quality.pair_of("tubingen_monalisa", tmp_path)


def test_blur_keeps_flat_images_and_margins_sign_the_ranks() -> None:
    flat = torch.full((1, 3, 20, 30), 0.3)
    assert torch.allclose(gaussian_blur(flat, 3.0), flat)
    scores = {"canonical": {"style": 0.9, "content": 1.0}, "photo": {"style": 1.5, "content": 0.0},
              "style": {"style": 0.4, "content": 1.3}}
    gaps = margins(scores)
    assert gaps["style: canonical < photo"] == pytest.approx(0.6)
    assert gaps["content: canonical < style"] == pytest.approx(0.3)
    assert "style: canonical < colour" not in gaps
    assert margins({**scores, "canonical": {"style": 1.6, "content": 1.0}})["style: canonical < photo"] < 0


@pytest.fixture()
def folders(tmp_path: Path) -> tuple[Path, Path]:
    a, b = tmp_path / "a", tmp_path / "b"
    for folder, colour in ((a, "red"), (b, "blue")):
        folder.mkdir()
        for name in ("x_y.png", "u_v.png", "p_q.png"):
            Image.new("RGB", (40, 30), colour).save(folder / name)
    Image.new("RGB", (40, 30), "red").save(a / "only_in_a.png")
    return a, b


def test_blind_ab_refuses_to_reveal_before_recording(folders: tuple[Path, Path], tmp_path: Path) -> None:
    session, key = tmp_path / "session", tmp_path / "key.json"
    ids = blind_ab.make(*folders, session, key, seed=3, labels=("old", "new"))
    assert ids == ["01", "02", "03"]
    with pytest.raises(blind_ab.ProcedureError, match="record"):
        blind_ab.reveal(session, key)
    assert not (session / "result.json").exists()


def test_blind_ab_joins_choices_with_the_key(folders: tuple[Path, Path], tmp_path: Path) -> None:
    session, key = tmp_path / "session", tmp_path / "key.json"
    blind_ab.make(*folders, session, key, seed=3, labels=("old", "new"))
    # The reviewer picks the red (A, "old") side in each pair by looking at the pixels only.
    choices = {}
    for pair_id in ("01", "02", "03"):
        with Image.open(session / "pairs" / f"{pair_id}.png") as im:
            left_red = im.convert("RGB").getpixel((5, im.height - 5))[0] > 200
        choices[pair_id] = "left" if left_red else "right"
    assert len(set(choices.values())) == 2  # seed 3 puts A on both sides
    blind_ab.record(session, choices)
    result = blind_ab.reveal(session, key)
    assert result["wins"] == {"old": 3, "new": 0, "tie": 0}
    assert set(result["pairs"]) == {"x_y.png", "u_v.png", "p_q.png"}


def test_blind_ab_choices_are_final_and_complete(folders: tuple[Path, Path], tmp_path: Path) -> None:
    session, key = tmp_path / "session", tmp_path / "key.json"
    blind_ab.make(*folders, session, key)
    with pytest.raises(blind_ab.ProcedureError, match="each pair"):
        blind_ab.record(session, {"01": "left"})
    with pytest.raises(blind_ab.ProcedureError, match="one of"):
        blind_ab.record(session, {"01": "left", "02": "up", "03": "tie"})
    blind_ab.record(session, {"01": "left", "02": "right", "03": "tie"})
    with pytest.raises(blind_ab.ProcedureError, match="cannot be changed"):
        blind_ab.record(session, {"01": "right", "02": "right", "03": "right"})


def test_blind_ab_key_must_stay_outside_the_session_and_match(folders: tuple[Path, Path], tmp_path: Path) -> None:
    with pytest.raises(blind_ab.ProcedureError, match="inside"):
        blind_ab.make(*folders, tmp_path / "s", tmp_path / "s" / "key.json")
    blind_ab.make(*folders, tmp_path / "s1", tmp_path / "k1.json", seed=1)
    blind_ab.make(*folders, tmp_path / "s2", tmp_path / "k2.json", seed=2)
    blind_ab.record(tmp_path / "s1", {"01": "left", "02": "left", "03": "left"})
    with pytest.raises(blind_ab.ProcedureError, match="not the key"):
        blind_ab.reveal(tmp_path / "s1", tmp_path / "k2.json")


def test_blind_ab_cli_exits_with_a_message_when_revealing_early(folders: tuple[Path, Path], tmp_path: Path) -> None:
    key = str(tmp_path / "key.json")
    blind_ab.main(["make", str(folders[0]), str(folders[1]), str(tmp_path / "s"), "--key", key])
    with pytest.raises(SystemExit, match="run `record` before `reveal`"):
        blind_ab.main(["reveal", str(tmp_path / "s"), "--key", key])
    assert json.loads((tmp_path / "s" / "session.json").read_text())["pairs"]["01"] == "p_q.png"
