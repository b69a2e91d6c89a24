"""Where do a style network's blobs come from, and what brings back the painting's dark tones? Short
trainings, one arm per candidate cause, judged on held-out photos.

Every arm trains the same number of steps from the same start, photos, crops and order (the trainer's
settings before this study, instance normalisation, width 32 and the network's own encoder included, with
small crops so that an arm takes minutes on a CPU), changing one thing: a setting of TrainConfig or a layer
of the network. Each is then judged on held-out BSDS photos at ``--size`` px by what it did not optimise:
the blob detector and the dark-tone share of ``feedforward_eval`` and the independent scorer
(``brushwork.evaluation``). Writes JSON (default
``bench/results/feedforward-blob-cpu.json``) and, with ``--previews DIR``, a preview grid per arm, with
``--models DIR`` each arm's network as a model file.

    OMP_NUM_THREADS=1 python bench/feedforward_blob.py --steps 200 --crop-size 64 --size 128 [--arms baseline,scale-only]

(One thread: on a CPU shared with other jobs two threads spent most of their time waiting for each other.)
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from brushwork.config import StyleConfig
from brushwork.evaluation import Scorer, judge
from brushwork.feedforward.config import TrainConfig
from brushwork.feedforward.data import CropDataset, scan_photos
from brushwork.feedforward.heldout import run_style
from brushwork.feedforward.model_file import save_style_network, training_metadata
from brushwork.feedforward.network import (LOGIT_EPS, BackboneEncoder, ConvLayer, StyleNorm, TransformerNet, _run,
                                           pad_to_multiple, seeded_network)
from brushwork.feedforward.previews import preview_grid
from brushwork.feedforward.trainer import (BatchObjective, _split, set_learning_rate, train_step, trainable,
                                          training_style)
from brushwork.hardware import compute_dtype
from brushwork.image import load_image, resize_long_side, save_image
from brushwork.nets.weights import load_backbone

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import ROOT, SHARED, machine, write_report  # noqa: E402
from feedforward_eval import DARK_QUANTILE, dark_share, find_blobs, live_shares  # noqa: E402


class AffineOnly(nn.Module):
    """A StyleNorm's scale and shift without the normalisation (one style)."""

    def __init__(self, norm: StyleNorm) -> None:
        super().__init__()
        self.weight, self.bias = norm.weight, norm.bias

    def forward(self, x: torch.Tensor, style_weights: torch.Tensor | None = None) -> torch.Tensor:
        return x * self.weight[:, None, None] + self.bias[:, None, None]


class FlooredNorm(AffineOnly):
    """Instance normalisation whose variance is floored at ``floor``: a channel that is nearly flat is not
    blown up to unit variance (one style)."""

    def __init__(self, norm: StyleNorm, floor: float) -> None:
        super().__init__(norm)
        self.floor = floor

    def forward(self, x: torch.Tensor, style_weights: torch.Tensor | None = None) -> torch.Tensor:
        var, mean = torch.var_mean(x, dim=(-2, -1), keepdim=True, correction=0)
        return super().forward((x - mean) / torch.sqrt(var + self.floor))


class LayerNorm(AffineOnly):
    """Normalisation over all channels and positions of an image together (GroupNorm with one group)."""

    def forward(self, x: torch.Tensor, style_weights: torch.Tensor | None = None) -> torch.Tensor:
        return super().forward(F.group_norm(x, 1, eps=1e-5))


def _swap_norms(net: TransformerNet, make: Callable[[StyleNorm], nn.Module], only: slice = slice(None)) -> None:
    """Replace the StyleNorms of ``net.layers`` (those of the residual blocks too) within ``only``, a slice of
    the StyleNorms in order (the last two are the decoder's)."""
    norms = [(parent, name, module) for parent in net.modules() for name, module in parent.named_children()
             if isinstance(module, StyleNorm)]
    for parent, name, module in norms[only]:
        setattr(parent, name, make(module))


def _zero_padding(net: TransformerNet) -> None:
    for module in net.modules():
        if isinstance(module, ConvLayer):
            module[0] = nn.ZeroPad2d(module[0].padding)


def _leaky(net: TransformerNet) -> None:
    """Every ReLU of ``net`` a leaky one (slope 0.2 below zero), so that no unit can stop learning for good; a
    backbone encoder's stay, as they are the backbone's."""
    frozen = {id(m) for encoder in net.modules() if isinstance(encoder, BackboneEncoder) for m in encoder.modules()}
    for module in net.modules():
        for name, child in module.named_children():
            if isinstance(child, nn.ReLU) and id(module) not in frozen:
                setattr(module, name, nn.LeakyReLU(0.2))


