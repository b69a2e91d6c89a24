"""Batch stylisation on this machine: the plan, the scheduler's retries, worker processes (one and
two, one killed), the command line with a corrupt input, Ctrl-C and a rerun."""

from __future__ import annotations

import os
import signal
import threading
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from batch_fixtures import (PHOTOS, batch_photos, done_pairs, kill_the_worker_of_the_first_result, networks,  # noqa: F401
                            outputs, style_image, tiny_vgg_file)
from feedforward_fixtures import make_photo
from PIL import Image

from brushwork.batch.api import stylize_batch
from brushwork.batch.config import BatchConfig
from brushwork.batch.manifest import Manifest, read_manifest
from brushwork.batch.plan import Task, draw, make_plan, style_pool
from brushwork.batch.scheduler import Summary, WorkerDied, chunk_size, schedule
from brushwork.batch.worker import CANCELLED, DONE, TaskResult, Worker, WorkerSettings
from brushwork.cli import main
from brushwork.config import StyleConfig
from brushwork.errors import BrushworkError
from brushwork.feedforward.config import ApplyConfig
from brushwork.progress import CancelToken, ProgressEvent
from brushwork.recording import read_provenance

def test_the_plan_mirrors_the_tree_and_draws_by_seed_and_path_alone(batch_photos: Path, networks: Path,
                                                                    tmp_path: Path) -> None:
    pool = style_pool(networks, networks=True)
    assert [p.name for p in pool] == ["net0.safetensors", "net1.safetensors", "net2.safetensors"]
    plan = make_plan(batch_photos, tmp_path / "out", pool, seed=0)
    assert [t.relative for t in plan] == PHOTOS
    assert all(t.output == tmp_path / "out" / t.relative and t.network for t in plan)
    assert len({t.style for t in plan}) > 1  # drawn, not one for all
    # The same pairs from a manifest that lists the images in another order, from another folder.
    listing = tmp_path / "list.txt"
    listing.write_text("# photos\n" + "\n".join(str(batch_photos / r) for r in reversed(PHOTOS)) + "\n\n")
    again = make_plan(listing, tmp_path / "elsewhere", pool, seed=0)
    assert [(t.relative, t.style) for t in again] == [(t.relative, t.style) for t in plan]
    assert [t.style for t in make_plan(batch_photos, tmp_path / "out", pool, seed=1)] != [t.style for t in plan]
    assert draw(pool, 0, "sea/img1.jpg") == next(t.style for t in plan if t.relative == "sea/img1.jpg")
    # A CSV row's own style wins over the pool; its paths are relative to the manifest's folder.
    (tmp_path / "in").mkdir()
    Image.open(batch_photos / "img2.png").save(tmp_path / "in" / "a.bmp")
    Image.open(batch_photos / "img5.jpg").save(tmp_path / "in" / "b.jpg")
    rows = tmp_path / "rows.csv"
    rows.write_text(f"input,style\nin/a.bmp,{networks / 'net2.safetensors'}\n{tmp_path / 'in' / 'b.jpg'}\n")
    by_row = make_plan(rows, tmp_path / "o", [pool[0]], seed=0)
    assert [(t.output.relative_to(tmp_path / "o").as_posix(), t.style.name) for t in by_row] == [
        ("a.png", "net2.safetensors"), ("b.jpg", "net0.safetensors")]


def test_an_output_folder_inside_the_inputs_is_not_read_as_input(batch_photos: Path, networks: Path,
                                                                 tmp_path: Path) -> None:
    folder = tmp_path / "photos"
    folder.mkdir()
    make_photo(np.random.default_rng(0), 36, 48).save(folder / "one.png")
    (folder / "styled").mkdir()
    make_photo(np.random.default_rng(1), 36, 48).save(folder / "styled" / "one.png")
    assert [t.relative for t in make_plan(folder, folder / "styled", [networks / "net0.safetensors"], 0)] == ["one.png"]
    with pytest.raises(BrushworkError, match="is the input folder"):
        make_plan(folder, folder, [networks / "net0.safetensors"], 0)
    with pytest.raises(BrushworkError, match="holds no .safetensors or .onnx networks"):
        style_pool(folder, networks=True)
    with pytest.raises(BrushworkError, match="names no style"):
        make_plan(folder, tmp_path / "o", [], 0)


class DyingPool:
    """An in-process pool of ``size`` workers where every worker that takes ``fatal`` dies."""

    def __init__(self, size: int, fatal: str) -> None:
        self.size, self.fatal = size, fatal
        self.taken: dict[int, list[Task]] = {}
        self.calls: list[list[str]] = []
        self.restarts = 0

    def submit(self, slot: int, tasks: list[Task]) -> None:
        self.taken[slot] = tasks
        self.calls.append([task.relative[0] for task in tasks])

    def poll(self, timeout: float) -> list[tuple[int, list[TaskResult] | WorkerDied]]:
        ended, self.taken = self.taken, {}
        return [(slot, WorkerDied("killed by signal 9") if any(t.relative == self.fatal for t in tasks) else
                 [TaskResult(task, DONE, 0.01, f"w{slot}") for task in tasks]) for slot, tasks in ended.items()]

    def restart(self, slot: int) -> None:
        self.restarts += 1

    def cancel(self) -> None:
        pass

    def close(self) -> None:
        pass


