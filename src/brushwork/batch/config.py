"""BatchConfig: every default of a batch run (where and how it runs), validated once.

What is painted is decided by the settings of the path that paints it: StyleConfig for style images
(the optimisation), ApplyConfig for networks (the feed-forward path).
"""

from __future__ import annotations

from dataclasses import dataclass

from brushwork.config import Settings, _check, _opt, check_types


@dataclass(frozen=True)
class BatchConfig(Settings):
    """Where a batch runs, how it recovers, and how each image's style is drawn."""

    seed: int = _opt(0, "seed of the style or network drawn for each image (a function of it and the image's path "
                     "relative to INPUTS, so reruns and any number of workers draw the same); also seeds a noise start")
    workers: int | None = _opt(None, "worker processes (default: one per GPU, else 1; with --ray as many as the "
                               "cluster's GPUs or CPUs hold)")
    threads: int | None = _opt(None, "CPU threads of each worker, and the CPUs a Ray worker reserves (default: this "
                               "machine's cores shared among the workers; with --ray 1)")
    gpus_per_worker: float | None = _opt(None, "GPUs a Ray worker reserves, fractions allowed (default: 1 where the "
                                         "cluster has GPUs, else 0)")
    chunk_seconds: float = _opt(1.0, "seconds of work handed to a worker in one call: its number of images follows "
                                "their measured time (one a call at first, fewer near the end so that the workers "
                                "finish together); 0 sends one image a call")
    retries: int = _opt(2, "times a task whose worker died (killed, out of memory) is tried again on another worker")
    ray: str | None = _opt(None, "run on a Ray cluster: auto (the cluster this machine belongs to), its ADDRESS, or "
                           "local (a private one started on this machine); needs pip install 'brushwork[ray]'")
    overwrite: bool = _opt(False, "redo images whose outputs exist (default: skip them, so that a rerun does only "
                           "the rest)")

    def __post_init__(self) -> None:
        check_types(self)
        _check(self.workers is None or 1 <= self.workers <= 4096, "workers", "must be 1 to 4096", self.workers)
        _check(self.threads is None or 1 <= self.threads <= 1024, "threads", "must be 1 to 1024", self.threads)
        _check(self.gpus_per_worker is None or 0 <= self.gpus_per_worker <= 64, "gpus_per_worker",
               "must be 0 to 64", self.gpus_per_worker)
        _check(0 <= self.chunk_seconds <= 3600, "chunk_seconds", "must be 0 to 3600", self.chunk_seconds)
        _check(0 <= self.retries <= 100, "retries", "must be 0 to 100", self.retries)
        _check(self.ray is None or self.ray.strip() != "", "ray", "must be auto, local or an address", "''")
