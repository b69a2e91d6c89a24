"""``python -m brushwork`` and the ``brushwork`` command: the command line, with Ctrl-C answered by one
line and exit status 130 even while PyTorch is still being imported."""

import sys

from brushwork.errors import INTERRUPTED


def run() -> None:
    """Import and run ``brushwork.cli.main``; exit with its status."""
    try:
        from brushwork.cli import main  # PyTorch: seconds, during which Ctrl-C must not print a traceback

        status = main()
    except KeyboardInterrupt:
        print("brushwork: interrupted", file=sys.stderr)
        status = INTERRUPTED
    sys.exit(status)


if __name__ == "__main__":
    run()
