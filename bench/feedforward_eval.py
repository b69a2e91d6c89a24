"""Does a trained style network paint in its style? Style loss of its outputs against the unstyled photos.

For each content photo (default ``../shared/images/content``), resized to ``--size`` px on the long
side, the style loss against the style image (the model's style layers, backbone and style size) is
measured for the photo itself and for the network's output. A ratio photo / output of 5 or more is
the bar. How much of the photo the output keeps is measured too: the relative content loss
(losses.py's normalisation) at relu2_2 and relu3_3, the two content layers of Johnson et al.
Each output is searched for blobs (:func:`find_blobs`: a bright or dark patch that neither the photo
nor the painting has), and its share of the painting's dark tones is measured (:func:`dark_share`), and
the network's live share on the photo (:func:`live_shares`; 0: dead).
Each output is also scored by the independent judge (``brushwork.evaluation``, which training never
sees), and with ``--reference DIR`` so is the optimisation's output of the same photo and painting
(``DIR/PHOTO_STYLE.png``; those missing are painted there first by ``brushwork stylize`` with its defaults
at ``--size``): the network's style score should be within 15 % of it and its content score no worse.
Writes JSON (default ``bench/results/feedforward-eval-cpu.json``) and, with ``--outputs DIR``, each
photo beside its stylisation (and the optimisation's, where given), and with ``--sheet FILE`` those rows
stacked into one picture (the README's). The two independent scores trade (an output nearer the photo keeps more
content and less style), so ``--strengths 0.9,0.8,...`` also scores each output and reference blended with its
photo as apply's ``--strength`` does: the curves show which paints more style at the same content, and the
report reads the network's style at the optimisation's content between them (``equal_content``: the strength, the
style score and its ratio to the optimisation's).
The network runs as ``brushwork apply`` runs it by default, at the stroke scale it was trained at (each photo
shrunk to its training photos' size, its painting enlarged back; the scale used is each row's ``stroke_scale``);
``--network-size N`` runs it on each photo at N px instead (``--network-size`` equal to ``--size``: at full size,
as before the seventeenth session): how the judge sees the network's strokes at another scale, without training
again.

    python bench/feedforward_eval.py MODEL [--style ../shared/images/style/the_scream.jpg] [--size 512] [--reference DIR]
                                     [--sheet docs/NAME.jpg] [--strengths 0.9,0.8] [--network-size 320]
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from PIL import Image
from scipy import ndimage

from brushwork.api import stylize
from brushwork.colour import rgb_to_yiq
from brushwork.evaluation import Scorer, judge
from brushwork.feedforward.apply import TorchEngine, paint, trained_stroke_scale
from brushwork.feedforward.config import ApplyConfig, TrainConfig
from brushwork.feedforward.model_file import load_style_network
from brushwork.feedforward.network import TransformerNet
from brushwork.feedforward.trainer import BatchObjective, training_style
from brushwork.image import load_image, resize, resize_long_side, save_image, to_pil
from brushwork.losses import relative_content_loss
from brushwork.nets.weights import load_backbone

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import ROOT, SHARED, machine, stack_images, write_report  # noqa: E402

RATIO_BAR = 5.0
#: The network's independent style score may exceed the optimisation's by this factor at most.
REFERENCE_BAR = 1.15
CONTENT_PROBES = ("relu2_2", "relu3_3")
#: The stacked picture of ``--sheet``: its width in px and the white gap between rows in px (before resizing).
SHEET_WIDTH, SHEET_GAP = 1200, 8
# The model's training settings that the report repeats, so that each result says what it measured.
TRAINING_SETTINGS = ("backbone", "pooling", "crop_size", "batch_size", "learning_rate", "content_weight",
                     "style_weight", "tv_weight", "style_size", "content_layers", "style_layers", "time_limit",
                     "width", "residual_blocks", "normalisation", "residual", "base_blur", "encoder", "warmup_steps",
                     "seed", "photo_size")

#: Blob detector: luminance is averaged over square windows of this fraction of the image's long side, so that
#: brush strokes and fine texture do not count, only patches.
BLOB_WINDOW = 1 / 24
#: How far (luminance, 0 to 1) a patch must lie beyond both the photo there and the painting's extremes.
BLOB_MARGIN = 0.12
#: The least area of a blob, as a fraction of the image.
BLOB_AREA = 0.004
#: Dark tones: the painting's darkest fifth, by luminance quantile.
DARK_QUANTILE = 0.2


@dataclass(frozen=True)
class Blob:
    """A patch of an output outside the luminance the photo has there and the painting has anywhere."""

    kind: str  # "bright" or "dark"
    area: float  # fraction of the image
    excess: float  # the largest luminance beyond the allowed range, 0 to 1
    centre: tuple[float, float]  # (row, column) as fractions of the height and width


def local_luminance(rgb: torch.Tensor, window: int) -> np.ndarray:
    """RGB [1,3,H,W] in [0,1] -> its luminance averaged over ``window`` x ``window`` px, [H,W]."""
    y = rgb_to_yiq(rgb.float())[:, :1]
    pad = window // 2
    blurred = F.avg_pool2d(F.pad(y, (pad, window - 1 - pad, pad, window - 1 - pad), mode="replicate"), window, 1)
    return blurred[0, 0].numpy()


def find_blobs(output: torch.Tensor, photo: torch.Tensor, painting: torch.Tensor) -> list[Blob]:
    """The blobs of ``output`` [1,3,H,W], the stylisation of ``photo`` (any size; resized to the output's) in the
    style of ``painting`` (any shape), all RGB in [0,1].

    A blob is a connected region, at least :data:`BLOB_AREA` of the image, where the output's local luminance
    (:func:`local_luminance`, window :data:`BLOB_WINDOW` of the long side) is more than :data:`BLOB_MARGIN`
    brighter than both the photo's local luminance at the same place and the brightest of the painting's
    local luminance (at the output's long side), or as much darker than both the photo's and the darkest
    of the painting's. A stylisation may move the painting's tones anywhere and keep the photo's, so only
    a patch that neither could explain counts.
    """
    height, width = output.shape[-2:]
    window = max(3, round(max(height, width) * BLOB_WINDOW))
    photo = F.interpolate(photo.float(), size=(height, width), mode="area") if photo.shape[-2:] != (height, width) \
        else photo
    scale = max(height, width) / max(painting.shape[-2:])
    painting = F.interpolate(painting.float(), scale_factor=scale, mode="area") if scale < 1 else painting
    out, here, art = (local_luminance(x, window) for x in (output, photo, painting))
    blobs = []
    for kind, beyond in (("bright", out - np.maximum(here, art.max())), ("dark", np.minimum(here, art.min()) - out)):
        labels, count = ndimage.label(beyond > BLOB_MARGIN)
        for index in range(1, count + 1):
            region = labels == index
            area = float(region.mean())
            if area >= BLOB_AREA:
                rows, cols = np.nonzero(region)
                blobs.append(Blob(kind, round(area, 4), round(float(beyond[region].max()), 3),
                                  (round(float(rows.mean()) / height, 2), round(float(cols.mean()) / width, 2))))
    return blobs


def dark_share(output: torch.Tensor, painting: torch.Tensor) -> float:
    """The fraction of ``output``'s pixels [1,3,H,W] as dark as the painting's darkest :data:`DARK_QUANTILE`
    (RGB in [0,1]); the painting itself scores DARK_QUANTILE."""
    threshold = torch.quantile(rgb_to_yiq(painting.float())[:, 0].flatten(), DARK_QUANTILE)
    return float((rgb_to_yiq(output.float())[:, 0] <= threshold).float().mean())


def independent_summary(rows: list[dict]) -> dict[str, object]:
    """Mean independent scores of the network's outputs and, over the photos that have one, of the
    optimisation's, and whether the network is within :data:`REFERENCE_BAR` on style and no worse on content."""
    def mean(values: list[float]) -> float:
        return round(sum(values) / len(values), 4)

    def scores(of: list[dict], key: str) -> dict[str, float]:
        return {axis: mean([r[key][axis] for r in of]) for axis in ("style", "content")}

    summary: dict[str, object] = dict(scores(rows, "independent"))
    paired = [r for r in rows if "reference" in r]
    if paired:
        ours, theirs = scores(paired, "independent"), scores(paired, "reference")
        summary["against_reference"] = {
            "photos": len(paired), "network": ours, "optimisation": theirs,
            "style_ratio": round(ours["style"] / theirs["style"], 3), "style_bar": REFERENCE_BAR,
            "passes": ours["style"] <= REFERENCE_BAR * theirs["style"] and ours["content"] <= theirs["content"],
            "optimisation_dark_share": mean([r["reference_dark_share"] for r in paired])}
        if "blended" in paired[0]:
            curve = {1.0: ours, **{float(k): scores([r["blended"] for r in paired], k) for k in paired[0]["blended"]}}
            level = style_at_content(curve, theirs["content"])
            summary["against_reference"]["equal_content"] = level and {
                **level, "style_ratio": round(level["style"] / theirs["style"], 3),
                "passes": level["style"] <= REFERENCE_BAR * theirs["style"]}
    blends = {key: {strength: {axis: mean([r[key][strength][axis] for r in rows if key in r])
                               for axis in ("style", "content")} for strength in rows[0][key]}
              for key in ("blended", "reference_blended") if key in rows[0]}
    if blends:
        summary["blended"] = blends
    return {"independent": summary}


def style_at_content(curve: dict[float, dict[str, float]], content: float) -> dict[str, float] | None:
    """The style score of the output blended with its photo (apply's ``--strength``) just enough to keep
    ``content``: linear between the measured strengths of ``curve`` ({strength in [0,1]: {"style", "content"}},
    1.0 the output itself). The output itself where it keeps that much already; None where even the weakest
    blend measured keeps less. Returns {"strength", "style"}."""
    points = sorted(curve.items(), reverse=True)
    if points[0][1]["content"] <= content:
        return {"strength": points[0][0], "style": points[0][1]["style"]}
    for (strong, a), (weak, b) in zip(points, points[1:]):
        if b["content"] <= content:
            t = (a["content"] - content) / (a["content"] - b["content"])
            return {"strength": round(strong + t * (weak - strong), 3),
                    "style": round(a["style"] + t * (b["style"] - a["style"]), 4)}
    return None


def blended_scores(scorer: Scorer, photo: torch.Tensor, image: torch.Tensor, strengths: list[float]
                   ) -> dict[str, dict[str, float]]:
    """The independent scores of ``image`` blended with ``photo`` (both [1,3,H,W] in [0,1]) as apply's
    ``--strength`` does, for each strength in [0,1]: the two axes trade, so two methods compare at equal content."""
    image = resize(image, *photo.shape[-2:])
    return {str(s): {k: round(v, 4) for k, v in scorer(photo + s * (image - photo)).items()} for s in strengths}


@contextmanager
def live_shares(net: TransformerNet) -> Iterator[list[float]]:
    """While open, a list that receives, for each forward pass of ``net``, the share of positive inputs to its last
    rectifier (the one before its output convolution), in [0,1]: 0 means every unit there is dead and the
    network outputs a constant change (for a palette network, its base)."""
    last = [m for m in net.layers if isinstance(m, (nn.ReLU, nn.LeakyReLU))][-1]
    shares: list[float] = []
    hook = last.register_forward_hook(lambda module, inputs, output: shares.append(float((inputs[0] > 0).float().mean())))
    try:
        yield shares
    finally:
        hook.remove()


def stack_rows(rows: list[torch.Tensor]) -> Image.Image:
    """``rows`` (each [1,3,h,w] in [0,1]) one above the other on white, ``SHEET_WIDTH`` px wide."""
    sheet = stack_images([to_pil(r) for r in rows], SHEET_GAP)
    return sheet.resize((SHEET_WIDTH, round(sheet.height * SHEET_WIDTH / sheet.width)), Image.LANCZOS)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", type=Path)
    parser.add_argument("--style", type=Path, default=None, help="default: ../shared/images/style/<the model's style>")
    parser.add_argument("--content", type=Path, default=SHARED / "content")
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--network-size", type=int, default=None,
                        help="run the network on the photo at this many px on its long side and resize its output to "
                        "--size, as apply's --stroke-scale (--size/N, 1 to 4) does (default: apply's, as trained)")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "feedforward-eval-cpu.json")
    parser.add_argument("--outputs", type=Path, default=None, help="folder for photo | stylisation pictures")
    parser.add_argument("--sheet", type=Path, default=None, help="one JPEG of every photo's row, stacked, "
                        f"{SHEET_WIDTH} px wide (the README's pictures)")
    parser.add_argument("--reference", type=Path, default=None,
                        help="folder of the optimisation's outputs, PHOTO_STYLE.png, scored beside the network's; "
                        "those missing are painted there first (`brushwork stylize` with its defaults at --size)")
    parser.add_argument("--strengths", type=lambda text: [float(v) for v in text.split(",")], default=[],
                        help="also score each output, and each reference, blended with its photo at these strengths "
                        "(apply's --strength, comma-separated): where the two reach the same content score, which "
                        "has the better style")
    args = parser.parse_args()

    model = load_style_network(args.model)
    meta = model.metadata
    style_path = args.style or SHARED / "style" / meta["style"]
    config = TrainConfig.from_dict(meta["settings"])
    known = {**meta["settings"], **meta}  # the network's shape, then every training setting
    backbone = load_backbone(config.weights, pooling=config.pooling)
    painting = load_image(style_path, config.max_pixels)[0]
    style = training_style(painting, config)
    objective = BatchObjective(backbone, [style], config)
    engine = TorchEngine(model, torch.device("cpu"))
    extract = judge().features
    rows, sheet_rows = [], []
    for photo_path in sorted(p for p in args.content.iterdir() if p.suffix.lower() in (".jpg", ".jpeg", ".png")):
        photo = resize_long_side(load_image(photo_path, config.max_pixels)[0], args.size)
        with torch.no_grad(), live_shares(model.net) as live:
            stroke_scale = (trained_stroke_scale(meta, *photo.shape[-2:]) if args.network_size is None else
                            args.size / args.network_size)
            output = paint(engine, photo, ApplyConfig(stroke_scale=stroke_scale), meta)
            layers = sorted(set(config.style_layers) | set(CONTENT_PROBES))
            photo_features, output_features = (backbone.features(x, layers) for x in (photo, output))
            losses = [float(objective.style_loss(f)) for f in (photo_features, output_features)]
            kept = {layer: float(relative_content_loss(output_features[layer], photo_features[layer]))
                    for layer in CONTENT_PROBES}
        blobs = find_blobs(output, photo, painting)
        scorer = Scorer(photo, painting, extract, size=args.size)
        reference_path = args.reference / f"{photo_path.stem}_{style_path.stem}.png" if args.reference else None
        if reference_path is not None and not reference_path.is_file():
            args.reference.mkdir(parents=True, exist_ok=True)
            save_image(stylize(photo_path, style_path, size=args.size), reference_path)
        reference = (resize_long_side(load_image(reference_path, config.max_pixels)[0], args.size)
                     if reference_path is not None else None)
        judged = {"independent": {k: round(v, 4) for k, v in scorer(output).items()}}
        if args.strengths:
            judged["blended"] = blended_scores(scorer, photo, output, args.strengths)
        if reference is not None:
            judged["reference"] = {k: round(v, 4) for k, v in scorer(reference).items()}
            judged["reference_dark_share"] = round(dark_share(reference, painting), 4)
            if args.strengths:
                judged["reference_blended"] = blended_scores(scorer, photo, reference, args.strengths)
        rows.append({"photo": photo_path.name, "size": list(photo.shape[-2:]), "stroke_scale": round(stroke_scale, 3),
                     "style_loss_photo": round(losses[0], 5),
                     "style_loss_output": round(losses[1], 5), "ratio": round(losses[0] / losses[1], 2),
                     **{f"content_{layer}": round(v, 5) for layer, v in kept.items()},
                     "blobs": [asdict(b) for b in blobs], "dark_share": round(dark_share(output, painting), 4),
                     "live_share": round(live[0], 4), **judged})
        print(rows[-1], flush=True)
        shown = torch.cat([photo, output] + ([resize(reference, *photo.shape[-2:])] if reference is not None else []),
                          dim=-1)
        sheet_rows.append(shown)
        if args.outputs is not None:
            args.outputs.mkdir(parents=True, exist_ok=True)
            save_image(to_pil(shown), args.outputs / f"{photo_path.stem}.jpg")
    if args.sheet is not None:
        save_image(stack_rows(sheet_rows), args.sheet)
    ratios = [r["ratio"] for r in rows]
    report = {"benchmark": "style loss (unweighted, model's layers) of photos and of the network's outputs",
              "machine": machine("cpu"), "model": args.model.name, "style": style_path.name,
              "steps_trained": meta.get("steps_trained"),
              "training": {key: known[key] for key in TRAINING_SETTINGS if key in known}, "size": args.size,
              "network_size": args.network_size,
              "results": rows, "min_ratio": min(ratios), "bar": RATIO_BAR, "passes": min(ratios) >= RATIO_BAR,
              "blob_count": sum(len(r["blobs"]) for r in rows),
              "painting_dark_share": DARK_QUANTILE, "mean_dark_share": round(sum(r["dark_share"] for r in rows) / len(rows), 4),
              "mean_live_share": round(sum(r["live_share"] for r in rows) / len(rows), 4),
              **{f"mean_content_{layer}": round(sum(r[f"content_{layer}"] for r in rows) / len(rows), 5)
                 for layer in CONTENT_PROBES},
              **independent_summary(rows)}
    write_report("feedforward-eval", report, path=args.out)
    print(f"min ratio {min(ratios):.2f} (bar {RATIO_BAR}): {'pass' if report['passes'] else 'FAIL'}; "
          f"{report['blob_count']} blob(s); dark share {report['mean_dark_share']:.3f} (the painting's {DARK_QUANTILE}); "
          f"independent {report['independent']}")


if __name__ == "__main__":
    main()
