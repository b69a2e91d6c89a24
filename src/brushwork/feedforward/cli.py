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

from brushwork.errors import INTERRUPTED
from brushwork.feedforward.apply import stylize_files
from brushwork.feedforward.config import ApplyConfig, TrainConfig
from brushwork.feedforward.trainer import CHECKPOINT, TrainProgress, train_style_network, work_folder
from brushwork.outputs import OVERWRITE_HELP

FEEDFORWARD_COMMANDS = ("train", "apply", "export")


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
    train.add_argument("--overwrite", action="store_true", help=OVERWRITE_HELP)
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
    export.add_argument("--overwrite", action="store_true", help=OVERWRITE_HELP)
    export.set_defaults(handler=_export)


class _LazyBar:
    """A tqdm bar drawn from its first update on, so that an early error stands alone on its line."""

    def __init__(self, quiet: bool, **options: Any) -> None:
        self.quiet, self.options = quiet, options
        self.bar: tqdm | None = None

    def update(self, done: int, total: int | None = None, postfix: dict[str, str] | None = None) -> None:
        if self.quiet:
            return
        if self.bar is None:
            self.bar = tqdm(total=total, dynamic_ncols=True, file=sys.stderr, **self.options)
        self.bar.set_postfix(postfix or {}, refresh=False)
        self.bar.update(done - self.bar.n)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _train(args: argparse.Namespace) -> int:
    config = TrainConfig(**{f.name: getattr(args, f.name) for f in fields(TrainConfig)})
    talk = not args.quiet and int(os.environ.get("RANK", "0")) == 0
    bar = _LazyBar(not talk, unit="step", desc="train")

    def progress(p: TrainProgress) -> None:
        bar.update(p.step, p.steps, {k: f"{v:.4g}" for k, v in p.losses.items()})

    try:
        path = train_style_network(args.style, args.data, args.output, config, work_dir=args.work_dir,
                                   resume=args.resume, callbacks=[progress], overwrite=args.overwrite,
                                   log=(lambda line: tqdm.write(line, file=sys.stderr)) if talk else None)
    except KeyboardInterrupt:
        bar.close()
        kept = work_folder(args.output, args.work_dir) / CHECKPOINT
        hint = f"continue from {kept} with --resume" if kept.is_file() else "no checkpoint written yet"
        print(f"brushwork: interrupted; {hint}", file=sys.stderr)
        return INTERRUPTED
    finally:
        bar.close()
    if talk:
        print(f"wrote {path}", file=sys.stderr)
    return 0


def _apply(args: argparse.Namespace) -> int:
    config = ApplyConfig(**{f.name: getattr(args, f.name) for f in fields(ApplyConfig)})
    bar = _LazyBar(args.quiet, unit="image", desc="apply")
    done: list[Path] = []

    def on_done(source: Path, dest: Path) -> None:
        done.append(dest)
        bar.update(len(done))

    try:
        written, skipped, failed = stylize_files(args.model, args.inputs, args.output, config, on_done=on_done)
    finally:
        bar.close()
    for error in failed:
        print(f"brushwork: skipped {error}", file=sys.stderr)
    if not args.quiet:
        note = f", skipped {skipped} existing (--overwrite replaces them)" if skipped else ""
        note += f", {len(failed)} unreadable input(s) passed over" if failed else ""
        print(f"wrote {written} image(s) to {args.output}{note}", file=sys.stderr)
    return 1 if failed else 0


def _export(args: argparse.Namespace) -> int:
    from brushwork.feedforward.onnx_export import export_onnx  # onnx is an extra: import it only here

    export_onnx(args.model, args.output, overwrite=args.overwrite)
    print(f"wrote {args.output}", file=sys.stderr)
    return 0
