"""The worker processes of ``brushwork serve``: each takes the oldest queued job from the store, runs
it with the library (never in the API's event loop), and leaves in the job's folder what the API
serves: ``events.jsonl`` (one ``ProgressEvent.to_dict()`` per iteration), ``preview.jpg`` (the latest
iterate, every ``preview_seconds``), ``snapshot-NNNNNN.png`` (every ``snapshot_seconds``, what a
requeued job resumes from) and ``result.png`` (with its provenance embedded).

A DELETE sets the job's cancel flag, which the worker reads after every iteration, so the run stops
within one. A worker dies with its server (PR_SET_PDEATHSIG, and a parent check after every
iteration); a worker asked to stop puts its job back in the queue after a last snapshot.
"""

from __future__ import annotations

import ctypes
import json
import multiprocessing
import os
import signal
import sys
import threading
import time
import traceback
from dataclasses import replace
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import torch
from PIL import Image

from brushwork.api import backbone_for, stylize
from brushwork.audio.api import stylize_audio
from brushwork.audio.config import AudioConfig
from brushwork.audio.io import load_sound, save_audio
from brushwork.audio.spectrogram import spectrogram_image
from brushwork.colour import recombine
from brushwork.config import StyleConfig
from brushwork.errors import BrushworkError
from brushwork.feedforward.apply import apply_style_network
from brushwork.feedforward.config import ApplyConfig
from brushwork.image import load_image, one_line, save_image, to_pil
from brushwork.nets.vgg import Backbone
from brushwork.progress import Cancelled, CancelToken, ProgressEvent
from brushwork.recording import provenance
from brushwork.server.config import ServerConfig
from brushwork.server.store import Job, JobStore, result_name, snapshot_name

T = TypeVar("T")
#: Seconds between looks at an empty queue.
IDLE_POLL = 0.2
#: Seconds between progress writes to the database (every event still goes to events.jsonl).
REPORT_EVERY = 0.5


class ServerStopping(Exception):
    """The worker was told to stop (or lost its server) while running a job."""


def _die_with_parent() -> None:
    """Ask Linux to kill this process when its parent dies, even by SIGKILL (elsewhere: the parent
    check of :class:`Reporter` does it after the next iteration)."""
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # 1 = PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def resume_plan(config: StyleConfig, step: int) -> tuple[StyleConfig, int]:
    """The settings that continue a run of ``config`` from its iterate after ``step`` (saved at the
    size of the scale it belongs to): the scales from that one on, the current one with the
    iterations it had left, starting from the snapshot (``init`` is set by the caller). Returns
    (settings, the steps already done)."""
    plan = config.plan_scales()
    start = 0
    for k, (_, iterations) in enumerate(plan):
        if step < start + iterations or k == len(plan) - 1:
            left = max(1, start + iterations - step)
            rest = [left, *(n for _, n in plan[k + 1:])]
            return replace(config, scales=len(rest), scale_iterations=tuple(rest)), min(step, start + iterations - 1)
        start += iterations
    raise AssertionError("unreachable: the last scale always matches")


def stage_of(config: StyleConfig, step: int) -> str:
    """The stage name ("scale k/n") of the whole run of ``config`` that ``step`` (from 1) belongs to."""
    plan = config.plan_scales()
    start = 0
    for k, (_, iterations) in enumerate(plan):
        start += iterations
        if step <= start:
            return f"scale {k + 1}/{len(plan)}"
    return f"scale {len(plan)}/{len(plan)}"


