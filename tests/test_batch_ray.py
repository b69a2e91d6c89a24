"""Batch stylisation on a Ray cluster that the tests start on loopback (2 CPUs, a small object store):
every image done once, by the plan's style, on both paths, with the workers killed in the middle of a
chunk of images.

One cluster serves the whole module: Ray takes tens of seconds to start on two cores."""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from batch_fixtures import batch_photos, done_pairs, networks, outputs, style_image, tiny_vgg_file  # noqa: F401

from brushwork.batch.api import stylize_batch
from brushwork.batch.config import BatchConfig
from brushwork.batch.manifest import read_manifest
from brushwork.batch.plan import make_plan, style_pool
from brushwork.cli import main
from brushwork.config import StyleConfig

ray = pytest.importorskip("ray", reason="the [ray] extra is not installed (make test installs it)")
pytestmark = pytest.mark.cluster


@pytest.fixture(scope="module")
def cluster() -> Iterator[None]:
    """A private Ray cluster on 127.0.0.1 for this module's tests; its workers inherit PYTHONPATH.

    Ray gives its node 30 s to come up: on a machine whose cores are taken by other programs (nice 19
    under a load of 12 here), its agents start slower than that and ray.init fails."""
    ray.init(num_cpus=2, object_store_memory=100_000_000, include_dashboard=False, _node_ip_address="127.0.0.1",
             log_to_driver=False, logging_level="ERROR")
    try:
        yield
    finally:
        ray.shutdown()


def kill_the_workers_when(output: Path, out: Path) -> tuple[dict[str, tuple[int, int]], threading.Thread]:
    """A thread that, once ``output`` is written, kill -9s every worker that the manifest of ``out`` names
    by then, and keeps ``output``'s (inode, mtime) under "seen" (a redone output would change them)."""
    seen: dict[str, tuple[int, int]] = {}

    def watch() -> None:
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline and not output.is_file():
            time.sleep(0.005)
        stat = output.stat()
        seen["seen"] = (stat.st_ino, stat.st_mtime_ns)
        for pid in {int(r["worker"].rsplit(":", 1)[1]) for r in read_manifest(out)}:
            os.kill(pid, signal.SIGKILL)
    return seen, threading.Thread(target=watch, daemon=True)


def test_on_ray_each_image_is_done_once_by_its_planned_style_when_a_worker_is_killed_mid_chunk(
        cluster: None, batch_photos: Path, networks: Path, style_image: Path, tiny_vgg_file: Path,
        tmp_path: Path) -> None:
    # Six photos drawn from the networks (the fast path), two painted by the optimisation (their own row's style).
    names = sorted(p.relative_to(batch_photos).as_posix() for p in batch_photos.rglob("*.*"))
    rows = [str(batch_photos / n) for n in names[:6]] + [f"{batch_photos / n},{style_image}" for n in names[6:]]
    todo = tmp_path / "todo.csv"
    todo.write_text("\n".join(rows) + "\n")
    out = tmp_path / "out"
    # One image a worker first; then chunks of 3 and 2 (fair shares of the 6 left): sea/img1.jpg, a quick
    # one, shares a chunk with an optimisation that its worker is running when it is killed.
    seen, killer = kill_the_workers_when(out / names[5], out)
    killer.start()
    summary = stylize_batch(todo, out, models=networks,
                            config=BatchConfig(ray="auto", workers=2, seed=3, chunk_seconds=600),
                            style_config=StyleConfig(weights=str(tiny_vgg_file), preprocessing="caffe", size=32,
                                                     iterations=150, tolerance=0, seed=3))
    killer.join()
    assert (summary.done, summary.failed) == (8, []) and summary.retried >= 2 and seen
    plan = make_plan(todo, out, style_pool(networks, networks=True), seed=3)
    assert done_pairs(out) == {str(t.input): str(t.style) for t in plan}
    assert outputs(out) == sorted(t.relative for t in plan)
    records = {Path(r["input"]).relative_to(batch_photos).as_posix(): r for r in read_manifest(out)}
    # Written before its worker died: found done by the next worker (a second attempt), not painted again.
    assert records[names[5]]["attempts"] == 2 and records[names[6]]["attempts"] >= 2
    stat = (out / names[5]).stat()
    assert (stat.st_ino, stat.st_mtime_ns) == seen["seen"]
    workers = {int(r["worker"].rsplit(":", 1)[1]) for r in records.values()}
    assert os.getpid() not in workers and len(workers) >= 2  # the actors did the work, one of them a replacement


def test_the_command_line_runs_on_the_cluster(cluster: None, batch_photos: Path, networks: Path, tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    argv = ["batch", str(batch_photos / "sea"), "-o", str(out), "--models", str(networks), "--ray", "auto",
            "--gpus-per-worker", "0", "--threads", "1"]
    assert main(argv) == 0
    assert outputs(out) == ["img1.jpg", "img4.png", "img7.jpg"]
    assert "batch: 3 done, 0 skipped (finished before), 0 failed" in capsys.readouterr().err
    assert main(argv) == 0  # nothing left: no worker is even started
    assert "batch: 0 done, 3 skipped (finished before), 0 failed" in capsys.readouterr().err
