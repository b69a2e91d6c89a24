"""What every command shares: the one progress bar, and the one wrapper that turns errors into one
line (exit 2) and Ctrl-C into a cancelled run (exit 130, what was kept named, no traceback)."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from collections.abc import Callable
from types import FrameType
from typing import Any

from tqdm import tqdm

from brushwork.cli.options import flag
from brushwork.errors import INTERRUPTED, BrushworkError, SettingError
from brushwork.progress import Cancelled, CancelToken, ProgressEvent

Handler = Callable[[argparse.Namespace, CancelToken], int]


class ProgressBar:
    """A tqdm bar on stderr fed by ProgressEvents (or by ``update``), drawn from its first update on,
    so that an error found before any work stands alone on its line."""

    def __init__(self, quiet: bool, desc: str, unit: str = "it") -> None:
        self.quiet, self.desc, self.unit = quiet, desc, unit
        self.bar: tqdm | None = None

    def __call__(self, event: ProgressEvent) -> None:
        shown: dict[str, Any] = {"px": event.size} if event.size and event.task == "stylize" else {}
        self.update(event.step, event.total, {**shown, **{k: f"{v:.4g}" for k, v in event.losses.items()}})

    def update(self, done: int, total: int | None = None, postfix: dict[str, Any] | None = None) -> None:
        if self.quiet:
            return
        if self.bar is None:
            self.bar = tqdm(total=total, unit=self.unit, unit_scale=self.unit == "B", dynamic_ncols=True,
                            desc=self.desc, file=sys.stderr)
        self.bar.total = total or self.bar.total
        if postfix:
            self.bar.set_postfix(postfix, refresh=False)
        self.bar.update(done - self.bar.n)  # early stopping skips the rest of a scale

    def write(self, line: str) -> None:
        """A note above the bar."""
        if not self.quiet:
            tqdm.write(line, file=sys.stderr)

    def close(self, finished: bool = False) -> None:
        """Close the bar; ``finished`` fills it (a scale that converged early skipped steps)."""
        if self.bar is not None:
            if finished:
                self.bar.total = self.bar.n
            self.bar.close()
            self.bar = None


def _one_line(error: BrushworkError) -> str:
    """The message, with a setting's field name at its start replaced by the option's flag."""
    message = str(error)
    if isinstance(error, SettingError) and message.startswith(error.field):
        return flag(error.field) + message[len(error.field):]
    return message


def run_command(handler: Handler, args: argparse.Namespace, cancellable: bool, hint: str = "") -> int:
    """Run a command's ``handler``; returns the exit status.

    For a ``cancellable`` command Ctrl-C cancels the handler's token (the work stops within one step
    and keeps what it has; a second Ctrl-C stops at once); otherwise it interrupts at once. Either
    way the command ends with one line and status 130; ``hint`` follows what was kept.
    """
    token = CancelToken()
    # Not outside the main thread (signals go there), nor where SIGINT is ignored (a background job).
    handle = (cancellable and threading.current_thread() is threading.main_thread()
              and signal.getsignal(signal.SIGINT) is not signal.SIG_IGN)

    def on_sigint(signum: int, frame: FrameType | None) -> None:
        if token.cancelled:
            raise KeyboardInterrupt
        token.cancel()

    previous = signal.signal(signal.SIGINT, on_sigint) if handle else None
    try:
        return handler(args, token)
    except Cancelled as stop:
        kept = f"; kept {stop.checkpoint}{hint}" if stop.checkpoint is not None else "; nothing written"
        print(f"brushwork: interrupted after step {stop.step}{kept}", file=sys.stderr)
        return INTERRUPTED
    except KeyboardInterrupt:
        print("brushwork: interrupted; nothing written", file=sys.stderr)
        return INTERRUPTED
    except BrushworkError as error:
        print(f"brushwork: error: {_one_line(error)}", file=sys.stderr)
        return 2
    finally:
        if handle:
            signal.signal(signal.SIGINT, previous)