class Reporter:
    """The progress callback of one job: appends every event to events.jsonl (steps counted over the
    whole job, a resumed one included), writes the preview and, for a stylize job (``config``), the
    snapshots on their clocks, records progress in the store, and turns a DELETE, a stop or a lost
    claim into a cancel. ``total`` 0 takes the events' own; ``picture`` turns an event's preview
    into the image shown (RGB [1,3,H,W] in [0,1])."""

    def __init__(self, store: JobStore, job: Job, server: ServerConfig, config: StyleConfig | None, done: int,
                 total: int, cancel: CancelToken, stop: threading.Event, parent: int,
                 picture: Callable[[torch.Tensor], torch.Tensor] | None = None) -> None:
        self.store, self.job, self.server, self.config = store, job, server, config
        self.folder = store.folder(job.id)
        self.done, self.total, self.cancel, self.stop, self.parent = done, total, cancel, stop, parent
        self.picture = picture
        self.events = (self.folder / "events.jsonl").open("a", encoding="utf-8")
        self.last_report = self.last_preview = self.last_snapshot = time.monotonic()
        self.preview_step = job.progress.get("preview_step", 0) if job.progress else 0
        self.stopping = False
        self.latest: dict[str, Any] | None = None

    def __call__(self, event: ProgressEvent) -> None:
        step = self.done + event.step
        self.total = self.total or event.total
        record = {**event.to_dict(), "step": step, "total": self.total, "time": time.time()}
        if self.config is not None:
            record["stage"] = stage_of(self.config, step)
        now = time.monotonic()
        if step == self.done + 1 or now - self.last_preview >= self.server.preview_seconds or step == self.total:
            self.preview_step = self.save_preview(event, step) or self.preview_step
            self.last_preview = now
        if self.config is not None and now - self.last_snapshot >= self.server.snapshot_seconds and event.render:
            self.save_snapshot(to_pil(event.preview()), step)
            self.last_snapshot = now
        record["preview_step"] = self.preview_step
        self.events.write(json.dumps(record) + "\n")
        self.events.flush()
        self.latest = record
        if now - self.last_report >= REPORT_EVERY or step == self.total:
            self.store.report(self.job, record)
            self.last_report = now
        self.check_cancel()

    def check_cancel(self) -> None:
        """Cancel the run before its next iteration if DELETE asked, the worker must stop or the
        server is gone."""
        if self.stop.is_set() or os.getppid() != self.parent:
            self.stopping = True
            self.cancel.cancel()
        elif self.store.cancel_requested(self.job):
            self.cancel.cancel()

    def save_preview(self, event: ProgressEvent, step: int) -> int | None:
        """Write preview.jpg from ``event``; returns ``step``, or None when the event has no image."""
        image = event.preview()
        if image is None:
            return None
        save_image(to_pil(self.picture(image) if self.picture is not None else image), self.folder / "preview.jpg")
        return step

    def save_snapshot(self, image: Image.Image, step: int) -> None:
        """Write the snapshot of ``step`` losslessly, record it, then remove the older ones."""
        if step <= self.job.snapshot_step:
            return
        save_image(image, self.folder / snapshot_name(step))
        if self.store.snapshot(self.job, step):
            for old in self.folder.glob("snapshot-*.png"):
                if old.name != snapshot_name(step):
                    old.unlink(missing_ok=True)

    def note(self, extra: dict[str, Any]) -> None:
        """Record the latest progress with ``extra`` added (an end state, a resume) in both places."""
        record = {**(self.latest or {"step": self.done, "total": self.total, "preview_step": self.preview_step}),
                  **extra, "time": time.time()}
        self.events.write(json.dumps(record) + "\n")
        self.events.flush()
        self.store.report(self.job, record)

    def close(self, final: dict[str, Any] | None = None) -> None:
        """Record the last progress (``final`` added to it) and close events.jsonl."""
        if final is not None:
            self.note(final)
        self.events.close()