def test_a_task_whose_worker_dies_is_retried_then_given_up(tmp_path: Path) -> None:
    tasks = [Task(tmp_path / f"{n}.png", tmp_path / "out" / f"{n}.png", tmp_path / "s.png", f"{n}.png")
             for n in "abcd"]
    pool, summary, events = DyingPool(2, "b.png"), Summary(), list[ProgressEvent]()
    with Manifest(tmp_path / "out") as manifest:
        schedule(tasks, pool, manifest, summary, retries=2, callbacks=[events.append])
    assert (summary.done, summary.retried, pool.restarts) == (3, 2, 3)
    assert summary.failed == [(str(tmp_path / "b.png"), f"{tmp_path / 'b.png'}: its worker died 3 times "
                                                        "(killed by signal 9); not retried")]
    records = read_manifest(tmp_path / "out")
    assert sorted((r["input"][-5:], r["status"], r["attempts"]) for r in records) == [
        ("a.png", "done", 1), ("b.png", "failed", 3), ("c.png", "done", 1), ("d.png", "done", 1)]
    assert [e.step for e in events] == [1, 2, 3, 4] and events[-1].total == 4 and events[-1].eta == 0


def test_a_chunk_whose_worker_dies_is_retried_image_by_image_so_only_the_culprit_fails(tmp_path: Path) -> None:
    tasks = [Task(tmp_path / f"{n}.png", tmp_path / "out" / f"{n}.png", tmp_path / "s.png", f"{n}.png")
             for n in "abcdef"]
    pool, summary = DyingPool(1, "c.png"), Summary()
    with Manifest(tmp_path / "out") as manifest:  # 0.01 s an image: a second's chunk is all that is left
        schedule(tasks, pool, manifest, summary, retries=0, chunk_seconds=1.0)
    # Its images' time unknown, the first call takes one; c kills the chunk, then itself alone, and with
    # --retries 0 is not tried again, while the images that shared its chunk are done.
    assert pool.calls == [["a"], ["b", "c", "d", "e", "f"], ["b"], ["c"], ["d"], ["e"], ["f"]]
    assert (summary.done, summary.retried, pool.restarts) == (5, 5, 2)
    assert summary.failed == [(str(tmp_path / "c.png"), f"{tmp_path / 'c.png'}: its worker died 2 times "
                                                        "(killed by signal 9); not retried")]
    assert [(r["input"][-5:], r["status"], r["attempts"]) for r in read_manifest(tmp_path / "out")] == [
        ("a.png", "done", 1), ("b.png", "done", 2), ("c.png", "failed", 2), ("d.png", "done", 2),
        ("e.png", "done", 2), ("f.png", "done", 2)]


def test_an_output_that_exists_is_done_not_replaced_and_a_killed_write_is_cleaned_up(tmp_path: Path) -> None:
    out = tmp_path / "out" / "a.jpg"
    out.parent.mkdir()
    out.write_bytes(b"written by the worker that died")
    worker = Worker(WorkerSettings(StyleConfig(), ApplyConfig(), 0, False), "cpu", 1)
    task = Task(tmp_path / "missing.png", out, tmp_path / "s.safetensors", "a.jpg", attempt=1)
    [result] = worker.run_all([task])
    assert (result.status, result.error) == (DONE, None) and out.read_bytes() == b"written by the worker that died"
    assert worker.run(replace(task, attempt=0)).status == DONE  # not replaced, whoever wrote it
    # Killed while writing: the output is missing, a temporary is left; the next worker removes it and paints.
    out.unlink()
    stale, other = out.with_name(".a.0f1e2d3c.tmp.jpg"), out.with_name(".b.0f1e2d3c.tmp.jpg")
    stale.write_bytes(b"half"), other.write_bytes(b"another image's")
    assert "s.safetensors" in (worker.run(task).error or "")  # it tried to paint: the network is missing
    assert not stale.exists() and other.exists()  # only this output's temporaries
    # After Ctrl-C, the rest of a chunk is not started.
    stop = CancelToken()
    stop.cancel()
    stopped = Worker(WorkerSettings(StyleConfig(), ApplyConfig(), 0, False), "cpu", 1, stop).run_all([task, task])
    assert [r.status for r in stopped] == [CANCELLED, CANCELLED]


def test_chunks_follow_the_measured_time_and_shrink_to_a_fair_share_at_the_end() -> None:
    assert chunk_size(None, 1.0, 100, 2) == 1  # nothing measured yet
    assert chunk_size(0.01, 0.0, 100, 2) == 1  # one image a call asked for
    assert chunk_size(0.01, 1.0, 1000, 2) == 100
    assert chunk_size(0.01, 1.0, 30, 2) == 15 and chunk_size(0.01, 1.0, 3, 2) == 2
    assert chunk_size(5.0, 1.0, 1000, 2) == 1  # slower than the target: one a call


