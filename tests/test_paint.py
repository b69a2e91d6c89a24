"""Artistic control on a tiny random VGG: scales, blends, style scale, masks, colours, init image."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import brushwork.transfer as transfer
from brushwork.colour import rgb_to_yiq
from brushwork.config import StyleConfig
from brushwork.errors import BrushworkError
from brushwork.nets.vgg import Backbone
from brushwork.progress import ProgressEvent
from brushwork.transfer import paint


def _texture(colour: tuple[float, float, float], seed: int, size: int = 48) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return (torch.tensor(colour).view(1, 3, 1, 1) * (0.6 + 0.4 * torch.rand(1, 3, size, size, generator=g))).clamp(0, 1)


CONTENT = torch.rand(1, 3, 48, 64, generator=torch.Generator().manual_seed(0))
RED, BLUE = _texture((0.9, 0.2, 0.1), 1), _texture((0.1, 0.3, 0.9), 2)


@pytest.mark.parametrize("size, expected", [
    (256, [(256, 300)]), (300, [(300, 300)]), (512, [(256, 200), (512, 300)]), (600, [(300, 200), (600, 150)]),
    (1024, [(256, 200), (512, 300), (1024, 150)]), (2048, [(256, 200), (512, 300), (1024, 150), (2048, 75)])])
def test_scales_start_at_300_px_or_less(size: int, expected: list[tuple[int, int]]) -> None:
    # The coarsest of several scales gets two thirds of the iterations, finer ones up to 512 px all of
    # them, and each scale above 512 px half the one before.
    assert StyleConfig(size=size).plan_scales() == expected


def test_scales_can_be_set() -> None:
    assert StyleConfig(size=1024, scales=2).plan_scales() == [(512, 200), (1024, 150)]
    assert StyleConfig(size=400, scale_iterations=(30, 20, 10)).plan_scales() == [(100, 30), (200, 20), (400, 10)]
    with pytest.raises(BrushworkError, match="^scale_iterations .*one count per scale \\(2\\)"):
        StyleConfig(scales=2, scale_iterations=(1, 2, 3))


def test_coarse_to_fine_reports_every_scale_and_ends_at_the_size(tiny_backbone: Backbone) -> None:
    seen: list[ProgressEvent] = []
    config = StyleConfig(size=64, scale_iterations=(4, 3), style_weight=1e4)
    result = paint(tiny_backbone, CONTENT, [RED], config, callbacks=[seen.append])
    assert result.shape == (1, 3, 48, 64)
    assert [p.step for p in seen] == list(range(1, 8)) and {p.total for p in seen} == {7}
    assert [p.size for p in seen] == [32] * 4 + [64] * 3


def test_blend_10_0_equals_the_single_style(tiny_backbone: Backbone) -> None:
    config = StyleConfig(size=48, iterations=5, init="noise", seed=3)
    single = paint(tiny_backbone, CONTENT, [RED], config)
    blended = paint(tiny_backbone, CONTENT, [RED, BLUE], StyleConfig(**{**vars(config), "style_blend": (10.0, 0.0)}))
    half = paint(tiny_backbone, CONTENT, [RED, BLUE], StyleConfig(**{**vars(config), "style_blend": (5.0, 5.0)}))
    assert torch.equal(single, blended) and not torch.equal(single, half)


def test_blend_weights_must_match_the_styles() -> None:
    with pytest.raises(BrushworkError, match="^style_blend 3.0,7.0: needs one value per style image \\(3\\)"):
        StyleConfig(style_blend=(3.0, 7.0)).check_styles(3)
    assert StyleConfig(style_blend=(3.0, 7.0)).blend_weights(2) == pytest.approx([0.3, 0.7])


@pytest.mark.parametrize("scale, side", [(0.5, 48), (2.0, 192)])
def test_style_scale_resizes_the_style(tiny_backbone: Backbone, monkeypatch, scale: float, side: int) -> None:
    sizes: list[tuple[int, ...]] = []
    original = transfer.Objective

    def spy(backbone, content, styles, config, **kwargs):
        sizes.extend(tuple(s.shape[-2:]) for s in styles)
        return original(backbone, content, styles, config, **kwargs)

    monkeypatch.setattr(transfer, "Objective", spy)
    paint(tiny_backbone, CONTENT, [RED], StyleConfig(size=96, iterations=1, style_scale=scale))
    assert sizes == [(side, side)]


def test_style_scale_range() -> None:
    for bad in (0.1, 5.0):
        with pytest.raises(BrushworkError, match="^style_scale .*0.25 to 4"):
            StyleConfig(style_scale=bad)


def test_masks_put_each_style_on_its_own_half(tiny_backbone: Backbone) -> None:
    left = torch.zeros(1, 1, 48, 64)
    left[..., :32] = 1
    # float32: the tiny random net's 4-channel layers are too coarse for bfloat16's 8-bit mantissa
    # (the real VGG reaches equal losses in bfloat16: README, "Speed").
    config = StyleConfig(size=64, iterations=60, style_weight=1e4, content_weight=0.0, init="noise",
                         precision="float32")
    result = paint(tiny_backbone, CONTENT, [RED, BLUE], config, style_masks=[left, 1 - left])
    red_side, blue_side = result[..., 4:28].mean(dim=(2, 3))[0], result[..., 36:60].mean(dim=(2, 3))[0]
    assert red_side[0] > red_side[2] + 0.2 and blue_side[2] > blue_side[0] + 0.2


def test_a_zero_content_mask_switches_the_content_off(tiny_backbone: Backbone) -> None:
    objective = transfer.Objective(tiny_backbone, CONTENT, [RED], StyleConfig(),
                                   content_mask=torch.zeros(1, 1, 48, 64))
    assert objective(torch.rand(1, 3, 48, 64))["content"].item() == 0.0


def test_luminance_mode_keeps_the_content_colours(tiny_backbone: Backbone) -> None:
    content = _texture((0.3, 0.6, 0.4), 5)
    result = paint(tiny_backbone, content, [RED], StyleConfig(size=48, iterations=10, style_weight=1e4,
                                                                preserve_colors="luminance"))
    iq_result, iq_content = rgb_to_yiq(result)[:, 1:], rgb_to_yiq(content)[:, 1:]
    assert torch.allclose(iq_result, iq_content, atol=0.03)
    plain = paint(tiny_backbone, content, [RED], StyleConfig(size=48, iterations=10, style_weight=1e4))
    assert (rgb_to_yiq(plain)[:, 1:] - iq_content).abs().mean() > 2 * (iq_result - iq_content).abs().mean()


def test_histogram_mode_gives_the_style_the_content_colours(tiny_backbone: Backbone, monkeypatch) -> None:
    means: list[torch.Tensor] = []
    original = transfer.Objective
    monkeypatch.setattr(transfer, "Objective", lambda b, c, styles, cfg, **kw: (
        means.append(styles[0].mean(dim=(2, 3))), original(b, c, styles, cfg, **kw))[1])
    paint(tiny_backbone, CONTENT, [RED], StyleConfig(size=48, iterations=1, preserve_colors="histogram"))
    assert torch.allclose(means[0], CONTENT.mean(dim=(2, 3)), atol=0.03)


def test_init_image_is_the_start(tiny_backbone: Backbone) -> None:
    start = torch.full((1, 3, 24, 32), 0.25)
    config = StyleConfig(size=64, iterations=2, content_weight=0.0, style_weight=0.0, tv_weight=0.0, layout_weight=0.0)
    assert torch.allclose(paint(tiny_backbone, CONTENT, [RED], config, init=start), torch.full((1, 3, 48, 64), 0.25))


def test_mask_with_another_aspect_ratio_is_refused(tmp_path: Path) -> None:
    from brushwork.image import load_mask

    Image.fromarray(np.zeros((50, 50), np.uint8)).save(tmp_path / "square.png")
    with pytest.raises(BrushworkError, match="square.png: mask is 50x50, its aspect ratio differs from the content's 64x48"):
        load_mask(tmp_path / "square.png", 10**6, 48, 64)
    assert load_mask(tmp_path / "square.png", 10**6, 100, 100).shape == (1, 1, 50, 50)


def test_finer_scales_start_with_the_contents_detail(tiny_backbone: Backbone) -> None:
    # Nothing to change at the coarse scale, so the finer one must start from the sharp content
    # itself, not from a blurred upsampling of it.
    config = StyleConfig(size=64, scale_iterations=(1, 1), style_weight=0.0, tv_weight=0.0, precision="float32",
                         init="content")
    result = paint(tiny_backbone, CONTENT, [RED], config)
    assert (result - CONTENT).abs().max() < 1e-3
