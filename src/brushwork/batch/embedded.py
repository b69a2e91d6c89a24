"""The embedded pool: worker processes on this machine, one per GPU (or as many as asked), each with
its share of the CPU cores. Processes are spawned, not forked (a fork of a process with PyTorch's
threads running can hang), ignore Ctrl-C (the driver decides what stops), and each loads its networks
once. A worker that dies (kill -9, the out-of-memory killer) is noticed by its process sentinel."""

from __future__ import annotations

import multiprocessing
import os
import signal
import sys
from multiprocessing.connection import Connection, wait
from typing import Any

import torch

from brushwork.batch.plan import Task
from brushwork.batch.scheduler import WorkerDied
from brushwork.batch.worker import WorkerSettings, TaskResult, Worker
from brushwork.progress import CancelToken


class _SharedToken(CancelToken):
    """A CancelToken whose flag is a multiprocessing Event, raised by the driver for every worker."""

    def __init__(self, event: Any) -> None:
        self._event = event


def serve(conn: Connection, settings: WorkerSettings, device: str | None, threads: int, stop: Any) -> None:
    """A worker process's life: chunks of tasks from ``conn`` until it closes, their results sent back."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # Stopped by the driver (terminate): unwind, so that an output being written leaves no temporary file.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    worker = Worker(settings, device, threads, _SharedToken(stop))
    while True:
        try:
            tasks = conn.recv()
        except (EOFError, OSError):
            return
        results = worker.run_all(tasks)
        try:
            conn.send(results)
        except OSError:  # the driver is gone (it stopped the run): the output, if any, is complete
            return


def default_workers() -> int:
    """One per GPU; on a CPU one, which uses all the cores (measured: bench/results/batch-cpu.json)."""
    return max(1, torch.cuda.device_count())


def cpu_count() -> int:
    """The cores this process may run on."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


class ProcessPool:
    """``size`` worker processes; with ``device`` auto and GPUs present, worker i runs on GPU i mod n."""

    def __init__(self, settings: WorkerSettings, size: int, threads: int | None = None) -> None:
        self.context = multiprocessing.get_context("spawn")
        self.settings, self.size = settings, size
        self.threads = threads or max(1, cpu_count() // size)
        self.stop = self.context.Event()
        gpus = torch.cuda.device_count() if settings.style.device == "auto" else 0
        self.devices = [f"cuda:{slot % gpus}" if gpus else None for slot in range(size)]
        self.processes: list[Any] = [None] * size
        self.conns: list[Connection] = [None] * size  # type: ignore[list-item]
        self.lost: list[int] = []
        for slot in range(size):
            self._start(slot)

    def _start(self, slot: int) -> None:
        ours, theirs = self.context.Pipe()
        process = self.context.Process(target=serve, args=(theirs, self.settings, self.devices[slot], self.threads,
                                                           self.stop), daemon=True, name=f"brushwork-batch-{slot}")
        process.start()
        theirs.close()
        self.processes[slot], self.conns[slot] = process, ours

    def submit(self, slot: int, tasks: list[Task]) -> None:
        try:
            self.conns[slot].send(tasks)
        except OSError:  # it died before taking the task: poll reports it
            self.lost.append(slot)

    def poll(self, timeout: float) -> list[tuple[int, list[TaskResult] | WorkerDied]]:
        if self.lost:
            lost, self.lost = self.lost, []
            return [(slot, WorkerDied("its pipe closed")) for slot in lost]
        ready = set(wait([*self.conns, *(p.sentinel for p in self.processes)], timeout))
        ended: list[tuple[int, list[TaskResult] | WorkerDied]] = []
        for slot, (conn, process) in enumerate(zip(self.conns, self.processes)):
            if conn in ready:
                try:
                    ended.append((slot, conn.recv()))
                    continue
                except (EOFError, OSError):
                    pass
            if process.sentinel in ready or conn in ready:
                process.join(timeout=5)
                code = process.exitcode
                how = f"killed by signal {-code}" if code is not None and code < 0 else f"exit status {code}"
                ended.append((slot, WorkerDied(how)))
        return ended

    def restart(self, slot: int) -> None:
        self.conns[slot].close()
        self._start(slot)

    def cancel(self) -> None:
        self.stop.set()

    def close(self) -> None:
        for conn in self.conns:
            conn.close()  # an idle worker's recv ends: it exits
        for process in self.processes:
            process.join(timeout=10)
            if process.is_alive():
                process.terminate()
                process.join(timeout=5)