def test_one_and_two_workers_give_the_same_pairs_even_when_a_worker_is_killed(
        batch_photos: Path, networks: Path, tmp_path: Path) -> None:
    one, two = tmp_path / "one", tmp_path / "two"
    first = stylize_batch(batch_photos, one, models=networks, config=BatchConfig(workers=1, seed=5))
    assert (first.done, first.skipped, first.failed) == (8, 0, [])
    killed, kill = kill_the_worker_of_the_first_result(two)
    second = stylize_batch(batch_photos, two, models=networks, config=BatchConfig(workers=2, seed=5),
                           callbacks=[kill])
    assert killed and second.retried >= 1 and (second.done, second.failed) == (8, [])
    assert any(r["attempts"] == 2 for r in read_manifest(two))  # the killed worker's task, done elsewhere
    assert done_pairs(one) == done_pairs(two) and len(done_pairs(one)) == 8
    assert len({r["worker"] for r in read_manifest(two)}) >= 2
    assert outputs(one) == outputs(two) == PHOTOS
    for name in PHOTOS:
        a, b = (np.asarray(Image.open(folder / name), dtype=int) for folder in (one, two))
        assert np.abs(a - b).max() <= 1  # the same network on the same photo (thread counts differ)
    record = read_provenance(two / "sea/img1.jpg")
    assert record["inputs"]["content"] == str(batch_photos / "sea/img1.jpg")
    assert record["inputs"]["model"] == done_pairs(two)[str(batch_photos / "sea/img1.jpg")]
    assert record["task"] == "apply" and record["batch"] == {"seed": 5, "relative": "sea/img1.jpg"}


def test_a_corrupt_input_is_reported_the_rest_done_and_a_rerun_retries_only_it(
        batch_photos: Path, networks: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "in"
    for name in ("a.png", "b/c.jpg"):
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes((batch_photos / "img2.png").read_bytes())
    (folder / "b" / "broken.jpg").write_bytes(b"\xff\xd8 not a jpeg")
    out = tmp_path / "out"
    argv = ["batch", str(folder), "-o", str(out), "--model", str(networks / "net1.safetensors"), "--size", "40"]
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert f"brushwork: failed: {folder / 'b' / 'broken.jpg'}: not an image" in err
    assert "batch: 2 done, 0 skipped (finished before), 1 failed" in err and "Traceback" not in err
    assert outputs(out) == ["a.png", "b/c.jpg"] and max(Image.open(out / "a.png").size) == 40
    (folder / "b" / "broken.jpg").write_bytes((batch_photos / "img5.jpg").read_bytes())  # mended
    assert main(argv) == 0
    assert "batch: 1 done, 2 skipped (finished before), 0 failed" in capsys.readouterr().err
    assert [r["status"] for r in read_manifest(out) if r["input"].endswith("broken.jpg")] == ["failed", "done"]


def test_ctrl_c_stops_cleanly_and_a_rerun_does_only_the_rest(batch_photos: Path, networks: Path, style_image: Path,
                                                             tiny_vgg_file: Path, tmp_path: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    # Three images by a network (quick), then three by the optimisation, which would run for ever.
    fast, slow = PHOTOS[:3], PHOTOS[3:6]
    rows = [f"{batch_photos / name},{networks / 'net0.safetensors'}" for name in fast]
    rows += [f"{batch_photos / name},{style_image}" for name in slow]
    manifest = tmp_path / "todo.csv"
    manifest.write_text("\n".join(rows) + "\n")
    out = tmp_path / "out"
    argv = ["batch", str(manifest), "-o", str(out), "--workers", "1", "--weights", str(tiny_vgg_file),
            "--preprocessing", "caffe", "--size", "32", "--tolerance", "0"]

    def press_ctrl_c_after_three() -> None:  # the driver's Ctrl-C handler runs in the main thread
        # Their outputs, not the manifest: the results of a chunk (here the other five) come when it ends.
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline and not all((out / name).is_file() for name in fast):
            time.sleep(0.05)
        time.sleep(0.5)  # the fourth, an optimisation, is under way
        os.kill(os.getpid(), signal.SIGINT)

    presser = threading.Thread(target=press_ctrl_c_after_three)
    # As in a terminal, also where the tests run in the background (whose shell ignores SIGINT).
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        presser.start()
        code = main([*argv, "--iterations", "100000"])
        presser.join()
    finally:
        signal.signal(signal.SIGINT, previous)
    err = capsys.readouterr().err
    assert code == 130
    assert "batch: 3 done, 0 skipped (finished before), 0 failed, 3 not done (rerun the same command" in err
    assert f"interrupted after step 3; kept {out}" in err and "Traceback" not in err
    assert outputs(out) == fast  # no half-written or temporary file
    assert main([*argv, "--iterations", "2"]) == 0
    assert "batch: 3 done, 3 skipped (finished before), 0 failed" in capsys.readouterr().err
    assert len(done_pairs(out)) == 6 and len(outputs(out)) == 6
    record = read_provenance(out / slow[0])
    assert record["task"] == "stylize" and record["inputs"]["styles"] == [str(style_image)]
    assert record["settings"]["iterations"] == 2 and record["settings"]["size"] == 32
