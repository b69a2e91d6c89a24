"""``brushwork batch``: a folder or manifest of images painted into a mirrored tree, here or on a Ray
cluster; options from BatchConfig, ApplyConfig (networks) and StyleConfig (style images)."""

from __future__ import annotations

import argparse
import sys
from dataclasses import fields
from pathlib import Path
from typing import Any

from brushwork.batch.api import stylize_batch
from brushwork.batch.config import BatchConfig
from brushwork.batch.manifest import MANIFEST
from brushwork.batch.scheduler import Summary
from brushwork.cli.options import add_config_options, add_output, config_from
from brushwork.cli.runner import ProgressBar
from brushwork.config import MAX_SIZE, MIN_SIZE, StyleConfig
from brushwork.feedforward.config import ApplyConfig
from brushwork.progress import Cancelled, CancelToken

#: Failures listed one a line at the end; the rest are in the manifest.
SHOWN_FAILURES = 20


def add_batch(commands: Any) -> None:
    """Add ``batch`` to the subcommands ``commands``."""
    run = commands.add_parser("batch", help="stylise a whole folder or manifest of images (resumable; this machine "
                              "or a Ray cluster)")
    run.add_argument("inputs", type=Path, metavar="INPUTS",
                     help="a folder of images (read recursively), or a manifest: a text file with one image path a "
                     "line, or a CSV file of rows path[,style] (paths relative to its folder)")
    add_output(run, f"output folder: the input tree mirrored, and {MANIFEST} (one line per image)")
    source = run.add_mutually_exclusive_group()
    source.add_argument("--style", type=Path, help="one style image for every input (the optimisation)")
    source.add_argument("--styles", type=Path, metavar="DIR", help="a folder of style images: one drawn per input")
    source.add_argument("--model", type=Path, help="one trained network (.safetensors or .onnx) for every input "
                        "(the fast path)")
    source.add_argument("--models", type=Path, metavar="DIR", help="a folder of networks: one drawn per input")
    run.add_argument("--size", type=int, default=argparse.SUPPRESS, metavar="N",
                     help=f"long side of the outputs in px, {MIN_SIZE} to {MAX_SIZE} (default: {StyleConfig.size} with "
                     "style images, each input's own size with networks)")
    add_config_options(run, BatchConfig, "batch settings")
    shared = {f.name for f in fields(StyleConfig)} | {"batch_size", "overwrite"}
    per_image = {"seed", "size", "style_blend", "style_masks", "content_mask"}  # seed, size: the batch's own; one style an image
    add_config_options(run, ApplyConfig, "network settings (--model, --models)", skip=shared)
    add_config_options(run, StyleConfig, "optimisation settings (--style, --styles)", skip=per_image)
    run.set_defaults(handler=run_batch, cancellable=True,
                     hint=" (the images finished before; run the same command again to do the rest)")


def _report(summary: Summary, output: Path, quiet: bool) -> None:
    """Each failure on its own line (the first few; all are in the manifest), then the counts."""
    for _, error in summary.failed[:SHOWN_FAILURES]:
        print(f"brushwork: failed: {error}", file=sys.stderr)
    if len(summary.failed) > SHOWN_FAILURES:
        print(f"brushwork: ... and {len(summary.failed) - SHOWN_FAILURES} more failures (see {output / MANIFEST})",
              file=sys.stderr)
    if not quiet:
        print(f"batch: {summary.line()}; outputs in {output}", file=sys.stderr)


def run_batch(args: argparse.Namespace, cancel: CancelToken) -> int:
    """Run ``brushwork batch``; returns 1 when some image failed, else 0."""
    config = config_from(args, BatchConfig)
    style, apply = config_from(args, StyleConfig), config_from(args, ApplyConfig)
    bar = ProgressBar(args.quiet, "batch", "image")
    try:
        summary = stylize_batch(args.inputs, args.output, styles=args.style or args.styles,
                                models=args.model or args.models, config=config, style_config=style,
                                apply_config=apply, callbacks=[bar], cancel=cancel)
    except Cancelled as stop:
        bar.close()
        _report(stop.result, args.output, args.quiet)
        raise Cancelled(stop.step, stop.result, args.output if stop.step else None) from None
    finally:
        bar.close()
    _report(summary, args.output, args.quiet)
    return 1 if summary.failed else 0
