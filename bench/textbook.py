"""The textbook Gatys loop of issue 15, the quality bar that brushwork's default must beat.

What a forty-line tutorial does: VGG-16 (the same HED weights as brushwork) with average pooling, the
image optimised in the Caffe 0-255 space, Gram matrices F Fᵀ / (N·M) compared by mean squared error
with style weight 1e2 against the mean squared error of relu4_2 (content weight 1), a total-variation
weight of 1e-3 on the mean squared neighbour difference (0-255; on their sum, the first version of
this script, the smoothing swamped everything and gave a blurred wash), and L-BFGS (no line search, one scale,
float32) for 300 evaluations from the content image. It shares no loss code with brushwork, so a
change to brushwork's objective cannot move this bar.

    python bench/textbook.py CONTENT STYLE -o OUT.png [--size 512] [--evaluations 300]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch

STYLE_LAYERS = ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")
CONTENT_LAYER = "relu4_2"
CAFFE_MEAN_BGR = (103.939, 116.779, 123.68)


def _gram(features: torch.Tensor) -> torch.Tensor:
    """[1,N,H,W] -> [N,N], F Fᵀ / (N·M) as in the tutorials."""
    _, n, h, w = features.shape
    flat = features.reshape(n, h * w)
    return flat @ flat.T / (n * h * w)


def textbook(content: torch.Tensor, style: torch.Tensor, size: int = 512, evaluations: int = 300,
             style_weight: float = 1e2, tv_weight: float = 1e-3) -> torch.Tensor:
    """Paint ``content`` after ``style`` (RGB [1,3,H,W] in [0,1]); returns [1,3,h,w] in [0,1], long side ``size``."""
    from brushwork.image import resize_long_side
    from brushwork.nets.weights import load_backbone

    trunk = load_backbone("vgg16-hed", pooling="avg").trunk.to(memory_format=torch.contiguous_format)
    mean = torch.tensor(CAFFE_MEAN_BGR).view(1, 3, 1, 1)

    def features(pixels: torch.Tensor) -> dict[str, torch.Tensor]:  # pixels: RGB, 0-255
        return trunk(pixels.flip(1) - mean, (*STYLE_LAYERS, CONTENT_LAYER))

    content = resize_long_side(content, size) * 255
    style = resize_long_side(style, size) * 255
    with torch.no_grad():
        target = features(content)[CONTENT_LAYER]
        grams = {layer: _gram(f) for layer, f in features(style).items() if layer in STYLE_LAYERS}
    image = content.clone().requires_grad_(True)
    optimizer = torch.optim.LBFGS([image], lr=1.0, max_iter=evaluations, history_size=100,
                                  tolerance_grad=-1.0, tolerance_change=-1.0)

    def closure() -> torch.Tensor:
        optimizer.zero_grad()
        out = features(image)
        loss = torch.nn.functional.mse_loss(out[CONTENT_LAYER], target)
        loss = loss + style_weight * sum(torch.nn.functional.mse_loss(_gram(out[layer]), grams[layer])
                                         for layer in STYLE_LAYERS)
        loss = loss + tv_weight * ((image[..., 1:, :] - image[..., :-1, :]).pow(2).mean()
                                   + (image[..., :, 1:] - image[..., :, :-1]).pow(2).mean())
        loss.backward()
        return loss

    optimizer.step(closure)
    return (image.detach() / 255).clamp(0, 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("content", type=Path)
    parser.add_argument("style", type=Path)
    parser.add_argument("-o", "--output", type=Path, required=True)
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--evaluations", type=int, default=300)
    args = parser.parse_args()
    from brushwork.image import load_image, save_image, to_pil

    began = time.perf_counter()
    result = textbook(load_image(args.content, 10**8)[0], load_image(args.style, 10**8)[0], args.size, args.evaluations)
    save_image(to_pil(result), args.output, {"textbook_seconds": f"{time.perf_counter() - began:.1f}"})
    print(f"wrote {args.output} in {time.perf_counter() - began:.1f} s")


if __name__ == "__main__":
    main()
