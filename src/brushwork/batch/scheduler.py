"""The driver of a batch: tasks handed to each worker of a pool a chunk at a time (about a second of
work a call, so that the driver's cost per call does not bound a cluster's rate), results written to the
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
    """Workers numbered 0 to ``size - 1``, each running one call (a chunk of tasks, in order) at a time."""

    size: int

    def submit(self, slot: int, tasks: list[Task]) -> None:
        """Start ``tasks`` on the worker ``slot`` (idle), one after another."""

    def poll(self, timeout: float) -> list[tuple[int, list[TaskResult] | WorkerDied]]:
        """What workers ended their call within ``timeout`` s: a result per task, or the worker's death."""

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


def chunk_size(seconds_per_image: float | None, target: float, queued: int, workers: int) -> int:
    """Images for a worker's next call: about ``target`` seconds of them at the mean time an image has
    taken so far (one while nothing is measured yet, or with ``target`` 0), and no more than an equal
    share of the ``queued`` ones, so that near the end every worker still has some and they finish together."""
    if not target or seconds_per_image is None:
        return 1
    share = -(-queued // workers)
    return max(1, min(share, int(target / max(seconds_per_image, 1e-6))))


def next_chunk(queue: deque[Task], size: int) -> list[Task]:
    """Up to ``size`` tasks from the front of ``queue``; a task retried after its worker died goes alone,
    so that an image that kills its worker takes no other image down with it a second time."""
    if queue[0].attempt:
        return [queue.popleft()]
    chunk = []
    while queue and len(chunk) < size and not queue[0].attempt:
        chunk.append(queue.popleft())
    return chunk


def schedule(todo: Sequence[Task], pool: Pool, manifest: Manifest, summary: Summary, retries: int,
             callbacks: Iterable[Callback] = (), cancel: CancelToken | None = None, chunk_seconds: float = 0.0) -> None:
    """Run ``todo`` on ``pool`` into ``summary`` and ``manifest``, handing each worker about
    ``chunk_seconds`` of images a call (see :func:`chunk_size`); returns when every task is done or has
    failed, or, after ``cancel``, when the work in flight has ended (``summary.pending`` counts the rest).

    When a worker dies, the tasks of its call that had not come back are tried again, each alone (those
    it had written are then found done, not painted again); a task whose worker dies while it runs alone
    is tried ``retries`` times more, then fails."""
    callbacks = list(callbacks)
    queue: deque[Task] = deque(todo)
    running: dict[int, list[Task]] = {}
    deaths: Counter[Path] = Counter()  # by output, deaths while it ran alone: a retried task is another Task
    clock, finished, stopping_since = Clock(len(todo)), 0, None
    worked, measured = 0.0, 0  # seconds of work the workers reported, and over how many images

    def record(result: TaskResult) -> None:
        nonlocal finished
        manifest.write(result, result.task.attempt + 1)
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

    def died(chunk: list[Task], reason: str) -> None:
        retried = []
        for task in chunk:
            if len(chunk) == 1:  # it alone can have killed its worker
                deaths[task.output] += 1
            if stopping_since is not None:
                summary.pending += 1
            elif deaths[task.output] <= retries:
                retried.append(replace(task, attempt=task.attempt + 1))
            else:
                error = f"{task.input}: its worker died {task.attempt + 1} times ({reason}); not retried"
                record(TaskResult(task, FAILED, 0.0, "-", error))
        summary.retried += len(retried)
        queue.extendleft(reversed(retried))

    while queue or running:
        if cancel is not None and cancel.cancelled and stopping_since is None:
            stopping_since = time.monotonic()
            summary.pending += len(queue)
            queue.clear()
            pool.cancel()
        if stopping_since is not None and time.monotonic() - stopping_since > GRACE:
            summary.pending += sum(map(len, running.values()))
            return
        for slot in range(pool.size):
            if queue and slot not in running:
                size = chunk_size(worked / measured if measured else None, chunk_seconds, len(queue), pool.size)
                running[slot] = next_chunk(queue, size)
                pool.submit(slot, running[slot])
        for slot, outcome in pool.poll(0.2):
            chunk = running.pop(slot, [])
            if isinstance(outcome, WorkerDied):
                pool.restart(slot)
                died(chunk, outcome.reason)  # nothing lost when it died idle (an empty chunk)
                continue
            for result in outcome:
                if result.status == CANCELLED:
                    summary.pending += 1
                    continue
                worked, measured = worked + result.seconds, measured + 1
                record(result)
