"""``brushwork video``: options from VideoConfig, a progress bar over frames, and --resume."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from brushwork.cli.options import add_config_options, add_output, config_from
from brushwork.cli.runner import ProgressBar
from brushwork.outputs import OVERWRITE_HELP
from brushwork.progress import CancelToken
from brushwork.video.config import VideoConfig


def add_video(commands: Any) -> None:
    """Add ``video`` to the subcommands ``commands``."""
    run = commands.add_parser("video", help="stylise a video without flicker: a style image (optimisation) or a "
                              "trained network (.safetensors or .onnx, fast)")
    run.add_argument("video", type=Path, help="the video to stylise (anything FFmpeg reads: MP4, MOV, MKV, ...)")
    run.add_argument("style", type=Path, help="a style image, or a model from `brushwork train` / `brushwork export`")
    add_output(run, "output video (.mp4, .m4v or .mov: H.264, the audio copied), or a folder (DIR/) for numbered PNGs",
               kind=str)
    run.add_argument("--resume", action="store_true", help="continue an interrupted run from its work folder")
    run.add_argument("--work-dir", type=Path, default=None,
                     help="folder for the finished frames until the output is written (default: OUTPUT.work)")
    run.add_argument("--overwrite", action="store_true", help=OVERWRITE_HELP)
    add_config_options(run, VideoConfig, "video settings")
    run.set_defaults(handler=run_video, cancellable=True, hint=" (continue with --resume)")


def run_video(args: argparse.Namespace, cancel: CancelToken) -> int:
    """Run ``brushwork video``; returns the exit status."""
    from brushwork.video.api import stylize_video  # PyAV and OpenCV are the [video] extra: import them only here

    config = config_from(args, VideoConfig)
    bar = ProgressBar(args.quiet, "video", "frame")
    try:
        path = stylize_video(args.video, args.style, args.output, config, resume=args.resume, overwrite=args.overwrite,
                             work_dir=args.work_dir, callbacks=[bar], cancel=cancel)
    finally:
        bar.close()
    if not args.quiet:
        print(f"wrote {path}", file=sys.stderr)
    return 0
