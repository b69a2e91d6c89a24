"""``python -m brushwork`` and the ``brushwork`` command: the command line, with Ctrl-C answered by one
line and exit status 130 even while PyTorch is still being imported."""

import signal
import sys

from brushwork.errors import INTERRUPTED


def run() -> None:
    """Import and run ``brushwork.cli.main``; exit with its status."""
    try:
        # PyTorch takes seconds to import, and some of its import code swallows a KeyboardInterrupt
        # (measured: a Ctrl-C 0.3 s after start was lost and the run went on). So SIGINT is held back
        # during the import and delivered right after it, inside this try.
        # (POSIX only; elsewhere the import runs unguarded.)
        mask = getattr(signal, "pthread_sigmask", None)
        held = mask(signal.SIG_BLOCK, {signal.SIGINT}) if mask is not None else None
        try:
            from brushwork.cli import main
        finally:
            if mask is not None and held is not None:
                mask(signal.SIG_SETMASK, held)
        status = main()
    except KeyboardInterrupt:
        print("brushwork: interrupted", file=sys.stderr)
        status = INTERRUPTED
    sys.exit(status)


if __name__ == "__main__":
    run()
