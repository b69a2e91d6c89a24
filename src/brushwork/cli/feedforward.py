"""``brushwork train``, ``apply`` and ``export``: options from TrainConfig and ApplyConfig. Under
torchrun only rank 0 talks."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from brushwork.cli.options import add_config_options, add_output, config_from
from brushwork.cli.runner import ProgressBar
from brushwork.feedforward.apply import stylize_files
from brushwork.feedforward.config import ApplyConfig, TrainConfig
from brushwork.feedforward.trainer import train_style_network
from brushwork.outputs import OVERWRITE_HELP
from brushwork.progress import Cancelled, CancelToken


def add_feedforward(commands: Any) -> None:
    """Add ``train``, ``apply`` and ``export`` to the subcommands ``commands``."""
    train = commands.add_parser("train", help="train a feed-forward network for one style, or several in one "
                                "network, on a folder of photos")
    train.add_argument("style", type=Path, nargs="+", help="the artwork whose style to learn; several train one "
                       "network of them all, blended by `apply --style-weights`")
    train.add_argument("--data", type=Path, required=True, help="folder of photos, read recursively")
    add_output(train, "the model file to write (.safetensors)")
    train.add_argument("--work-dir", type=Path, default=None,
                       help="folder for the checkpoint, previews and loss curves (default: MODEL-train)")
    train.add_argument("--resume", action="store_true", help="continue the run whose checkpoint is in --work-dir")
    train.add_argument("--overwrite", action="store_true", help=OVERWRITE_HELP)
    add_config_options(train, TrainConfig, "training settings")
    train.set_defaults(handler=run_train, cancellable=True, hint=" (continue with --resume)")

    run = commands.add_parser("apply", help="stylise photos with a trained network")
    run.add_argument("model", type=Path, help="a model file: .safetensors from `brushwork train`, or .onnx from "
                     "`brushwork export` (run by onnxruntime)")
    run.add_argument("inputs", type=Path, nargs="+", metavar="input", help="image files and folders")
    add_output(run, "output folder (same names as the inputs), or an image file for a single input")
    add_config_options(run, ApplyConfig, "stylising settings")
    run.set_defaults(handler=run_apply, cancellable=True, hint=" (the images finished before)")

    export = commands.add_parser("export", help="export a trained network to ONNX (dynamic height and width)")
    export.add_argument("model", type=Path, help="a model file from `brushwork train`")
    add_output(export, "the ONNX file to write (.onnx)")
    export.add_argument("--overwrite", action="store_true", help=OVERWRITE_HELP)
    export.set_defaults(handler=run_export, cancellable=False, hint="")


def run_train(args: argparse.Namespace, cancel: CancelToken) -> int:
    """Run ``brushwork train``; returns the exit status."""
    config = config_from(args, TrainConfig)
    talk = not args.quiet and int(os.environ.get("RANK", "0")) == 0
    bar = ProgressBar(not talk, "train", "step")
    try:
        path = train_style_network(args.style, args.data, args.output, config, work_dir=args.work_dir,
                                   resume=args.resume, overwrite=args.overwrite, callbacks=[bar], cancel=cancel,
                                   log=bar.write if talk else None)
    finally:
        bar.close()
    if talk:
        print(f"wrote {path}", file=sys.stderr)
    return 0


def run_apply(args: argparse.Namespace, cancel: CancelToken) -> int:
    """Run ``brushwork apply``; returns 1 when some inputs could not be read, else 0."""
    config = config_from(args, ApplyConfig)
    bar = ProgressBar(args.quiet, "apply", "image")
    try:
        written, skipped, failed = stylize_files(args.model, args.inputs, args.output, config, callbacks=[bar],
                                                 cancel=cancel)
    except Cancelled as stop:
        raise Cancelled(stop.step, stop.result, args.output if stop.step else None) from None
    finally:
        bar.close()
    for error in failed:
        print(f"brushwork: skipped {error}", file=sys.stderr)
    if not args.quiet:
        note = f", skipped {skipped} existing (--overwrite replaces them)" if skipped else ""
        note += f", {len(failed)} unreadable input(s) passed over" if failed else ""
        print(f"wrote {written} image(s) to {args.output}{note}", file=sys.stderr)
    return 1 if failed else 0


def run_export(args: argparse.Namespace, cancel: CancelToken) -> int:
    """Run ``brushwork export``; returns the exit status."""
    from brushwork.feedforward.onnx_export import export_onnx  # onnx is an extra: import it only here

    export_onnx(args.model, args.output, overwrite=args.overwrite)
    if not args.quiet:
        print(f"wrote {args.output}", file=sys.stderr)
    return 0
