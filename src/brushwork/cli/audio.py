"""``brushwork audio`` and ``brushwork texture``: options from AudioConfig."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from brushwork.audio.api import stylize_audio, synthesize_texture
from brushwork.audio.config import AudioConfig
from brushwork.audio.io import OUTPUT_FORMATS, save_audio
from brushwork.cli.options import add_config_options, add_output, config_from
from brushwork.cli.runner import ProgressBar
from brushwork.outputs import OVERWRITE_HELP, check_output_file
from brushwork.progress import CancelToken


def add_audio(commands: Any) -> None:
    """Add ``audio`` and ``texture`` to the subcommands ``commands``."""
    run = commands.add_parser("audio", help="the style of one sound on the content of another "
                              "(Ulyanov and Lebedev 2016)")
    run.add_argument("content", type=Path, help="the sound whose melody or words to keep (WAV, FLAC, OGG, MP3)")
    run.add_argument("style", type=Path, help="the sound whose texture to take")
    texture = commands.add_parser("texture", help="a new sound of --duration seconds with the texture of another")
    texture.add_argument("style", type=Path, help="the sound whose texture to take (WAV, FLAC, OGG, MP3)")
    for parser, skip in ((run, ("duration",)), (texture, ("content_weight", "init"))):
        add_output(parser, "output sound; .wav or .flac")
        parser.add_argument("--overwrite", action="store_true", help=OVERWRITE_HELP)
        add_config_options(parser, AudioConfig, "audio settings", skip)
        parser.set_defaults(handler=run_audio, cancellable=True, hint="")


def run_audio(args: argparse.Namespace, cancel: CancelToken) -> int:
    """Run ``brushwork audio`` or ``brushwork texture``; returns the exit status."""
    config = config_from(args, AudioConfig)
    inputs = [("content", args.content)] if args.command == "audio" else []
    check_output_file(args.output, "-o", inputs + [("style", args.style)], args.overwrite,
                      tuple(OUTPUT_FORMATS))  # fail now, not after minutes of work
    bar = ProgressBar(args.quiet, args.command)
    try:
        if args.command == "audio":
            sound = stylize_audio(args.content, args.style, config, callbacks=[bar], cancel=cancel)
        else:
            sound = synthesize_texture(args.style, config, callbacks=[bar], cancel=cancel)
    finally:
        bar.close()
    save_audio(sound, args.output)
    if not args.quiet:
        print(f"wrote {args.output} ({sound.seconds:.2f} s, {sound.channels} channel(s), {sound.sample_rate} Hz)",
              file=sys.stderr)
    return 0
