"""The ``train``, ``apply`` and ``export`` commands, registered by ``brushwork.cli``.

Training options come from TrainConfig and stylising options from ApplyConfig. Under torchrun only
rank 0 talks. Errors are BrushworkErrors, which ``brushwork.cli.main`` prints as one line (exit 2).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from dataclasses import fields
from pathlib import Path
from typing import Any

from tqdm import tqdm

from brushwork.feedforward.apply import stylize_files
from brushwork.feedforward.config import ApplyConfig, TrainConfig
from brushwork.feedforward.trainer import TrainProgress, train_style_network

FEEDFORWARD_COMMANDS = ("train", "apply", "export")
INTERRUPTED = 130


def add_feedforward_commands(commands: Any, add_config_options: Callable[..., None]) -> None:
    """Add the three subcommands to ``commands`` (an argparse subparsers object); ``add_config_options``
    is ``brushwork.cli``'s option generator (passed in, as this module is imported by it)."""
    train = commands.add_parser("train", help="train a feed-forward network for one style on a folder of photos")
    train.add_argument("style", type=Path, help="the artwork whose style to learn")
    train.add_argument("--data", type=Path, required=True, help="folder of photos, read recursively")
    train.add_argument("-o", "--output", type=Path, required=True, help="the model file to write (.safetensors)")
    train.add_argument("--work-dir", type=Path, default=None,
                       help="folder for the checkpoint, previews and loss curves (default: MODEL-train)")
    train.add_argument("--resume", action="store_true", help="continue the run whose checkpoint is in --work-dir")
    train.add_argument("-q", "--quiet", action="store_true", help="no progress bar or notes")
    add_config_options(train, TrainConfig, "training settings")
    train.set_defaults(handler=_train)

    run = commands.add_parser("apply", help="stylise photos with a trained network")
    run.add_argument("model", type=Path, help="a model file from `brushwork train` (.onnx with --engine onnx)")
    run.add_argument("inputs", type=Path, nargs="+", metavar="input", help="image files and folders")
    run.add_argument("-o", "--output", type=Path, required=True,
                     help="output folder (same names as the inputs), or an image file for a single input")
    run.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    add_config_options(run, ApplyConfig, "stylising settings")
    run.set_defaults(handler=_apply)

    export = commands.add_parser("export", help="export a trained network to ONNX (dynamic height and width)")
    export.add_argument("model", type=Path, help="a model file from `brushwork train`")
    export.add_argument("output", type=Path, help="the ONNX file to write (.onnx)")
    export.set_defaults(handler=_export)


def _train(args: argparse.Namespace) -> int:
    config = TrainConfig(**{f.name: getattr(args, f.name) for f in fields(TrainConfig)})
    talk = not args.quiet and int(os.environ.get("RANK", "0")) == 0
    bar = tqdm(unit="step", disable=not talk, dynamic_ncols=True, desc="train", file=sys.stderr)

    def progress(p: TrainProgress) -> None:
        bar.total = p.steps
        bar.set_postfix({k: f"{v:.4g}" for k, v in p.losses.items()}, refresh=False)
        bar.update(p.step - bar.n)

    try:
        path = train_style_network(args.style, args.data, args.output, config, work_dir=args.work_dir,
                                   resume=args.resume, callbacks=[progress],
                                   log=(lambda line: bar.write(line, file=sys.stderr)) if talk else None)
    except KeyboardInterrupt:
        bar.close()
        print("brushwork: interrupted; continue from the last checkpoint with --resume", file=sys.stderr)
        return INTERRUPTED
    finally:
        bar.close()
    if talk:
        print(f"wrote {path}", file=sys.stderr)
    return 0


def _apply(args: argparse.Namespace) -> int:
    config = ApplyConfig(**{f.name: getattr(args, f.name) for f in fields(ApplyConfig)})
    with tqdm(unit="image", disable=args.quiet, dynamic_ncols=True, desc="apply", file=sys.stderr) as bar:
        written, skipped = stylize_files(args.model, args.inputs, args.output, config,
                                         on_done=lambda source, dest: bar.update(1))
    if not args.quiet:
        note = f", skipped {skipped} existing (--overwrite replaces them)" if skipped else ""
        print(f"wrote {written} image(s) to {args.output}{note}", file=sys.stderr)
    return 0


def _export(args: argparse.Namespace) -> int:
    from brushwork.feedforward.onnx_export import export_onnx  # onnx is an extra: import it only here

    export_onnx(args.model, args.output)
    print(f"wrote {args.output}", file=sys.stderr)
    return 0
