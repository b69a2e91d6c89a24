"""The Ray pool: the same workers as Ray actors on a cluster (``pip install 'brushwork[ray]'``, and
brushwork installed on every node). Each actor loads its networks once and keeps them; GPUs are
reserved per actor (``gpus_per_worker``, so Ray places actors where GPUs are free), and tasks carry
only paths: every worker reads its input and writes its output itself, so no image passes through the
driver or the object store. An actor that dies (kill -9, out of memory, its node gone) is replaced,
and the tasks of its call are tried again by the scheduler on whichever actors are free.
"""

from __future__ import annotations

from typing import Any

from brushwork.batch.plan import Task
from brushwork.batch.scheduler import WorkerDied
from brushwork.batch.worker import WorkerSettings, TaskResult, Worker
from brushwork.errors import BrushworkError
from brushwork.progress import CancelToken


class RayWorker:
    """A :class:`Worker` as a Ray actor; its second thread (``max_concurrency=2``) takes ``cancel``
    while ``run`` works."""

    def __init__(self, settings: WorkerSettings, threads: int) -> None:
        self.token = CancelToken()
        # Ray sets CUDA_VISIBLE_DEVICES to the actor's GPUs, so the settings' "auto" finds them.
        self.worker = Worker(settings, None, threads, self.token)

    def run(self, tasks: list[Task]) -> list[TaskResult]:
        return self.worker.run_all(tasks)

    def cancel(self) -> None:
        self.token.cancel()


def _ray() -> Any:
    try:
        import ray
    except ImportError:
        raise BrushworkError("--ray: Ray is not installed; pip install 'brushwork[ray]'") from None
    return ray


def connect(address: str) -> bool:
    """Join the Ray cluster at ``address`` (auto, local or host:port) unless this process already has
    one; returns whether this call connected (and so should disconnect)."""
    ray = _ray()
    if ray.is_initialized():
        return False
    try:
        # The workers' lines would break the progress bar; their failures come back as results.
        ray.init(address=address, log_to_driver=False, include_dashboard=False if address == "local" else None,
                 logging_level="ERROR")
    except (ConnectionError, ValueError, RuntimeError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise BrushworkError(f"--ray {address}: cannot join a Ray cluster ({first})") from None
    return True


class RayPool:
    """``size`` actors (default: as many as the cluster's GPUs, or CPUs, hold), each reserving
    ``threads`` CPUs and ``gpus`` GPUs (default: 1 where the cluster has GPUs, else 0)."""

    def __init__(self, settings: WorkerSettings, address: str, size: int | None = None, threads: int | None = None,
                 gpus: float | None = None) -> None:
        self.ray = _ray()
        self.owner = connect(address)
        resources = self.ray.cluster_resources()
        self.gpus = gpus if gpus is not None else (1.0 if resources.get("GPU", 0) >= 1 else 0.0)
        self.threads = threads or 1
        fits = resources.get("GPU", 0) / self.gpus if self.gpus else resources.get("CPU", 1) / self.threads
        self.size = size or max(1, int(fits))
        self.actor = self.ray.remote(RayWorker).options(num_cpus=self.threads, num_gpus=self.gpus,
                                                        max_concurrency=2, max_restarts=0)
        self.settings = settings
        self.actors = [self.actor.remote(settings, self.threads) for _ in range(self.size)]
        self.calls: dict[Any, int] = {}  # the ObjectRef of each call in flight -> its actor's slot

    def submit(self, slot: int, tasks: list[Task]) -> None:
        self.calls[self.actors[slot].run.remote(tasks)] = slot

    def poll(self, timeout: float) -> list[tuple[int, list[TaskResult] | WorkerDied]]:
        if not self.calls:
            return []
        ready, rest = self.ray.wait(list(self.calls), num_returns=1, timeout=timeout)
        if ready and rest:  # and whatever else has ended by now
            ready += self.ray.wait(rest, num_returns=len(rest), timeout=0)[0]
        ended: list[tuple[int, list[TaskResult] | WorkerDied]] = []
        for ref in ready:
            slot = self.calls.pop(ref)
            try:
                ended.append((slot, self.ray.get(ref)))
            except self.ray.exceptions.RayError as exc:  # the actor died (run itself never raises)
                ended.append((slot, WorkerDied(" ".join(str(exc).split())[:160])))
        return ended

    def restart(self, slot: int) -> None:
        self.ray.kill(self.actors[slot], no_restart=True)
        self.actors[slot] = self.actor.remote(self.settings, self.threads)

    def cancel(self) -> None:
        for actor in self.actors:
            actor.cancel.remote()

    def close(self) -> None:
        for actor in self.actors:
            self.ray.kill(actor, no_restart=True)
        if self.owner:
            self.ray.shutdown()
