"""Batch stylisation on a Ray cluster that the tests start on loopback (2 CPUs, a small object store):
every image done once, by the plan's style, on both paths, with a worker killed mid-run.

One cluster serves the whole module: Ray takes tens of seconds to start on two cores."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from batch_fixtures import (batch_photos, done_pairs, kill_the_worker_of_the_first_result, networks,  # noqa: F401
                            outputs, style_image, tiny_vgg_file)

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


def test_on_ray_each_image_is_done_once_by_its_planned_style_when_a_worker_is_killed(
        cluster: None, batch_photos: Path, networks: Path, style_image: Path, tiny_vgg_file: Path,
        tmp_path: Path) -> None:
    # Six photos drawn from the networks (the fast path), two painted by the optimisation (their own row's style).
    names = sorted(p.relative_to(batch_photos).as_posix() for p in batch_photos.rglob("*.*"))
    rows = [str(batch_photos / n) for n in names[:6]] + [f"{batch_photos / n},{style_image}" for n in names[6:]]
    todo = tmp_path / "todo.csv"
    todo.write_text("\n".join(rows) + "\n")
    out = tmp_path / "out"
    killed, kill = kill_the_worker_of_the_first_result(out)
    summary = stylize_batch(todo, out, models=networks, config=BatchConfig(ray="auto", workers=2, seed=3),
                            style_config=StyleConfig(weights=str(tiny_vgg_file), preprocessing="caffe", size=32,
                                                     iterations=3, seed=3), callbacks=[kill])
    assert (summary.done, summary.failed) == (8, []) and summary.retried >= 1 and killed
    plan = make_plan(todo, out, style_pool(networks, networks=True), seed=3)
    assert done_pairs(out) == {str(t.input): str(t.style) for t in plan}
    assert outputs(out) == sorted(t.relative for t in plan)
    workers = {int(r["worker"].rsplit(":", 1)[1]) for r in read_manifest(out)}
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
