"""One worker of a batch: it runs tasks one after another, a chunk of them a call, loading each
network, and the backbone of the optimisation, once and keeping them; every problem with a task
becomes its result, never an exception, so that one bad image does not stop the worker.
"""

from __future__ import annotations

import os
import socket
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import torch

from brushwork.api import backbone_for, stylize
from brushwork.batch.plan import Task
from brushwork.config import StyleConfig
from brushwork.errors import BrushworkError
from brushwork.feedforward.apply import Engine, open_engine, stylize_with
from brushwork.feedforward.config import ApplyConfig
from brushwork.hardware import resolve_device
from brushwork.image import one_line, remove_temporaries, save_image
from brushwork.nets.vgg import Backbone
from brushwork.progress import Cancelled, CancelToken
from brushwork.recording import provenance

#: The states a task ends in. ``cancelled``: stopped by Ctrl-C, neither done nor failed.
DONE, FAILED, CANCELLED = "done", "failed", "cancelled"


@dataclass(frozen=True)
class TaskResult:
    """How one task ended: ``status`` (done, failed or cancelled), ``seconds`` of work, the ``worker``
    that ran it (host:pid) and, when it failed, a one-line ``error`` naming the file."""

    task: Task
    status: str
    seconds: float
    worker: str
    error: str | None = None


@dataclass(frozen=True)
class WorkerSettings:
    """What a worker needs besides its tasks: the settings of both paths and the batch's seed."""

    style: StyleConfig
    apply: ApplyConfig
    seed: int
    overwrite: bool


class Worker:
    """Runs tasks on ``device`` (default: the settings' own), with ``threads`` CPU threads; ``cancel``
    stops an optimisation within one iteration (its task ends ``cancelled``)."""

    def __init__(self, settings: WorkerSettings, device: str | None = None, threads: int | None = None,
                 cancel: CancelToken | None = None) -> None:
        if threads is not None:
            torch.set_num_threads(threads)
        self.style = replace(settings.style, device=device) if device else settings.style
        self.apply = replace(settings.apply, device=device) if device else settings.apply
        self.settings, self.cancel = settings, cancel
        self.name = f"{socket.gethostname()}:{os.getpid()}"
        self.engines: dict[Path, tuple[Engine, dict[str, Any]]] = {}
        self.backbone: Backbone | None = None

    def run(self, task: Task) -> TaskResult:
        """Paint ``task``'s output. An output that exists (without ``overwrite``) is not replaced: the task
        is done (a worker that died after writing it, or another run, painted it since the plan was made)."""
        began = time.perf_counter()
        try:
            if self.settings.overwrite or not task.output.exists():
                if task.attempt:  # a worker died holding it, maybe in the middle of writing it
                    remove_temporaries(task.output)
                self._paint(task)
            status, error = DONE, None
        except Cancelled:
            status, error = CANCELLED, None
        except BrushworkError as exc:
            status, error = FAILED, str(exc)
        except Exception as exc:  # a bug or the device (out of memory): this task fails, the worker goes on
            status, error = FAILED, f"{task.input}: {type(exc).__name__}: {one_line(exc)}"[:500]
        return TaskResult(task, status, time.perf_counter() - began, self.name, error)

    def run_all(self, tasks: list[Task]) -> list[TaskResult]:
        """Run a chunk of tasks in order, a result each; after ``cancel`` the rest end ``cancelled``
        without being started."""
        results = []
        for task in tasks:
            stopped = self.cancel is not None and self.cancel.cancelled
            results.append(TaskResult(task, CANCELLED, 0.0, self.name) if stopped else self.run(task))
        return results

    def _paint(self, task: Task) -> None:
        batch = {"seed": self.settings.seed, "relative": task.relative}
        if task.network:
            if task.style not in self.engines:
                self.engines[task.style] = open_engine(task.style, self.apply)
            engine, meta = self.engines[task.style]
            image = stylize_with(engine, meta, task.input, self.apply)
            inputs = {"content": str(task.input), "model": str(task.style), "style": str(meta.get("style", "?"))}
            metadata = provenance("apply", self.apply, inputs, batch=batch)
        else:
            if self.backbone is None:
                self.backbone = backbone_for(self.style, resolve_device(self.style.device))
            image = stylize(task.input, task.style, self.style, backbone=self.backbone, cancel=self.cancel)
            metadata = provenance("stylize", self.style, {"content": str(task.input), "styles": [str(task.style)]},
                                  batch=batch)
        task.output.parent.mkdir(parents=True, exist_ok=True)
        save_image(image, task.output, metadata)
