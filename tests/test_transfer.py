"""The optimisation loop on a tiny random VGG: losses fall, pixels stay in range, seeds reproduce."""

from __future__ import annotations

import pytest
import torch

from brushwork.config import StyleConfig
from brushwork.errors import BrushworkError
from brushwork.nets.vgg import Backbone
from brushwork.transfer import Objective, Progress, initial_image, optimise, resolve_device


def _images(seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    content = torch.rand(1, 3, 48, 64, generator=g)
    style = torch.rand(1, 3, 40, 40, generator=g) ** 3  # darker texture, another size
    return content, style


def _run(backbone: Backbone, **options) -> tuple[torch.Tensor, list[Progress]]:
    config = StyleConfig(**{"iterations": 15, **options})
    content, style = _images()
    seen: list[Progress] = []
    start = initial_image(content, style, config.init, config.seed)
    result = optimise(Objective(backbone, content, [style], config), start, config, [seen.append])
    return result, seen


def test_objective_reports_each_term_by_name(tiny_backbone: Backbone) -> None:
    content, style = _images()
    terms = Objective(tiny_backbone, content, [style], StyleConfig())(content)
    assert set(terms) == {"content", "style", "tv", "total"}
    assert terms["content"].item() == 0.0 and terms["style"].item() > 0
    assert terms["total"].item() == pytest.approx(sum(terms[k].item() for k in ("content", "style", "tv")))


@pytest.mark.parametrize("optimizer", ["lbfgs", "adam"])
def test_total_loss_falls_and_pixels_stay_in_range(tiny_backbone: Backbone, optimizer: str) -> None:
    result, seen = _run(tiny_backbone, optimizer=optimizer, learning_rate=0.05)
    assert [p.iteration for p in seen] == list(range(1, 16))
    assert seen[-1].losses["total"] < 0.5 * seen[0].losses["total"]
    assert all(0.0 <= p.image.min() and p.image.max() <= 1.0 for p in seen)
    assert result.shape == (1, 3, 48, 64)


def test_style_loss_falls_tenfold_from_the_content(tiny_backbone: Backbone) -> None:
    """On random weights the style term needs more weight than the defaults tuned for real VGGs."""
    _, seen = _run(tiny_backbone, iterations=60, style_weight=1e4)
    assert seen[-1].losses["style"] < seen[0].losses["style"] / 10


@pytest.mark.parametrize("init", ["content", "noise", "style"])
def test_initial_images(init: str) -> None:
    content, style = _images()
    start = initial_image(content, style, init, seed=3)
    assert start.shape == content.shape and 0 <= start.min() and start.max() <= 1
    if init == "content":
        assert torch.equal(start, content)


def test_same_seed_same_result_other_seed_other_result(tiny_backbone: Backbone) -> None:
    a, _ = _run(tiny_backbone, init="noise", seed=1, iterations=5)
    b, _ = _run(tiny_backbone, init="noise", seed=1, iterations=5)
    c, _ = _run(tiny_backbone, init="noise", seed=2, iterations=5)
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_zero_style_weight_keeps_the_content(tiny_backbone: Backbone) -> None:
    content, _ = _images()
    result, _ = _run(tiny_backbone, style_weight=0.0, tv_weight=0.0, iterations=3)
    assert torch.allclose(result, content)


def test_unknown_layer_names_the_option(tiny_backbone: Backbone) -> None:
    content, style = _images()
    with pytest.raises(BrushworkError, match="--content-layers: unknown layer 'relu9_9'"):
        Objective(tiny_backbone, content, [style], StyleConfig(content_layers=("relu9_9",)))


def test_devices() -> None:
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device("auto").type in {"cpu", "cuda", "mps"}
    with pytest.raises(BrushworkError, match="--device gpu9: not a device name"):
        resolve_device("gpu9")
    if not torch.cuda.is_available():
        with pytest.raises(BrushworkError, match="--device cuda: not available"):
            resolve_device("cuda")
