"""The real default weights (vgg19-caffe-q8) on the real test images of ../shared, at small sizes."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from brushwork.api import backbone_for
from brushwork.config import StyleConfig
from brushwork.image import load_image, resize_long_side
from brushwork.optim import optimise
from brushwork.transfer import Objective, initial_image

pytestmark = [pytest.mark.weights, pytest.mark.slow]


@pytest.fixture(scope="module")
def backbone():
    return backbone_for(StyleConfig(), torch.device("cpu"))


def test_style_falls_tenfold_and_content_stays_closer_than_noise(shared_images: Path, backbone) -> None:
    config = StyleConfig(size=128, iterations=80)
    content = resize_long_side(load_image(shared_images / "content" / "tubingen.jpg", config.max_pixels)[0], 128)
    style = resize_long_side(load_image(shared_images / "style" / "starry_night.jpg", config.max_pixels)[0], 128)
    objective = Objective(backbone, content, [style], config)
    with torch.no_grad():
        at_start = objective(content)
        noise = objective(initial_image(content, [style], "noise", seed=0))
        result = objective(optimise(objective, content, config))
    assert result["style"] < at_start["style"] / 10
    assert result["content"] < noise["content"]
    assert result["total"] < at_start["total"]


def test_greyscale_style_and_cli_defaults_on_real_weights(shared_images: Path, backbone) -> None:
    """escher_sphere.jpg is a mode "L" file: it must work as a style like any colour image."""
    import brushwork

    result = brushwork.stylize(shared_images / "content" / "hoovertowernight.jpg",
                               shared_images / "style" / "escher_sphere.jpg", size=64, iterations=5,
                               backbone=backbone)
    assert result.size == (64, 34) and result.mode == "RGB"