class Worker:
    """One worker process's loop: claim, run, record; backbones loaded once and kept."""

    def __init__(self, root: Path, server: ServerConfig, device: str, stop: threading.Event, parent: int) -> None:
        self.store, self.server, self.device, self.stop, self.parent = JobStore(root), server, device, stop, parent
        self.backbones: dict[tuple[str, str, str | None], Backbone] = {}

    def loop(self) -> None:
        while not self.stop.is_set() and os.getppid() == self.parent:
            job = self.store.claim(f"{os.getpid()}-{time.time_ns()}")
            if job is None:
                self.stop.wait(IDLE_POLL)
                continue
            self.run(job)
            self.store.prune(self.server.keep_days, self.server.keep_gb * 1e9)

    def run(self, job: Job) -> None:
        """Run ``job`` to its end: done, failed, cancelled, or requeued when the worker stops."""
        try:
            {"apply": self.apply, "audio": self.audio}.get(job.kind, self.stylize)(job)
        except ServerStopping:
            self.store.requeue(job)
        except BrushworkError as error:
            self.store.finish(job, "failed", one_line(error))
        except Exception as error:  # a bug: the job fails with its gist, the worker lives on
            traceback.print_exc(file=sys.stderr)
            self.store.finish(job, "failed", f"internal error: {one_line(error)}")

    def _inputs(self, job: Job) -> tuple[Path, list[Path]]:
        folder = self.store.folder(job.id)
        return folder / job.inputs["content"]["file"], [folder / s["file"] for s in job.inputs.get("styles", [])]

    def stylize(self, job: Job) -> None:
        folder = self.store.folder(job.id)
        settings = StyleConfig.from_dict(job.settings)
        content, styles = self._inputs(job)
        masks = [str(folder / m["file"]) for m in job.inputs.get("style_masks", [])]
        mask = job.inputs.get("content_mask")
        config = replace(settings, device=self.device, weights=self.server.weights,
                         style_masks=tuple(masks) or None, content_mask=str(folder / mask["file"]) if mask else None)
        total = sum(n for _, n in config.plan_scales())
        run, done = config, 0
        snapshot = folder / snapshot_name(job.snapshot_step)
        if job.snapshot_step > 0 and snapshot.is_file():
            run, done = resume_plan(config, job.snapshot_step)
            run = replace(run, init=str(snapshot))
        # A luminance-only run's previews are shown with the content's colours put back.
        colours = load_image(content, config.max_pixels)[0] if config.preserve_colors == "luminance" else None
        cancel = CancelToken()
        reporter = Reporter(self.store, job, self.server, config, done, total, cancel, self.stop, self.parent,
                            None if colours is None else lambda image: recombine(image, colours))
        if done:
            reporter.note({"resumed_from": done})
        key = (config.weights, config.pooling, config.preprocessing)
        if key not in self.backbones:
            self.backbones[key] = backbone_for(config, torch.device("cpu"))
        image = self._attempt(job, reporter, lambda: stylize(content, styles, run, callbacks=[reporter],
                                                             cancel=cancel, backbone=self.backbones[key]))
        if image is None:
            return
        metadata = provenance("stylize", settings, {"content": job.inputs["content"]["name"],
                                                    "styles": [s["name"] for s in job.inputs.get("styles", [])]})
        save_image(image, folder / result_name(job.kind), metadata)
        save_image(image, folder / "preview.jpg")
        reporter.close({"step": total, "preview_step": total, "state": "done"})
        for old in folder.glob("snapshot-*.png"):
            old.unlink(missing_ok=True)
        self.store.finish(job, "done")

    def _attempt(self, job: Job, reporter: Reporter, work: Callable[[], T]) -> T | None:
        """``work()``, or None after a cancel (see :meth:`_stopped`); ``reporter`` is closed on an error."""
        try:
            return work()
        except Cancelled as stop:
            self._stopped(job, reporter, stop)
            return None
        except BaseException:
            reporter.close()
            raise

    def audio(self, job: Job) -> None:
        """An audio job: the content sound in the style of the style sound (Ulyanov and Lebedev 2016),
        written as 16-bit WAV; its previews are the spectrogram being optimised. A stopped audio job
        starts again from the beginning (they are short; no snapshots)."""
        settings = AudioConfig.from_dict(job.settings)
        content, styles = self._inputs(job)
        cancel = CancelToken()
        reporter = Reporter(self.store, job, self.server, None, 0, 0, cancel, self.stop, self.parent,
                            spectrogram_image)
        config = replace(settings, device=self.device)
        sound = self._attempt(job, reporter, lambda: stylize_audio(
            load_sound(content, "content"), load_sound(styles[0], "style"), config, callbacks=[reporter],
            cancel=cancel))
        if sound is None:
            return
        save_audio(sound, self.store.folder(job.id) / result_name(job.kind))
        reporter.close({"step": reporter.total, "state": "done"})
        self.store.finish(job, "done")

    def _stopped(self, job: Job, reporter: Reporter, stop: Cancelled) -> None:
        """After a cancelled run: requeue with a last snapshot when the worker is stopping, else end
        the job as cancelled with the last iterate as its preview."""
        step = reporter.done + stop.step
        image = stop.result if isinstance(stop.result, Image.Image) else None
        if reporter.stopping:
            if image is not None and stop.step > 0:
                reporter.save_snapshot(image, step)
            reporter.close()
            raise ServerStopping
        if image is not None:
            save_image(image, self.store.folder(job.id) / "preview.jpg")
        reporter.close({"state": "cancelled", "preview_step": step})
        self.store.finish(job, "cancelled")

    def apply(self, job: Job) -> None:
        """A feed-forward job: one pass of the named model, seconds."""
        settings = ApplyConfig.from_dict(job.settings)
        content, _ = self._inputs(job)
        model = Path(self.server.models or ".") / job.inputs["model"]
        reporter = Reporter(self.store, job, self.server, None, 0, 1, CancelToken(), self.stop, self.parent)
        began = time.monotonic()
        try:
            image = apply_style_network(model, content, replace(settings, device=self.device))
        finally:
            reporter.close({"task": "apply", "stage": "apply", "step": 1, "total": 1,
                            "elapsed": time.monotonic() - began, "eta": 0.0, "preview_step": 1})
        metadata = provenance("apply", settings, {"content": job.inputs["content"]["name"], "model": job.inputs["model"]})
        save_image(image, self.store.folder(job.id) / result_name(job.kind), metadata)
        save_image(image, self.store.folder(job.id) / "preview.jpg")
        self.store.finish(job, "done")


