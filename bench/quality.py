"""The command of the independent quality score (``brushwork.evaluation``, where the scorer lives):
``python bench/quality.py DIR`` scores every ``[LABEL_]CONTENT_STYLE*.png`` in DIR (names as in
``../shared/images/reference``) against the shared photos and paintings and writes a JSON report.

The judge and both scores are described in ``brushwork.evaluation``; this module re-exports them for
the other bench scripts.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import SHARED, machine, write_report  # noqa: E402

from brushwork.evaluation import (  # noqa: E402,F401  (re-exported for the other bench scripts and tests)
    CONTENT_TAP, SIZE, SOURCE, STYLE_TAPS, EfficientNetLite0, Extractor, Moments, Scorer, judge, moments, same_pad,
    score, statistic_error)
from brushwork.image import load_image  # noqa: E402

#: Short style names used in ``../shared/images/reference`` file names, and the paintings they mean.
STYLE_ALIASES = {"starry": "starry_night", "scream": "the_scream", "escher": "escher_sphere"}


def _stems(folder: Path) -> dict[str, Path]:
    return {path.stem: path for path in sorted(folder.glob("*")) if path.suffix.lower() in (".jpg", ".png")}


def pair_of(name: str, shared: Path = SHARED) -> tuple[Path, Path, str]:
    """(photo, painting, variant) of an output named ``[LABEL_]CONTENT_STYLE[_VARIANT]`` (no extension).

    CONTENT is a photo in ``shared/content``; STYLE a painting in ``shared/style``, by file stem or
    by its short name in STYLE_ALIASES. The variant is LABEL and VARIANT joined by "_", "" for a plain
    pair: ``tubingen_starry_original_colors`` -> tubingen.jpg, starry_night.jpg, "original_colors";
    ``textbook_tubingen_starry`` -> ..., "textbook". Raises ValueError for a name that names no pair.
    """
    photos, paintings = _stems(shared / "content"), _stems(shared / "style")
    names = {**{stem: stem for stem in paintings}, **STYLE_ALIASES}
    for start in [0] + [i + 1 for i, char in enumerate(name) if char == "_"]:
        label, rest = name[:max(start - 1, 0)], name[start:]
        for content in sorted(photos, key=len, reverse=True):
            if not rest.startswith(content + "_"):
                continue
            after = rest.removeprefix(content + "_")
            for style in sorted(names, key=len, reverse=True):
                if after == style or after.startswith(style + "_"):
                    variant = "_".join(part for part in (label, after[len(style) + 1:]) if part)
                    return photos[content], paintings[names[style]], variant
    raise ValueError(f"{name}: not [LABEL_]CONTENT_STYLE with CONTENT in {sorted(photos)} "
                     f"and STYLE in {sorted(names)}")


def plain_pairs(shared: Path = SHARED) -> list[str]:
    """Names of the references that are a single content x style pair (no variant suffix)."""
    names = []
    for path in sorted((shared / "reference").glob("*.png")):
        try:
            if not pair_of(path.stem, shared)[2]:
                names.append(path.stem)
        except ValueError:
            continue
    return names


def load(path: Path) -> torch.Tensor:
    """An image file as RGB [1,3,H,W] in [0,1] (greyscale replicated, alpha dropped)."""
    return load_image(path, 10**9)[0]


def score_folder(folder: Path, shared: Path = SHARED) -> dict[str, dict[str, object]]:
    """Scores of every ``[LABEL_]CONTENT_STYLE*.png`` (or .jpg) in ``folder``, by file stem, with the pair
    each was scored against; names that name no pair are skipped with a message."""
    results: dict[str, dict[str, object]] = {}
    scorers: dict[tuple[Path, Path], Scorer] = {}
    for path in sorted(p for p in folder.iterdir() if p.suffix.lower() in (".png", ".jpg")):
        try:
            photo, painting, variant = pair_of(path.stem, shared)
        except ValueError as exc:
            print(f"skipped {exc}", file=sys.stderr)
            continue
        if (photo, painting) not in scorers:
            scorers[photo, painting] = Scorer(load(photo), load(painting))
        scores = scorers[photo, painting](load(path))
        results[path.stem] = {"content_image": photo.name, "style_image": painting.name, "variant": variant, **scores}
        print(f"{path.stem:40s} style {scores['style']:.3f}  content {scores['content']:.3f}")
    return results


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folder", type=Path, help="outputs named [LABEL_]CONTENT_STYLE*.png")
    parser.add_argument("--shared", type=Path, default=SHARED, help="folder with content/ and style/")
    parser.add_argument("--out", type=Path, default=None,
                        help="report path (default bench/results/quality-FOLDER-cpu.json)")
    args = parser.parse_args(argv)
    results = score_folder(args.folder, args.shared)
    report = {"machine": machine("cpu"), "judge": SOURCE.description, "weights": SOURCE.origin(),
              "size": SIZE, "style_taps": STYLE_TAPS, "content_tap": CONTENT_TAP, "folder": str(args.folder),
              "scores": results}
    write_report(f"quality-{args.folder.resolve().name}", report, path=args.out)


if __name__ == "__main__":
    main()
