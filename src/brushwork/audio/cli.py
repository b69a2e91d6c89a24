"""The ``brushwork audio`` and ``brushwork texture`` commands, added to the main command line.

Their options are generated from AudioConfig by the main CLI's generator, which is passed in (this
module is imported by ``brushwork.cli``, so it cannot import it back).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from dataclasses import fields
from pathlib import Path
from typing import Any

from tqdm import tqdm

from brushwork.audio.api import stylize_audio, synthesize_texture
from brushwork.audio.io import OUTPUT_FORMATS, save_audio
from brushwork.config import AudioConfig
from brushwork.errors import INTERRUPTED
from brushwork.outputs import OVERWRITE_HELP, check_output_file
from brushwork.transfer import Progress

AUDIO_COMMANDS = ("audio", "texture")


def add_audio_commands(commands: Any, add_options: Callable[..., None]) -> None:
    """Add ``audio`` and ``texture`` to the subcommands ``commands``; ``add_options(parser, config,
    title, skip)`` adds one option per config field."""
    run = commands.add_parser("audio", help="the style of one sound on the content of another "
                              "(Ulyanov and Lebedev 2016)")
    run.add_argument("content", type=Path, help="the sound whose melody or words to keep (WAV, FLAC, OGG, MP3)")
    run.add_argument("style", type=Path, help="the sound whose texture to take")
    texture = commands.add_parser("texture", help="a new sound of --duration seconds with the texture of another")
    texture.add_argument("style", type=Path, help="the sound whose texture to take (WAV, FLAC, OGG, MP3)")
    for parser, skip in ((run, ("duration",)), (texture, ("content_weight", "init"))):
        parser.add_argument("-o", "--output", type=Path, required=True, help="output sound; .wav or .flac")
        parser.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
        parser.add_argument("--overwrite", action="store_true", help=OVERWRITE_HELP)
        add_options(parser, AudioConfig, "audio settings", skip)


def run_audio(args: argparse.Namespace) -> int:
    """Run ``brushwork audio`` or ``brushwork texture``; returns the exit status."""
    config = AudioConfig(**{f.name: getattr(args, f.name, f.default) for f in fields(AudioConfig)})
    inputs = [("content", args.content)] if args.command == "audio" else []
    check_output_file(args.output, "-o", inputs + [("style", args.style)], args.overwrite,
                      tuple(OUTPUT_FORMATS))  # fail now, not after minutes of work
    bars: list[tqdm] = []  # opened at the first step, when the number of chunks is known and the inputs passed

    def progress(p: Progress) -> None:
        if not bars:
            bars.append(tqdm(total=p.iterations, unit="it", disable=args.quiet, dynamic_ncols=True,
                             desc=args.command, file=sys.stderr))
        bars[0].set_postfix({k: f"{v:.4g}" for k, v in p.losses.items()}, refresh=False)
        bars[0].update(1)

    try:
        if args.command == "audio":
            sound = stylize_audio(args.content, args.style, config, callbacks=[progress])
        else:
            sound = synthesize_texture(args.style, config, callbacks=[progress])
    except KeyboardInterrupt:
        print("brushwork: interrupted; nothing written", file=sys.stderr)
        return INTERRUPTED
    finally:
        for bar in bars:
            bar.close()
    save_audio(sound, args.output)
    if not args.quiet:
        print(f"wrote {args.output} ({sound.seconds:.2f} s, {sound.channels} channel(s), {sound.sample_rate} Hz)",
              file=sys.stderr)
    return 0
