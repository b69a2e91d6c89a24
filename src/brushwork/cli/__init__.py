"""The ``brushwork`` command line: one module per command family (``stylize``, ``weights``, ``train``
/ ``apply`` / ``export``, ``audio`` / ``texture``), sharing the option generator of ``options`` and
the progress bar and error/interrupt wrapper of ``runner``.

Every user error ends in one line on stderr and exit status 2; Ctrl-C stops the work within one
step, keeps what it can, and ends with status 130.
"""

from __future__ import annotations

from collections.abc import Sequence
from importlib.metadata import version

from brushwork.cli.audio import add_audio
from brushwork.cli.batch import add_batch
from brushwork.cli.feedforward import add_feedforward
from brushwork.cli.options import Parser
from brushwork.cli.runner import run_command
from brushwork.cli.serve import add_serve
from brushwork.cli.stylize import add_stylize
from brushwork.cli.video import add_video
from brushwork.cli.weights import add_weights


def build_parser() -> Parser:
    """The whole command line."""
    parser = Parser(prog="brushwork", description="Neural style transfer (Gatys et al. 2015; feed-forward "
                    "networks after Johnson et al. 2016; audio after Ulyanov and Lebedev 2016).")
    parser.add_argument("--version", action="version", version=f"brushwork {version('brushwork')}")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=Parser)
    add_stylize(commands)
    add_audio(commands)
    add_weights(commands)
    add_feedforward(commands)
    add_serve(commands)
    add_batch(commands)
    add_video(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    args = build_parser().parse_args(argv)
    return run_command(args.handler, args, args.cancellable, args.hint)
