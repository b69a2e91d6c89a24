"""``brushwork serve``: the web page and the HTTP API (the ``[server]`` extra), options from ServerConfig."""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from brushwork.cli.options import add_config_options, given
from brushwork.errors import BrushworkError
from brushwork.progress import CancelToken
from brushwork.server.config import TOKEN_ENV, ServerConfig


def add_serve(commands: Any) -> None:
    """Add ``serve`` to the subcommands ``commands``."""
    serve = commands.add_parser("serve", help="a web page and an HTTP API over a persistent job queue")
    add_config_options(serve, ServerConfig, "server settings")
    serve.add_argument("-q", "--quiet", action="store_true", help="no access log or notes")
    serve.set_defaults(handler=run_serve, cancellable=False, hint="")


def run_serve(args: argparse.Namespace, cancel: CancelToken) -> int:
    """Run ``brushwork serve`` until Ctrl-C; returns the exit status."""
    options = given(args, ServerConfig)
    if "token" not in options and os.environ.get(TOKEN_ENV):
        options["token"] = os.environ[TOKEN_ENV]
    config = ServerConfig(**options)
    try:
        import uvicorn  # noqa: PLC0415 (the [server] extra)

        from brushwork.server.app import create_app  # noqa: PLC0415
        from brushwork.server.store import JobStore  # noqa: PLC0415
    except ImportError as error:
        raise BrushworkError(f"serve needs the [server] extra ({error.name} is missing): "
                             "pip install 'brushwork[server]'") from None
    JobStore(config.folder()).open().close()  # a folder in use by another server: one line, before uvicorn
    app = create_app(config)
    if not args.quiet:
        shown = f"[{config.host}]" if ":" in config.host else config.host
        print(f"brushwork: serving http://{shown}:{config.port}/ (API docs at /docs; jobs in {config.folder()})",
              file=sys.stderr)
    # Idle connections are kept 30 s rather than uvicorn's 5: a client that reuses one just as the
    # server closes it gets no answer (measured: bench/load.py lost 50 of 700 requests that way).
    uvicorn.run(app, host=config.host, port=config.port, log_level="warning" if args.quiet else "info",
                timeout_keep_alive=30)
    return 0
