"""The driver of a batch: tasks handed one at a time to each worker of a pool, results written to the
manifest as they come, a task whose worker died tried again on another worker, Ctrl-C answered by
stopping the hand-out and letting the work in flight end. The same loop drives every pool."""

from __future__ import annotations

import time
from collections import Counter, deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Protocol

from brushwork.batch.manifest import Manifest
from brushwork.batch.plan import Task
from brushwork.batch.worker import CANCELLED, DONE, FAILED, TaskResult
from brushwork.progress import Callback, CancelToken, Clock, ProgressEvent

#: Seconds that work in flight gets to end after Ctrl-C (an optimisation stops within one iteration)
#: before its workers are stopped; no output is half written either way.
GRACE = 60.0


@dataclass(frozen=True)
class WorkerDied:
    """A worker that ended without a result (killed, out of memory, its node gone): ``reason`` says how."""

    reason: str


class Pool(Protocol):
    """Workers numbered 0 to ``size - 1``, each running one task at a time."""

    size: int

    def submit(self, slot: int, task: Task) -> None:
        """Start ``task`` on the worker ``slot`` (idle)."""

    def poll(self, timeout: float) -> list[tuple[int, TaskResult | WorkerDied]]:
        """What workers ended within ``timeout`` s: a result, or the worker's death."""

    def restart(self, slot: int) -> None:
        """Put a new worker in the place of the dead one ``slot``."""

    def cancel(self) -> None:
        """Ask the work in flight to stop soon (an optimisation within one iteration)."""

    def close(self) -> None:
        """Stop every worker."""


@dataclass
class Summary:
    """What a batch did: images ``done``, ``skipped`` (their outputs existed), ``failed`` (input, one-line
    reason), ``pending`` (not done when it was cancelled), ``retried`` (tasks whose worker died)."""

    done: int = 0
    skipped: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)
    pending: int = 0
    retried: int = 0

    def line(self) -> str:
        """'12 done, 3 skipped (finished before), 1 failed' and what was left or retried."""
        parts = [f"{self.done} done", f"{self.skipped} skipped (finished before)", f"{len(self.failed)} failed"]
        parts += [f"{self.retried} retried after a worker died"] if self.retried else []
        parts += [f"{self.pending} not done (rerun the same command to finish them)"] if self.pending else []
        return ", ".join(parts)


def schedule(todo: Sequence[Task], pool: Pool, manifest: Manifest, summary: Summary, retries: int,
             callbacks: Iterable[Callback] = (), cancel: CancelToken | None = None) -> None:
    """Run ``todo`` on ``pool`` into ``summary`` and ``manifest``; returns when every task is done or has
    failed, or, after ``cancel``, when the work in flight has ended (``summary.pending`` counts the rest)."""
    callbacks = list(callbacks)
    queue: deque[Task] = deque(todo)
    running: dict[int, Task] = {}
    deaths: Counter[Path] = Counter()  # by output: a retried task is another Task (its attempt)
    clock, finished, stopping_since = Clock(len(todo)), 0, None

    def record(result: TaskResult, attempts: int) -> None:
        nonlocal finished
        manifest.write(result, attempts)
        if result.status == DONE:
            summary.done += 1
        else:
            summary.failed.append((str(result.task.input), result.error or result.status))
        finished += 1
        elapsed, eta = clock.advance()
        event = ProgressEvent("batch", "images", finished, len(todo), {}, elapsed, eta, frame=finished - 1,
                              checkpoint=str(result.task.output) if result.status == DONE else None)
        for callback in callbacks:
            callback(event)

    while queue or running:
        if cancel is not None and cancel.cancelled and stopping_since is None:
            stopping_since = time.monotonic()
            summary.pending += len(queue)
            queue.clear()
            pool.cancel()
        if stopping_since is not None and time.monotonic() - stopping_since > GRACE:
            summary.pending += len(running)
            return
        for slot in range(pool.size):
            if queue and slot not in running:
                running[slot] = queue.popleft()
                pool.submit(slot, running[slot])
        for slot, outcome in pool.poll(0.2):
            task = running.pop(slot, None)
            if isinstance(outcome, WorkerDied):
                pool.restart(slot)
                if task is None:  # it died idle: nothing lost
                    continue
                deaths[task.output] += 1
                if stopping_since is not None:
                    summary.pending += 1
                elif deaths[task.output] <= retries:
                    summary.retried += 1
                    queue.appendleft(replace(task, attempt=deaths[task.output]))
                else:
                    error = f"{task.input}: its worker died {deaths[task.output]} times ({outcome.reason}); not retried"
                    record(TaskResult(task, FAILED, 0.0, "-", error), deaths[task.output])
            elif outcome.status == CANCELLED:
                summary.pending += 1
            else:
                record(outcome, deaths[outcome.task.output] + 1)
