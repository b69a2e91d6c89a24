"""How many images a second the batch driver can hand out, whatever the workers' speed: the
scheduler's own loop (``brushwork.batch.scheduler.schedule``, with its manifest line and progress
event per image) driving the real pools (Ray actors on a local cluster, and the embedded processes),
on tasks whose work is nothing but a stat (each output exists, so the worker finds it done). One
image a call (``chunk_seconds`` 0, the driver before chunks) against chunks of about a second (the
default). Reported per run: calls and images per second of wall time, and the driver's CPU seconds
per call and per image (with Ray, its core worker's threads included): on a cluster the driver is one
process, and its CPU time per image bounds the rate of the whole run.
Writes bench/results/batch-dispatch-cpu.json; ``bench/batch.py`` records the same under "dispatch".

    python bench/batch_dispatch.py [--images 2000] [--workers 1 2] [--executors ray embedded]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from importlib.metadata import version
from pathlib import Path

from brushwork.batch.config import BatchConfig
from brushwork.batch.embedded import ProcessPool
from brushwork.batch.manifest import Manifest
from brushwork.batch.plan import Task
from brushwork.batch.ray_pool import RayPool
from brushwork.batch.scheduler import Pool, Summary, WorkerDied, schedule
from brushwork.batch.worker import TaskResult, WorkerSettings
from brushwork.config import StyleConfig
from brushwork.feedforward.config import ApplyConfig

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import machine, write_report  # noqa: E402


def local_ray() -> None:
    """A local Ray cluster with this machine's cores, on loopback; its workers inherit this environment."""
    import ray

    ray.init(include_dashboard=False, object_store_memory=100_000_000, _node_ip_address="127.0.0.1",
             log_to_driver=False, logging_level="ERROR")


class Counted:
    """A pool that counts the calls handed to ``pool``."""

    def __init__(self, pool: Pool) -> None:
        self.pool, self.size, self.calls = pool, pool.size, 0

    def submit(self, slot: int, tasks: list[Task]) -> None:
        self.calls += 1
        self.pool.submit(slot, tasks)

    def poll(self, timeout: float) -> list[tuple[int, list[TaskResult] | WorkerDied]]:
        return self.pool.poll(timeout)

    def restart(self, slot: int) -> None:
        self.pool.restart(slot)

    def cancel(self) -> None:
        self.pool.cancel()

    def close(self) -> None:
        self.pool.close()


def noop_tasks(folder: Path, count: int) -> list[Task]:
    """``count`` tasks whose outputs exist: a worker stats the output and reports it done."""
    folder.mkdir(parents=True, exist_ok=True)
    tasks = []
    for k in range(count):
        output = folder / f"{k}.png"
        output.touch()
        tasks.append(Task(folder / "in.png", output, folder / "style.safetensors", f"{k}.png"))
    return tasks


def timed(pool: Counted, tasks: list[Task], out: Path, chunk_seconds: float) -> dict[str, float]:
    """One schedule of ``tasks`` on ``pool``: calls, wall and driver CPU time."""
    events = 0

    def count(event: object) -> None:
        nonlocal events
        events += 1
    calls, wall, cpu = pool.calls, time.perf_counter(), time.process_time()
    summary = Summary()
    with Manifest(out) as manifest:
        schedule(tasks, pool, manifest, summary, 0, [count], None, chunk_seconds)
    wall, cpu, calls = time.perf_counter() - wall, time.process_time() - cpu, pool.calls - calls
    if summary.done != len(tasks) or events != len(tasks):
        raise SystemExit(f"{summary.line()}; {events} progress events")
    return {"images": len(tasks), "calls": calls, "wall_seconds": round(wall, 3),
            "images_per_second": round(len(tasks) / wall, 1), "calls_per_second": round(calls / wall, 1),
            "driver_cpu_ms_per_call": round(1000 * cpu / calls, 3),
            "driver_cpu_ms_per_image": round(1000 * cpu / len(tasks), 4)}


def measure(executors: list[str], workers: list[int], images: int, work: Path) -> list[dict[str, object]]:
    """For each executor and number of workers, one image a call and the default chunks."""
    settings = WorkerSettings(StyleConfig(), ApplyConfig(device="cpu"), 0, False)
    results: list[dict[str, object]] = []
    for executor in executors:
        for size in workers:
            pool = Counted(RayPool(settings, "auto", size, 1, 0.0) if executor == "ray" else
                           ProcessPool(settings, size, 1))
            try:
                timed(pool, noop_tasks(work / "warm-up", 4 * size), work / "warm-up", 0.0)  # the workers started
                for chunk_seconds in (0.0, BatchConfig.chunk_seconds):
                    tasks = noop_tasks(work / f"{executor}-{size}-{chunk_seconds}", images)
                    results.append({"executor": executor, "workers": size, "chunk_seconds": chunk_seconds,
                                    **timed(pool, tasks, tasks[0].output.parent, chunk_seconds),
                                    "load_average_after": round(os.getloadavg()[0], 2)})
                    print(results[-1], flush=True)
            finally:
                pool.close()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=int, default=2000, help="no-op images per run")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--executors", nargs="+", default=["ray", "embedded"], choices=("ray", "embedded"))
    parser.add_argument("--output", type=Path, default=None, help="the JSON to write")
    args = parser.parse_args()
    info = machine("cpu")
    if "ray" in args.executors:
        local_ray()
        info["ray"] = version("ray")
    with tempfile.TemporaryDirectory() as tmp:
        results = measure(args.executors, args.workers, args.images, Path(tmp))
    write_report("batch-dispatch", {
        "benchmark": "brushwork batch driver: images handed out per second on no-op tasks (a stat each), through "
                     "the scheduler and the real pools, one image a call against chunks",
        "machine": info, "results": results}, "cpu", args.output)


if __name__ == "__main__":
    main()
