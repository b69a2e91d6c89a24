"""Does a trained style network paint in its style? Style loss of its outputs against the unstyled photos.

For each content photo (default ``../shared/images/content``), resized to ``--size`` px on the long
side, the style loss against the style image (the model's style layers, backbone and style size) is
measured for the photo itself and for the network's output. A ratio photo / output of 5 or more is
the bar. How much of the photo the output keeps is measured too: the relative content loss
(losses.py's normalisation) at relu2_2 and relu3_3, the two content layers of Johnson et al.
Writes JSON (default ``bench/results/feedforward-eval-cpu.json``) and, with ``--outputs DIR``, each
photo beside its stylisation.

    python bench/feedforward_eval.py MODEL [--style ../shared/images/style/the_scream.jpg] [--size 512]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

from brushwork.feedforward.apply import TorchEngine, run_padded
from brushwork.feedforward.config import TrainConfig
from brushwork.feedforward.model_file import load_style_network
from brushwork.feedforward.trainer import BatchObjective
from brushwork.image import load_image, resize_long_side, save_image, to_pil
from brushwork.losses import relative_content_loss
from brushwork.nets.weights import load_backbone

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import ROOT, SHARED, machine, write_report  # noqa: E402

RATIO_BAR = 5.0
CONTENT_PROBES = ("relu2_2", "relu3_3")
# The model's training settings that the report repeats, so that each result says what it measured.
TRAINING_SETTINGS = ("backbone", "pooling", "crop_size", "batch_size", "learning_rate", "content_weight",
                     "style_weight", "tv_weight", "style_size", "content_layers", "style_layers", "time_limit",
                     "width", "residual_blocks", "seed")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", type=Path)
    parser.add_argument("--style", type=Path, default=None, help="default: ../shared/images/style/<the model's style>")
    parser.add_argument("--content", type=Path, default=SHARED / "content")
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "feedforward-eval-cpu.json")
    parser.add_argument("--outputs", type=Path, default=None, help="folder for photo | stylisation pictures")
    args = parser.parse_args()

    model = load_style_network(args.model)
    meta = model.metadata
    style_path = args.style or SHARED / "style" / meta["style"]
    config = TrainConfig.from_dict(meta["settings"])
    backbone = load_backbone(config.weights, pooling=config.pooling)
    style = resize_long_side(load_image(style_path, config.max_pixels)[0], config.style_size)
    objective = BatchObjective(backbone, [style], config)
    engine = TorchEngine(model, torch.device("cpu"))
    rows = []
    for photo_path in sorted(p for p in args.content.iterdir() if p.suffix.lower() in (".jpg", ".jpeg", ".png")):
        photo = resize_long_side(load_image(photo_path, config.max_pixels)[0], args.size)
        with torch.no_grad():
            output = run_padded(engine, photo)
            layers = sorted(set(config.style_layers) | set(CONTENT_PROBES))
            photo_features, output_features = (backbone.features(x, layers) for x in (photo, output))
            losses = [float(objective.style_loss(f)) for f in (photo_features, output_features)]
            kept = {layer: float(relative_content_loss(output_features[layer], photo_features[layer]))
                    for layer in CONTENT_PROBES}
        rows.append({"photo": photo_path.name, "size": list(photo.shape[-2:]), "style_loss_photo": round(losses[0], 5),
                     "style_loss_output": round(losses[1], 5), "ratio": round(losses[0] / losses[1], 2),
                     **{f"content_{layer}": round(v, 5) for layer, v in kept.items()}})
        print(rows[-1], flush=True)
        if args.outputs is not None:
            args.outputs.mkdir(parents=True, exist_ok=True)
            save_image(to_pil(torch.cat([photo, output], dim=-1)), args.outputs / f"{photo_path.stem}.jpg")
    ratios = [r["ratio"] for r in rows]
    report = {"benchmark": "style loss (unweighted, model's layers) of photos and of the network's outputs",
              "machine": machine("cpu"), "model": args.model.name, "style": style_path.name,
              "steps_trained": meta.get("steps_trained"),
              "training": {key: meta[key] for key in TRAINING_SETTINGS if key in meta}, "size": args.size,
              "results": rows, "min_ratio": min(ratios), "bar": RATIO_BAR, "passes": min(ratios) >= RATIO_BAR,
              **{f"mean_content_{layer}": round(sum(r[f"content_{layer}"] for r in rows) / len(rows), 5)
                 for layer in CONTENT_PROBES}}
    write_report("feedforward-eval", report, path=args.out)
    print(f"min ratio {min(ratios):.2f} (bar {RATIO_BAR}): {'pass' if report['passes'] else 'FAIL'}")


if __name__ == "__main__":
    main()
