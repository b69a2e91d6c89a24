"""Which style statistics an output matches, at its size and halved: relative Gram errors per layer.

Per style layer, ||G - A||² / ||A||² of the output against the painting, in the optimisation's own
backbone, at the output's size and with both halved. A diagnosis, not a judge (the optimisation minimises the first
row itself; bench/quality.py is the independent score).

``python bench/octave_errors.py IMAGE... [--out FILE]`` with images named ``[LABEL_]CONTENT_STYLE.png`` (as
for bench/quality.py) writes, per image, the errors at relu1_1 ... relu5_1 at 512 px (octave 0) and
halved (octave 1).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import machine, write_report  # noqa: E402
from quality import load, pair_of  # noqa: E402

from brushwork.config import StyleConfig  # noqa: E402
from brushwork.image import halve, resize_long_side  # noqa: E402
from brushwork.losses import gram_matrix  # noqa: E402
from brushwork.nets.vgg import Backbone  # noqa: E402
from brushwork.nets.weights import load_backbone  # noqa: E402

SIZE = 512


def relative_error(output: torch.Tensor, target: torch.Tensor) -> float:
    """||G - A||² / ||A||² of the Gram matrices of features [1,N,H,W] and [1,N,h,w]: >= 0, 0 when equal."""
    gram, reference = gram_matrix(output), gram_matrix(target)
    return float((gram - reference).pow(2).sum() / reference.pow(2).sum())


@torch.no_grad()
def octave_errors(net: Backbone, layers: Sequence[str], image: torch.Tensor, painting: torch.Tensor,
                  octaves: int = 2) -> list[dict[str, float]]:
    """Per octave k (output and painting halved k times), {layer: relative Gram error}; ``image`` [1,3,H,W]
    is compared at SIZE px on its long side, the painting likewise in its own aspect."""
    image, painting = resize_long_side(image, SIZE), resize_long_side(painting, SIZE)
    errors = []
    for k in range(octaves):
        output, target = net.features(halve(image, k), layers), net.features(halve(painting, k), layers)
        errors.append({layer: relative_error(output[layer], target[layer]) for layer in layers})
    return errors


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("images", type=Path, nargs="+")
    parser.add_argument("--out", type=Path, default=None, help="report path (default bench/results/octave-errors-cpu.json)")
    args = parser.parse_args(argv)
    config = StyleConfig()  # the default backbone and style layers
    net = load_backbone(config.weights, pooling=config.pooling)
    report = {}
    for path in args.images:
        errors = octave_errors(net, config.style_layers, load(path), load(pair_of(path.stem)[1]))
        report[f"{path.parent.name}/{path.name}"] = [{k: round(v, 4) for k, v in octave.items()} for octave in errors]
    write_report("octave-errors", {"benchmark": __doc__.splitlines()[0], "machine": machine("cpu"),
                                   "errors_by_image": report}, path=args.out)


if __name__ == "__main__":
    main()