def worker_devices(workers: int | None, cuda_devices: int) -> list[str]:
    """The device of each worker process, in order: with ``cuda_devices`` GPUs, ``workers`` of them
    (default: one per GPU), worker i pinned to ``cuda:i`` (modulo the count: more workers than GPUs
    share them); without, ``workers`` (default 1) on the CPU."""
    if cuda_devices > 0:
        return [f"cuda:{i % cuda_devices}" for i in range(workers or cuda_devices)]
    return ["cpu"] * (workers or 1)


def cuda_devices() -> int:
    """How many CUDA devices this machine has (0 without CUDA)."""
    return torch.cuda.device_count() if torch.cuda.is_available() else 0


def main(root: str, server: dict[str, Any], device: str, parent: int) -> None:
    """The entry point of a worker on ``device`` (a spawned process): run jobs until SIGTERM or until
    the server process ``parent`` is gone."""
    _die_with_parent()
    # A local flag set by SIGTERM rather than a multiprocessing.Event: setting one of those blocks
    # for good once a process that waited on it has died.
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda signum, frame: stop.set())
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the server, which stops the workers
    config = ServerConfig.from_dict(server)
    if device.startswith("cuda"):
        torch.cuda.set_device(device)  # what any "cuda" without an index means in this process
    torch.set_num_threads(max(1, (os.cpu_count() or 1) // (config.workers or 1)))
    Worker(Path(root), config, device, stop, parent).loop()


def start_worker(root: Path, server: ServerConfig, index: int, device: str) -> multiprocessing.process.BaseProcess:
    """Start worker ``index`` on ``root``, pinned to ``device`` (spawned: no fork of a process that
    holds threads and sockets)."""
    process = multiprocessing.get_context("spawn").Process(
        target=main, args=(str(root), server.to_dict(), device, os.getpid()), name=f"brushwork-worker-{index}",
        daemon=True)
    process.start()
    return process


def start_workers(root: Path, server: ServerConfig, devices: list[str]) -> list[multiprocessing.process.BaseProcess]:
    """Start one worker process on ``root`` per entry of ``devices`` (see :func:`worker_devices`)."""
    return [start_worker(root, server, index, device) for index, device in enumerate(devices)]


def replace_dead(processes: list[multiprocessing.process.BaseProcess], devices: list[str], store: JobStore,
                 server: ServerConfig) -> int:
    """Put back in the queue the job of each worker that died (killed, out of memory), and start
    another worker on its device in its place; returns how many were replaced."""
    replaced = 0
    for index, process in enumerate(processes):
        if not process.is_alive() and process.pid is not None:
            store.requeue_claims_of(process.pid)
            processes[index] = start_worker(store.root, server, index, devices[index])
            replaced += 1
    return replaced


def stop_workers(processes: list[multiprocessing.process.BaseProcess], timeout: float = 10.0) -> None:
    """Ask the workers to stop (SIGTERM: each requeues its job after a last snapshot) and wait for them."""
    for process in processes:
        if process.is_alive():
            process.terminate()
    deadline = time.monotonic() + timeout
    for process in processes:
        process.join(max(0.1, deadline - time.monotonic()))
        if process.is_alive():
            process.kill()