def _half_scale(net: TransformerNet) -> None:
    """Run the network's layers on the photo at half its size and add their change, upsampled bilinearly, to
    the base at full size: twice the receptive field in output pixels, a quarter of the positions."""
    def forward(x: torch.Tensor, style_weights: torch.Tensor | None = None) -> torch.Tensor:
        small, shape = pad_to_multiple(F.interpolate(x, scale_factor=0.5, mode="bilinear", antialias=True))
        raw = 2 * _run(net.layers, small, style_weights)[..., :shape[0], :shape[1]]
        raw = F.interpolate(raw, size=x.shape[-2:], mode="bilinear")
        return torch.sigmoid(raw + torch.logit(net.base(x, style_weights), eps=LOGIT_EPS))
    net.forward = forward  # type: ignore[method-assign]


#: The settings of the palette arms (the study's later defaults) and of those with the backbone's encoder.
_PALETTE: dict[str, object] = {"normalisation": "scale", "residual": "palette", "width": 16, "warmup_steps": 100}
_BACKBONE: dict[str, object] = {**_PALETTE, "encoder": "backbone"}

#: name: (TrainConfig overrides, change to the network)
ARMS: dict[str, tuple[dict[str, object], Callable[[TransformerNet], None] | None]] = {
    "baseline": ({}, None),
    "decoder-affine": ({}, lambda net: _swap_norms(net, AffineOnly, slice(-2, None))),
    "floored-var": ({}, lambda net: _swap_norms(net, lambda n: FlooredNorm(n, 0.1))),
    "scale-only": ({"normalisation": "scale"}, None),
    "seed-1": ({"seed": 1}, None),
    "scale-only-seed-1": ({"normalisation": "scale", "seed": 1}, None),
    "layer-norm": ({}, lambda net: _swap_norms(net, LayerNorm)),
    "zero-padding": ({}, _zero_padding),
    "lr-3e-4": ({"learning_rate": 3e-4}, None),
    "style-weight-1": ({"style_weight": 1.0}, None),
    "style-weight-10": ({"style_weight": 10.0}, None),
    "style-size-512": ({"style_size": 512}, None),
    "scale-palette": ({"normalisation": "scale", "residual": "palette"}, None),
    "scale-palette-sw10": ({"normalisation": "scale", "residual": "palette", "style_weight": 10.0}, None),
    "scale-palette-lr-1e-2": ({"normalisation": "scale", "residual": "palette", "learning_rate": 1e-2}, None),
    "scale-lr-1e-2": ({"normalisation": "scale", "residual": "none", "style_weight": 3.0, "learning_rate": 1e-2}, None),
    "scale-palette-w16": ({"normalisation": "scale", "residual": "palette", "width": 16}, None),
    "scale-palette-w32": ({"normalisation": "scale", "residual": "palette"}, None),
    "palette-w16-warmup": (_PALETTE, None),
    "palette-w16-warmup-leaky": (_PALETTE, _leaky),
    "palette-w16-warmup-cw3": ({**_PALETTE, "content_weight": 3.0}, None),
    "palette-w16-warmup-lr3e-3": ({**_PALETTE, "learning_rate": 3e-3}, None),
    "palette-w16-warmup-ss512": ({**_PALETTE, "style_size": 512}, None),
    "palette-w16-warmup-gatys-layers": ({**_PALETTE, "style_layers": StyleConfig.style_layers}, None),
    "palette-w16-warmup-backbone": (_BACKBONE, None),
    "palette-w16-warmup-backbone-gatys-layers": ({**_BACKBONE, "style_layers": StyleConfig.style_layers}, None),
    "palette-w16-warmup-backbone-no-relu1_2": ({**_BACKBONE, "style_layers": ("relu2_2", "relu3_3", "relu4_3")}, None),
    "palette-w16-warmup-backbone-tv20": ({**_BACKBONE, "tv_weight": 20.0}, None),
    "palette-w16-warmup-backbone-tv50": ({**_BACKBONE, "tv_weight": 50.0}, None),
    "palette-w16-warmup-backbone-tv0.5": ({**_BACKBONE, "tv_weight": 0.5}, None),
    "palette-w16-warmup-backbone-ss512": ({**_BACKBONE, "style_size": 512}, None),
    "palette-w16-warmup-backbone-gatys-relu4_2": ({**_BACKBONE, "style_layers": StyleConfig.style_layers,
                                                   "content_layers": StyleConfig.content_layers}, None),
    "palette-w16-warmup-backbone-sw100": ({**_BACKBONE, "style_weight": 100.0}, None),
    "palette-w16-warmup-backbone-sw300": ({**_BACKBONE, "style_weight": 300.0}, None),
    "palette-w16-warmup-backbone-leaky": (_BACKBONE, _leaky),
    "palette-w16-warmup-backbone-blocks10": ({**_BACKBONE, "residual_blocks": 10}, None),
    "palette-w16-warmup-backbone-half": (_BACKBONE, _half_scale),
    "palette-w16-warmup-backbone-half-ss512-ps512": ({**_BACKBONE, "style_size": 512, "photo_size": 512}, _half_scale),
    "palette-w16-warmup-backbone-soft2": ({**_BACKBONE, "base_blur": 2}, None),
    "palette-w16-warmup-backbone-soft4": ({**_BACKBONE, "base_blur": 4}, None),
    "palette-w16-warmup-backbone-soft4-relu3_3": ({**_BACKBONE, "base_blur": 4, "content_layers": ("relu3_3",)}, None),
    "palette-w16-warmup-backbone-soft4-relu4_2": ({**_BACKBONE, "base_blur": 4, "content_layers": ("relu4_2",)}, None),
    "palette-w16-warmup-backbone-soft4-octaves-1-1": ({**_BACKBONE, "base_blur": 4, "style_octaves": (1.0, 1.0)}, None),
    "palette-w16-warmup-backbone-soft4-octaves-1-3": ({**_BACKBONE, "base_blur": 4, "style_octaves": (1.0, 3.0)}, None),
    "palette-w16-warmup-backbone-soft4-margin": ({**_BACKBONE, "base_blur": 4, "style_margin": 0.06}, None),
    "palette-w16-warmup-backbone-soft4-cw2": ({**_BACKBONE, "base_blur": 4, "content_weight": 2.0}, None),
    "palette-w16-warmup-backbone-soft4-cw0.5": ({**_BACKBONE, "base_blur": 4, "content_weight": 0.5}, None),
    "palette-w16-warmup-backbone-soft4-cw0.25": ({**_BACKBONE, "base_blur": 4, "content_weight": 0.25}, None),
    "palette-w16-warmup-backbone-soft4-cw2-octaves-1-1": ({**_BACKBONE, "base_blur": 4, "content_weight": 2.0,
                                                           "style_octaves": (1.0, 1.0)}, None),
    "palette-w16-warmup-backbone-ps512": ({**_BACKBONE, "photo_size": 512}, None),
    "palette-w16-warmup-backbone-ss512-ps512": ({**_BACKBONE, "style_size": 512, "photo_size": 512}, None),
    "palette-w32-warmup": ({"normalisation": "scale", "residual": "palette", "warmup_steps": 100}, None),
    "palette-w32-warmup-backbone": ({"normalisation": "scale", "residual": "palette", "warmup_steps": 100,
                                     "encoder": "backbone"}, None),
    "none-warmup": ({"normalisation": "scale", "residual": "none", "style_weight": 3.0, "warmup_steps": 100}, None),
}


