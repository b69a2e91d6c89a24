"""Calibrate bench/quality.py: do images that a person would rank rank the same way by its scores?

For every plain ``CONTENT_STYLE.png`` in ``../shared/images/reference`` this scores, at 512 px:

* ``photo``: the content photo itself;
* ``colour``: the photo recoloured to the painting's RGB mean and covariance (``match_colour``);
* ``wash``: a painting-coloured blur of the photo (Gaussian, sigma 1/64 of the long side, then recoloured);
* ``random_network``: brushwork's stylisation with a randomly initialised VGG-16 at 256 px, upsampled
  (only for the pairs in ``--random-network``; slow, so made once and kept in a cache folder);
* ``style``: the painting resized to the photo's shape;
* ``canonical``: the reference output of jcjohnson/neural-style.

The ranks a person would give, checked per pair: on style, the canonical output beats the photo, the
colour transfer and each wash, and the painting beats the canonical output; on content, the photo beats
the canonical output and the canonical output beats the painting. Margins are the score gaps (positive
when the rank holds). Writes bench/results/quality-calibration-cpu.json and docs/quality-calibration.md;
exits 1 if a rank fails.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import ROOT, SHARED, machine, write_report  # noqa: E402
from quality import CONTENT_TAP, SIZE, SOURCE, STYLE_TAPS, Scorer, load, pair_of, plain_pairs  # noqa: E402

from brushwork.api import stylize  # noqa: E402
from brushwork.colour import match_colour  # noqa: E402
from brushwork.image import resize, resize_long_side  # noqa: E402
from brushwork.nets.vgg import Backbone, VGGTrunk  # noqa: E402
from brushwork.nets.weights import cache_dir  # noqa: E402

CASES = ("photo", "colour", "wash", "random_network", "style", "canonical")
#: (better, worse, axis): the ranks a person would give.
RANKS = (("canonical", "photo", "style"), ("canonical", "colour", "style"), ("canonical", "wash", "style"),
         ("canonical", "random_network", "style"), ("style", "canonical", "style"),
         ("photo", "canonical", "content"), ("canonical", "style", "content"))


def gaussian_blur(image: torch.Tensor, sigma: float) -> torch.Tensor:
    """``image`` [1,3,H,W] blurred by a separable Gaussian of ``sigma`` px, edges reflected."""
    radius = int(3 * sigma)
    taps = torch.exp(-torch.arange(-radius, radius + 1, dtype=image.dtype) ** 2 / (2 * sigma**2))
    kernel = (taps / taps.sum()).repeat(3, 1, 1, 1)
    x = F.pad(image, (radius, radius, radius, radius), mode="reflect")
    x = F.conv2d(x, kernel.view(3, 1, 1, -1), groups=3)
    return F.conv2d(x, kernel.view(3, 1, -1, 1), groups=3)


def random_network_result(photo: Path, painting: Path, path: Path) -> torch.Tensor:
    """brushwork's default stylisation at 256 px with a seeded random VGG-16, made once and kept at ``path``."""
    if not path.is_file():
        torch.manual_seed(0)
        backbone = Backbone(VGGTrunk("vgg16", "max"), "caffe", name="random")
        path.parent.mkdir(parents=True, exist_ok=True)
        stylize(photo, painting, backbone=backbone, size=256, iterations=100).save(path)
        print(f"made {path}")
    return load(path)


def cases(name: str, random_dir: Path | None, shared: Path) -> tuple[Scorer, dict[str, torch.Tensor]]:
    """The scorer of pair ``name`` and its calibration images (all [1,3,H,W] in [0,1] at the photo's 512 px shape)."""
    photo_path, painting_path, _ = pair_of(name, shared)
    photo, painting = resize_long_side(load(photo_path), SIZE), resize_long_side(load(painting_path), SIZE)
    shape = photo.shape[-2:]
    images = {"photo": photo, "colour": match_colour(photo, painting),
              "wash": match_colour(gaussian_blur(photo, SIZE / 64), painting)}
    if random_dir is not None:
        images["random_network"] = random_network_result(photo_path, painting_path, random_dir / f"{name}.png")
    images |= {"style": resize(painting, *shape), "canonical": load(shared / "reference" / f"{name}.png")}
    return Scorer(photo, painting), {case: resize(image, *shape) for case, image in images.items()}


def margins(scores: dict[str, dict[str, float]]) -> dict[str, float]:
    """``worse - better`` for each rank in RANKS whose two cases were scored (positive: the rank holds)."""
    return {f"{axis}: {better} < {worse}": scores[worse][axis] - scores[better][axis]
            for better, worse, axis in RANKS if better in scores and worse in scores}


def table(results: dict[str, dict[str, dict[str, float]]]) -> str:
    """A Markdown table of style / content per pair and case."""
    lines = ["| pair | " + " | ".join(CASES) + " |", "|---" * (len(CASES) + 1) + "|"]
    for name, scores in results.items():
        cells = [f"{scores[c]['style']:.3f} / {scores[c]['content']:.3f}" if c in scores else "" for c in CASES]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--shared", type=Path, default=SHARED, help="folder with content/, style/ and reference/")
    parser.add_argument("--random-network", nargs="*", default=["tubingen_starry", "golden_gate_scream"],
                        help="pairs that get the (slow) random-network case")
    parser.add_argument("--random-dir", type=Path, default=cache_dir().parent / "quality-random-network",
                        help="where random-network results are kept")
    parser.add_argument("--markdown", type=Path, default=ROOT / "docs" / "quality-calibration.md")
    args = parser.parse_args(argv)
    results, all_margins = {}, {}
    for name in plain_pairs(args.shared):
        scorer, images = cases(name, args.random_dir if name in args.random_network else None, args.shared)
        results[name] = {case: scorer(image) for case, image in images.items()}
        all_margins[name] = margins(results[name])
        print(name, {case: f"{s['style']:.3f}/{s['content']:.3f}" for case, s in results[name].items()})
    failures = [f"{name} {rank} ({gap:+.3f})" for name, gaps in all_margins.items() for rank, gap in gaps.items()
                if gap <= 0]
    smallest = {rank: min(gaps[rank] for gaps in all_margins.values() if rank in gaps)
                for rank in dict.fromkeys(r for gaps in all_margins.values() for r in gaps)}
    write_report("quality-calibration", {
        "machine": machine("cpu"), "judge": SOURCE.description, "weights": SOURCE.origin(), "size": SIZE,
        "style_taps": STYLE_TAPS, "content_tap": CONTENT_TAP, "scores": results, "margins": all_margins,
        "smallest_margins": smallest, "failures": failures})
    args.markdown.parent.mkdir(parents=True, exist_ok=True)
    args.markdown.write_text(
        "# Calibration of bench/quality.py\n\nStyle / content scores (lower is better) made by "
        "`bench/quality_calibration.py`; cases as in its docstring.\n\n" + table(results) +
        "\n\nSmallest margin of each rank over the pairs (positive: the rank holds in every pair):\n\n" +
        "\n".join(f"- {rank}: {gap:+.3f}" for rank, gap in smallest.items()) + "\n")
    print("\n".join(f"FAILED {f}" for f in failures) or "every rank holds")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
