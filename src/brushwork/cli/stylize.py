"""``brushwork stylize``: options from StyleConfig, presets, settings repeated from an earlier output,
snapshots and a GIF (the library's consumers), the result stamped with its provenance."""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

from brushwork.api import stylize, stylize_inputs
from brushwork.cli.options import add_config_options, add_output, given
from brushwork.cli.runner import ProgressBar
from brushwork.config import QUALITY_PRESETS, StyleConfig
from brushwork.errors import BrushworkError
from brushwork.image import OUTPUT_FORMATS, save_image
from brushwork.outputs import OVERWRITE_HELP, Input, check_distinct, check_output_file, check_series
from brushwork.progress import Callback, Cancelled, CancelToken
from brushwork.recording import GifFrames, Snapshots, provenance, settings_from


def _describe(preset: dict[str, Any]) -> str:
    """'--size 256 --iterations 60' for a preset's settings; 'the defaults' for none."""
    return " ".join(f"--{k.replace('_', '-')} {','.join(map(str, v)) if isinstance(v, tuple) else v}"
                    for k, v in preset.items()) or "the defaults"


def add_stylize(commands: Any) -> None:
    """Add ``stylize`` to the subcommands ``commands``."""
    run = commands.add_parser("stylize", help="paint a content image in the style of another image")
    run.add_argument("content", type=Path, help="the photo to repaint")
    run.add_argument("styles", type=Path, nargs="*", metavar="style",
                     help="the artwork(s) whose style to take; several are blended (see --style-blend)")
    run.add_argument("--style", dest="more_styles", type=Path, action="append", default=[],
                     help="another style image (repeatable), after those given as arguments")
    add_output(run, "output image; .png, .jpg, .webp or .tif")
    run.add_argument("--overwrite", action="store_true", help=OVERWRITE_HELP)
    run.add_argument("--settings-from", type=Path, default=None, metavar="OUTPUT",
                     help="repeat the run that wrote this output: its settings, and its style images unless "
                     "others are given; options given explicitly win")
    run.add_argument("--snapshot-every", type=int, default=0, metavar="N",
                     help="also save the image every N iterations (default: 0, never)")
    run.add_argument("--snapshot-dir", type=Path, default=None,
                     help="folder for snapshots (default: the output's folder)")
    run.add_argument("--gif", type=Path, default=None, help="save an animated GIF of the optimisation")
    run.add_argument("--quality", choices=tuple(QUALITY_PRESETS), default=None,
                     help="preset: " + "; ".join(f"{name}: {_describe(preset)}"
                                                 for name, preset in QUALITY_PRESETS.items())
                     + ". Options given explicitly win over the preset (default: normal)")
    add_config_options(run, StyleConfig, "style transfer settings")
    run.set_defaults(handler=run_stylize, cancellable=True, hint="")


def _config(args: argparse.Namespace) -> tuple[StyleConfig, list[Path]]:
    """The settings (the earlier output's or the preset's, then the options given) and the styles."""
    preset = QUALITY_PRESETS[args.quality or "normal"]
    styles = args.styles + args.more_styles
    if args.settings_from is None:
        return StyleConfig.for_quality(args.quality or "normal", **given(args, StyleConfig)), styles
    earlier, inputs = settings_from(args.settings_from)
    config = replace(earlier, **{**preset, **given(args, StyleConfig)})
    return config, styles or [Path(style) for style in inputs.get("styles", [])]


def _check_outputs(args: argparse.Namespace, snapshots: Snapshots, iterations: int, inputs: list[Input]) -> None:
    """Fail before any work unless the output, the GIF and every planned snapshot may be written."""
    if args.snapshot_every < 0:
        raise BrushworkError(f"--snapshot-every {args.snapshot_every}: must be zero or positive")
    outputs = [("-o", args.output)] + ([("--gif", args.gif)] if args.gif is not None else [])
    check_output_file(args.output, "-o", inputs, args.overwrite, tuple(OUTPUT_FORMATS))
    if args.gif is not None:
        check_output_file(args.gif, "--gif", inputs, args.overwrite, (".gif",))
    check_distinct(outputs)
    if args.snapshot_dir is not None and not args.snapshot_dir.is_dir():
        raise BrushworkError(f"--snapshot-dir {args.snapshot_dir}: not an existing folder")
    if args.snapshot_every:
        names = [snapshots.name(n) for n in range(args.snapshot_every, iterations + 1, args.snapshot_every)]
        check_series(snapshots.folder, names, "--snapshot-every", inputs, args.overwrite)


def run_stylize(args: argparse.Namespace, cancel: CancelToken) -> int:
    """Run ``brushwork stylize``; returns the exit status."""
    config, styles = _config(args)
    config.check_styles(len(styles))
    metadata = provenance("stylize", config, {"content": str(args.content), "styles": [str(s) for s in styles]})
    snapshots = Snapshots(args.output, args.snapshot_every, args.snapshot_dir, metadata, args.overwrite)
    iterations = sum(iterations for _, iterations in config.plan_scales())
    _check_outputs(args, snapshots, iterations, stylize_inputs(args.content, styles, config))
    gif = GifFrames(iterations) if args.gif is not None else None
    bar = ProgressBar(args.quiet, "stylize")
    callbacks: list[Callback] = [bar, snapshots, *([gif] if gif is not None else [])]
    try:
        result = stylize(args.content, styles, config, callbacks=callbacks, cancel=cancel)
    except Cancelled as stop:
        bar.close()
        kept = snapshots.save(stop.result, stop.step) if stop.step > 0 else None  # never over another's file
        raise Cancelled(stop.step, stop.result, kept) from None
    finally:
        bar.close(finished=True)
    save_image(result, args.output, metadata)
    if gif is not None:
        gif.save(args.gif, result)
    if not args.quiet:
        print(f"wrote {args.output} ({result.width}x{result.height})", file=sys.stderr)
    return 0
