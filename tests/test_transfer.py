"""The optimisation loop on a tiny random VGG: losses fall, pixels stay in range, seeds reproduce."""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch

from brushwork.config import NOISE_STD, PATIENCE, SPIKE_STEPS, TV_FLOOR, StyleConfig
from brushwork.errors import BrushworkError
from brushwork.image import halve
from brushwork.losses import total_variation
from brushwork.nets.vgg import Backbone
from brushwork.optim import converged, optimise
from brushwork.progress import ProgressEvent
from brushwork.transfer import Objective, initial_image


def _images(seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    content = torch.rand(1, 3, 48, 64, generator=g)
    style = torch.rand(1, 3, 40, 40, generator=g) ** 3  # darker texture, another size
    return content, style


def _run(backbone: Backbone, **options) -> tuple[torch.Tensor, list[ProgressEvent]]:
    config = StyleConfig(**{"iterations": 15, "init": "content", **options})
    content, style = _images()
    seen: list[ProgressEvent] = []
    start = initial_image(content, [style], config.init, config.seed)
    result = optimise(Objective(backbone, content, [style], config), start, config, [seen.append],
                      tolerance=config.tolerance)
    return result, seen


def test_objective_reports_each_term_by_name(tiny_backbone: Backbone) -> None:
    content, style = _images()
    terms = Objective(tiny_backbone, content, [style], StyleConfig(layout_weight=1.0))(content)
    assert set(terms) == {"content", "style", "layout", "tv", "total"}
    assert terms["content"].item() == 0.0 and terms["style"].item() > 0 and terms["layout"].item() > 0
    assert terms["total"].item() == pytest.approx(sum(terms[k].item() for k in ("content", "style", "layout", "tv")))


def test_a_second_octave_adds_the_style_loss_of_the_output_and_the_painting_halved(tiny_backbone: Backbone) -> None:
    g = torch.Generator().manual_seed(3)
    content, style, image = torch.rand(1, 3, 64, 80, generator=g), torch.rand(1, 3, 72, 72, generator=g) ** 2, \
        torch.rand(1, 3, 64, 80, generator=g)
    one = StyleConfig(style_octaves=(1.0,), precision="float32")
    two = StyleConfig(style_octaves=(1.0, 3.0), precision="float32")
    full = Objective(tiny_backbone, content, [style], one)(image)["style"].item()
    half = Objective(tiny_backbone, halve(content, 1), [halve(style, 1)], one)(halve(image, 1))["style"].item()
    assert half > 0.01 * full
    assert Objective(tiny_backbone, content, [style], two)(image)["style"].item() == pytest.approx(full + 3 * half, rel=1e-5)
    # With masks each style is matched on its region at both sizes.
    left = torch.zeros(1, 1, 64, 80)
    left[..., :40] = 1
    masked = Objective(tiny_backbone, content, [style, style.flip(-1)], two, style_masks=[left, 1 - left])
    assert len(masked.style) == 2 * 2 * len(one.style_layers) and masked(image)["style"].item() > 0
    # An octave of weight 0 is skipped, and the ones after it still find their masks' shapes.
    big, wide = torch.rand(1, 3, 128, 160, generator=g), torch.zeros(1, 1, 128, 160)
    wide[..., :80] = 1
    skipping = Objective(tiny_backbone, big, [style, style.flip(-1)], StyleConfig(style_octaves=(1.0, 0.0, 1.0)),
                         style_masks=[wide, 1 - wide])
    assert skipping.octaves == [0, 2] and len(skipping.style) == 2 * 2 * len(one.style_layers)
    # An output under 2 x MIN_SIZE px on its short side has no halved octave.
    small = Objective(tiny_backbone, content[..., :48, :], [style], two)
    assert small.octaves == [0] and len(small.style) == len(one.style_layers)


def test_total_variation_is_relative_to_the_paintings(tiny_backbone: Backbone) -> None:
    """By default an output as rough as the painting costs the TV weight: a painting twice as rough halves the
    term; blended paintings count by their blend; a flat one counts as TV_FLOOR; "none" is the output's own."""
    content, style = _images()
    smooth = torch.nn.functional.avg_pool2d(style, 3, 1, 1)
    image, config = _images(1)[0], StyleConfig(tv_weight=0.2)

    def tv(styles: list[torch.Tensor], **options) -> float:
        return Objective(tiny_backbone, content, styles, replace(config, **options))(image)["tv"].item()

    assert tv([style]) == pytest.approx(0.2 * total_variation(image).item() / total_variation(style).item(), rel=1e-5)
    assert tv([style]) / tv([smooth]) == pytest.approx(total_variation(smooth).item() / total_variation(style).item(),
                                                      rel=1e-5)
    blended = 0.25 * total_variation(style).item() + 0.75 * total_variation(smooth).item()
    assert tv([style, smooth], style_blend=(1.0, 3.0)) == pytest.approx(
        0.2 * total_variation(image).item() / blended, rel=1e-5)
    assert tv([torch.full_like(style, 0.5)]) == pytest.approx(0.2 * total_variation(image).item() / TV_FLOOR, rel=1e-5)
    assert tv([style], tv_relative_to="none") == pytest.approx(0.2 * total_variation(image).item(), rel=1e-5)


def test_layout_term_holds_the_photo_in_the_paintings_palette(tiny_backbone: Backbone) -> None:
    """Zero at the palette start (the photo recoloured to the painting), positive at the photo itself."""
    content, style = _images()
    objective = Objective(tiny_backbone, content, [style], StyleConfig(layout_weight=1.0))
    assert objective(initial_image(content, [style], "palette", 0))["layout"].item() == pytest.approx(0, abs=1e-6)
    assert objective(content)["layout"].item() > 0.01


@pytest.mark.parametrize("optimizer", ["lbfgs", "adam"])
def test_total_loss_falls_and_pixels_stay_in_range(tiny_backbone: Backbone, optimizer: str) -> None:
    # An absolute TV weight pinned: on these noise images Adam at this rate first overshoots a lighter term.
    result, seen = _run(tiny_backbone, optimizer=optimizer, learning_rate=0.05, tv_weight=5.0, tv_relative_to="none")
    assert [p.step for p in seen] == list(range(1, 16))
    assert seen[-1].losses["total"] < 0.5 * seen[0].losses["total"]
    assert all(0.0 <= p.preview().min() and p.preview().max() <= 1.0 for p in seen)
    assert result.shape == (1, 3, 48, 64)


def test_style_loss_falls_tenfold_from_the_content(tiny_backbone: Backbone) -> None:
    """On random weights the style term needs more weight than the defaults tuned for real VGGs."""
    _, seen = _run(tiny_backbone, iterations=60, style_weight=1e4)
    assert seen[-1].losses["style"] < seen[0].losses["style"] / 10


def test_content_start_is_the_content() -> None:
    content, style = _images()
    assert torch.equal(initial_image(content, [style], "content", seed=3), content)


def test_noise_start_is_seeded_faint_noise_around_the_contents_mean_colour() -> None:
    content, style = _images()
    start = initial_image(content, [style], "noise", seed=3)
    assert start.shape == content.shape
    assert torch.equal(start, initial_image(content, [style], "noise", seed=3))
    assert not torch.equal(start, initial_image(content, [style], "noise", seed=4))
    mean = content.mean(dim=(2, 3), keepdim=True)
    assert torch.allclose(start.mean(dim=(2, 3), keepdim=True), mean, atol=0.01)
    assert float((start - mean).std()) == pytest.approx(NOISE_STD, rel=0.05)
    assert abs(float(torch.corrcoef(torch.stack([start.flatten(), content.flatten()]))[0, 1])) < 0.05


def test_palette_start_is_the_content_in_the_styles_colours() -> None:
    content, style = _images()
    start = initial_image(content, [style], "palette", seed=0)
    assert start.shape == content.shape
    # The dark style's mean colour (about 0.25), up to the clipping of the recoloured pixels at 0; the
    # content's is about 0.5.
    assert torch.allclose(start.mean(dim=(2, 3)), style.mean(dim=(2, 3)), atol=0.05)
    assert float(torch.corrcoef(torch.stack([start.mean(1).flatten(), content.mean(1).flatten()]))[0, 1]) > 0.9


def test_style_start_is_the_style_resized_to_the_content() -> None:
    content, _ = _images()
    flat = torch.tensor([0.2, 0.5, 0.8]).view(1, 3, 1, 1).expand(1, 3, 30, 30)
    assert torch.allclose(initial_image(content, [flat], "style", seed=0), flat[..., :1, :1].expand_as(content))
    halves = torch.cat([torch.zeros(1, 3, 40, 20), torch.ones(1, 3, 40, 20)], dim=-1)  # dark left, light right
    start = initial_image(content, [halves], "style", seed=0)
    assert start.shape == content.shape
    assert float(start[..., :28].mean()) < 0.05 and float(start[..., 36:].mean()) > 0.95


def test_same_seed_same_result_other_seed_other_result(tiny_backbone: Backbone) -> None:
    a, _ = _run(tiny_backbone, init="noise", seed=1, iterations=5)
    b, _ = _run(tiny_backbone, init="noise", seed=1, iterations=5)
    c, _ = _run(tiny_backbone, init="noise", seed=2, iterations=5)
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_zero_style_weight_keeps_the_content(tiny_backbone: Backbone) -> None:
    content, _ = _images()
    result, _ = _run(tiny_backbone, style_weight=0.0, tv_weight=0.0, layout_weight=0.0, iterations=3)
    assert torch.allclose(result, content)


def test_unknown_layer_names_the_option(tiny_backbone: Backbone) -> None:
    content, style = _images()
    with pytest.raises(BrushworkError, match="^content_layers: unknown layer 'relu9_9'"):
        Objective(tiny_backbone, content, [style], StyleConfig(content_layers=("relu9_9",)))


def test_converged_compares_with_the_loss_patience_steps_ago() -> None:
    flat = [10.0] * 5 + [1.0] * (PATIENCE + 1)
    assert converged(flat, 1e-3)
    assert not converged(flat, 0.0), "tolerance 0 never stops"
    falling = [100.0 * 0.9**k for k in range(PATIENCE + 5)]
    assert not converged(falling, 1e-3)
    assert not converged([1.0] * PATIENCE, 1e-3), "too short to judge"


def test_early_stopping_ends_a_converged_run(tiny_backbone: Backbone) -> None:
    _, stopped = _run(tiny_backbone, iterations=400, tolerance=0.05)
    assert PATIENCE < len(stopped) < 400
    _, full = _run(tiny_backbone, iterations=60, tolerance=0.0)
    assert len(full) == 60


def test_bfloat16_objective_agrees_with_float32(tiny_backbone: Backbone) -> None:
    content, style = _images()
    image = torch.rand(content.shape, generator=torch.Generator().manual_seed(5))
    terms = {p: Objective(tiny_backbone, content, [style], StyleConfig(precision=p))(image)
             for p in ("float32", "bfloat16")}
    for name in ("content", "style", "total"):
        assert float(terms["bfloat16"][name]) == pytest.approx(float(terms["float32"][name]), rel=0.05)
    assert all(t.dtype == torch.float32 for t in terms["bfloat16"].values())


class _Bowl:
    """A smooth objective, ½|x - 0.3|², whose evaluations ``bad`` (counted from 1) are pushed up by
    ``jump``: what an overshooting L-BFGS step looks like to the loop."""

    def __init__(self, bad: range, jump: float) -> None:
        self.bad, self.jump, self.calls, self.seen = bad, jump, 0, []

    def __call__(self, image: torch.Tensor) -> dict[str, torch.Tensor]:
        self.calls += 1
        total = 0.5 * (image - 0.3).pow(2).sum()
        if self.calls in self.bad:
            total = total + self.jump * total.detach()
        self.seen.append(total.item())
        return {"total": total}


def test_a_spike_is_not_taken_for_convergence() -> None:
    """The loss 25 steps before a spike is below the spike: the old rule read that as convergence."""
    bowl = _Bowl(range(40, 41), jump=1e6)
    start = torch.rand(1, 3, 8, 8, generator=torch.Generator().manual_seed(0))
    seen: list[ProgressEvent] = []
    config = StyleConfig(optimizer="adam", learning_rate=0.002)  # slow and steady: no convergence
    optimise(bowl, start, config, [seen.append], iterations=80, tolerance=1e-3)
    assert bowl.seen[39] > 100 * bowl.seen[38], "the spike happened"
    assert len(seen) == 80


def test_a_diverging_run_goes_back_to_its_best_iterate() -> None:
    bowl = _Bowl(range(20, 20 + SPIKE_STEPS), jump=10.0)  # evaluations 20-24 far above the best (19th)
    start = torch.rand(1, 3, 8, 8, generator=torch.Generator().manual_seed(0))
    config = StyleConfig(optimizer="adam", learning_rate=0.002)
    images: list[torch.Tensor] = []
    before = start.clone()
    result = optimise(bowl, start, config, [lambda p: images.append(p.preview())], iterations=40)
    step_of_the_best = 18  # evaluation k sees the image after step k-1; images[i] is after step i+1
    assert torch.equal(images[19 + SPIKE_STEPS - 1], images[step_of_the_best - 1]), "back to the best"
    assert not torch.equal(images[19 + SPIKE_STEPS - 2], images[step_of_the_best - 1]), "not before"
    assert float(0.5 * (result - 0.3).pow(2).sum()) == pytest.approx(min(bowl.seen), rel=1e-6)
    assert torch.equal(start, before)


def test_the_result_is_the_best_iterate_evaluated(tiny_backbone: Backbone) -> None:
    content, style = _images()
    config = StyleConfig(iterations=30)
    objective = Objective(tiny_backbone, content, [style], config)
    seen: list[ProgressEvent] = []
    result = optimise(objective, content, config, [seen.append])
    with torch.no_grad():
        final = float(objective(result)["total"])
    assert final <= min(p.losses["total"] for p in seen) * (1 + 1e-5)
