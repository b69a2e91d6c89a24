"""The textbook Gatys loop of issue 15, as the issue describes it, for side-by-side comparisons.

VGG-16 from the same wheel (brushwork's ``vgg16-hed``) with average pooling, no FC layers; the image
optimised directly in the Caffe space (BGR on a 0-255 scale minus the mean pixel, no clamping);
content: the mean squared error of ``relu4_2``; style: the mean squared error of Gram matrices
F Fᵀ / (H·W) at ``relu1_1`` … ``relu5_1``, each weighted 1e2; total variation: 1e-3 times the sum of
squared neighbour differences; ``torch.optim.LBFGS`` (no line search) for 300 evaluations from the
content image, one scale, float32. None of brushwork's normalisations, schedules or safeguards.

The issue calls the Gram "unnormalised" without saying more; of the three readings, only this one
(divided by the positions, not by the channels) paints what the issue saw, "the sky in the painting's
saturated blues and yellows with visible swirls" (2026-12-01, 256 px): the raw F Fᵀ makes L-BFGS's
first step overflow into NaN, and F Fᵀ / (C·H·W), the classic Torch implementation's, is so weak
against the TV term with this backbone (its deep activations are small) that the image blurs.

    python bench/textbook.py CONTENT STYLE OUT.png [--size 512] [--evaluations 300]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from pathlib import Path

import torch

from brushwork.nets.vgg import CAFFE_MEAN_BGR, PREPROCESSORS, Backbone
from brushwork.nets.weights import load_backbone

STYLE_LAYERS = ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")
CONTENT_LAYER = "relu4_2"
STYLE_WEIGHT, CONTENT_WEIGHT, TV_WEIGHT = 1e2, 1.0, 1e-3


def _gram(f: torch.Tensor) -> torch.Tensor:
    """[1,C,H,W] -> [C,C], divided by the H·W positions."""
    _, c, h, w = f.shape
    flat = f.reshape(c, h * w)
    return flat @ flat.T / (h * w)


def _to_rgb(caffe: torch.Tensor) -> torch.Tensor:
    return ((caffe + caffe.new_tensor(CAFFE_MEAN_BGR).view(1, 3, 1, 1)) / 255.0).flip(1).clamp(0, 1)


def textbook(backbone: Backbone, content: torch.Tensor, style: torch.Tensor, evaluations: int = 300,
             on_evaluation: Callable[[int, float], None] | None = None) -> torch.Tensor:
    """Content and style RGB [1,3,H,W] in [0,1] (the output has the content's size) -> RGB in [0,1].

    ``backbone`` must be a Caffe-convention trunk (average pooling, as the issue's loop).
    """
    trunk = backbone.trunk
    layers = (*STYLE_LAYERS, CONTENT_LAYER)
    with torch.no_grad():
        target = trunk(PREPROCESSORS["caffe"](content), (CONTENT_LAYER,))[CONTENT_LAYER]
        grams = {name: _gram(f) for name, f in trunk(PREPROCESSORS["caffe"](style), STYLE_LAYERS).items()}
    image = PREPROCESSORS["caffe"](content).clone().requires_grad_(True)
    optimizer = torch.optim.LBFGS([image], max_iter=evaluations, max_eval=evaluations,
                                  tolerance_grad=-1.0, tolerance_change=-1.0, history_size=100)
    count = 0

    def closure() -> torch.Tensor:
        nonlocal count
        optimizer.zero_grad()
        features = trunk(image, layers)
        loss = CONTENT_WEIGHT * (features[CONTENT_LAYER] - target).pow(2).mean()
        loss = loss + sum(STYLE_WEIGHT * (_gram(features[n]) - grams[n]).pow(2).mean() for n in STYLE_LAYERS)
        loss = loss + TV_WEIGHT * ((image[..., 1:, :] - image[..., :-1, :]).pow(2).sum()
                                   + (image[..., :, 1:] - image[..., :, :-1]).pow(2).sum())
        loss.backward()
        count += 1
        if on_evaluation is not None:
            on_evaluation(count, loss.item())
        return loss

    optimizer.step(closure)
    return _to_rgb(image.detach())


def main() -> None:
    from brushwork.image import load_image, resize_long_side, save_image, to_pil

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("content", type=Path)
    parser.add_argument("style", type=Path)
    parser.add_argument("output", type=Path)
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--evaluations", type=int, default=300)
    args = parser.parse_args()
    backbone = load_backbone("vgg16-hed", pooling="avg")
    content = resize_long_side(load_image(args.content, 10**8)[0], args.size)
    style = resize_long_side(load_image(args.style, 10**8)[0], args.size)
    began = time.perf_counter()

    def report(step: int, loss: float) -> None:
        if step % 50 == 0:
            print(f"{step} {time.perf_counter() - began:.0f}s loss {loss:.4g}", flush=True)

    image = textbook(backbone, content, style, args.evaluations, report)
    seconds = time.perf_counter() - began
    save_image(to_pil(image), args.output, {"seconds": f"{seconds:.1f}", "method": "textbook"})
    print(f"{args.output}: {seconds:.0f} s")


if __name__ == "__main__":
    main()