def train_arm(config: TrainConfig, change: Callable[[TransformerNet], None] | None, objective: BatchObjective,
              style: torch.Tensor, photos: tuple[Path, ...], steps: int,
              trace: list[dict[str, float]] | None = None) -> tuple[TransformerNet, float]:
    """The network after ``steps`` Adam steps on crops of ``photos`` (workers 0, the trainer's seeds) in the
    style of ``style`` (RGB [1,3,H,W], ``objective``'s), and the seconds it took. A ``trace`` list receives the
    step, its style loss and the live share (see ``live_shares``) on its batch after the step, for each of the
    first ten steps and every tenth after that."""
    net = seeded_network(config.width, config.residual_blocks, config.seed, normalisation=config.normalisation,
                         residual=config.residual, base_blur=config.base_blur,
                         backbone=objective.backbone if config.encoder == "backbone" else None)
    if config.residual == "palette":
        net.set_palettes([style])
    if change is not None:
        change(net)
    optimizer = torch.optim.Adam(trainable(net), lr=config.learning_rate)
    dataset = CropDataset(photos, config.crop_size, config.max_pixels, config.seed, config.photo_size)
    dtype = compute_dtype(config.precision, torch.device("cpu"))
    started, step, epoch = time.perf_counter(), 0, 0
    while step < steps:
        dataset.set_epoch(epoch)
        order = torch.randperm(len(dataset), generator=torch.Generator().manual_seed(config.seed + epoch)).tolist()
        for start in range(0, len(order) - config.batch_size + 1, config.batch_size):
            batch = torch.stack([dataset[i] for i in order[start:start + config.batch_size]])
            set_learning_rate(optimizer, config, step)
            terms = train_step(net, net, objective, optimizer, batch, 0, dtype)
            step += 1
            if trace is not None and (step <= 10 or step % 10 == 0):
                with live_shares(net) as live:
                    run_style(net, batch, 0)
                trace.append({"step": step, "style_loss": round(float(terms["style"]), 3), "live_share": round(live[0], 3)})
            if step >= steps:
                break
        epoch += 1
    return net, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--arms", default=",".join(ARMS), help="comma-separated, from: " + ", ".join(ARMS))
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--crop-size", type=int, default=128)
    parser.add_argument("--style", type=Path, default=SHARED / "style" / "the_scream.jpg")
    parser.add_argument("--photos", type=Path, default=SHARED / "photos")
    parser.add_argument("--held-out", type=int, default=6, help="photos held out and judged")
    parser.add_argument("--size", type=int, default=256, help="long side of the judged outputs in px")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "feedforward-blob-cpu.json")
    parser.add_argument("--trace", action="store_true", help="record the style loss and the live share during "
                        "training (the first ten steps, then every tenth)")
    parser.add_argument("--previews", type=Path, default=None, help="folder for a preview grid per arm")
    parser.add_argument("--models", type=Path, default=None, help="folder for each arm's network as a model file "
                        "(ARM.safetensors, for feedforward_eval.py), where the arm changes only settings")
    parser.add_argument("--weights", default=TrainConfig.weights, help="the backbone of every arm (loss and encoder)")
    args = parser.parse_args()

    # The arms change one thing each from the trainer's settings before this study, instance normalisation included.
    base = replace(TrainConfig(), crop_size=args.crop_size, validation_count=args.held_out, normalisation="instance",
                   residual="none", warmup_steps=0, encoder="own", width=32, base_blur=1,
                   weights=args.weights)
    backbone = load_backbone(base.weights, pooling=base.pooling)
    painting = load_image(args.style, base.max_pixels)[0]
    train, held = _split(scan_photos(args.photos, base.crop_size, base.max_pixels).photos, args.held_out)
    held_rgb = [resize_long_side(load_image(p, base.max_pixels)[0], args.size) for p in held]
    extract = judge().features
    scorers = [Scorer(photo, painting, extract, size=args.size) for photo in held_rgb]
    rows = []
    for name in args.arms.split(","):
        overrides, change = ARMS[name]
        config = replace(base, **overrides)
        style = training_style(painting, config)
        objective = BatchObjective(backbone, [style], config)
        trace: list[dict[str, float]] | None = [] if args.trace else None
        net, seconds = train_arm(config, change, objective, style, train, args.steps, trace)
        with live_shares(net) as live:
            outputs = [run_style(net, photo, 0) for photo in held_rgb]
        blobs = [find_blobs(o, p, painting) for o, p in zip(outputs, held_rgb)]
        scores = [scorer(o) for scorer, o in zip(scorers, outputs)]
        rows.append({"arm": name, "changes": {k: str(v) for k, v in overrides.items()} or None,
                     "blobs": sum(map(len, blobs)), "photos_with_blobs": sum(1 for b in blobs if b),
                     "blob_area": round(sum(b.area for bs in blobs for b in bs) / len(outputs), 4),
                     "dark_share": round(sum(dark_share(o, painting) for o in outputs) / len(outputs), 4),
                     "style": round(sum(s["style"] for s in scores) / len(scores), 4),
                     "content": round(sum(s["content"] for s in scores) / len(scores), 4),
                     "live_share": round(sum(live) / len(live), 4), "train_seconds": round(seconds, 1), "threads": torch.get_num_threads(),
                     **({"trace": trace} if trace is not None else {})})
        print(rows[-1], flush=True)
        if args.models is not None and change is None:
            args.models.mkdir(parents=True, exist_ok=True)
            save_style_network(net, args.models / f"{name}.safetensors", {
                **training_metadata([args.style.name], [style], backbone.name, config.to_dict()),
                "steps_trained": args.steps})
        if args.previews is not None:
            args.previews.mkdir(parents=True, exist_ok=True)
            save_image(preview_grid([painting], held_rgb, [outputs], None, args.size), args.previews / f"{name}.png")
        write_report("feedforward-blob", report(args, base, held, rows), path=args.out)  # each arm, as it ends


def report(args: argparse.Namespace, base: TrainConfig, held: tuple[Path, ...], rows: list[dict]) -> dict[str, object]:
    """The JSON report of the arms in ``rows``."""
    return {"benchmark": "blob detector, dark-tone share and independent scores of short trainings, one change an arm",
              "machine": machine("cpu"), "style": args.style.name, "steps": args.steps, "crop_size": args.crop_size,
              "batch_size": base.batch_size, "held_out": [p.name for p in held], "size": args.size,
              "weights": base.weights, "painting_dark_share": DARK_QUANTILE, "results": rows}


if __name__ == "__main__":
    main()
