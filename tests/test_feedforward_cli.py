"""``brushwork train``, ``apply`` and ``export`` as a user meets them, and a data-parallel run under torchrun."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from feedforward_fixtures import photo_dir, style_file  # noqa: F401
from safetensors import safe_open
from safetensors.torch import load_file

from brushwork.cli import main

TINY_ARGS = ["--crop-size", "32", "--batch-size", "2", "--width", "4", "--residual-blocks", "1", "--workers", "0",
             "--validation-count", "2", "--style-size", "48", "--preprocessing", "caffe", "--reference", "none"]


def _header(path: Path) -> tuple[dict[str, tuple[int, ...]], dict[str, str]]:
    """({tensor: shape}, metadata) of a model file."""
    with safe_open(path, framework="pt") as f:
        return {k: tuple(f.get_slice(k).get_shape()) for k in f.keys()}, json.loads(f.metadata()["metadata"])


def test_train_apply_export(photo_dir: Path, style_file: Path, tiny_checkpoint: Path, tmp_path: Path,
                            capsys: pytest.CaptureFixture) -> None:
    model = tmp_path / "m.safetensors"
    assert main(["train", str(style_file), "--data", str(photo_dir), "-o", str(model), "--steps", "3",
                 "--weights", str(tiny_checkpoint), *TINY_ARGS]) == 0
    err = capsys.readouterr().err
    assert "12 photos in" in err and "style=" in err and f"wrote {model}" in err
    assert main(["apply", str(model), str(photo_dir / "b"), "-o", str(tmp_path / "out"), "--strength", "0.8",
                 "--preserve-colors", "histogram"]) == 0
    assert len(list((tmp_path / "out").rglob("*.*"))) == 4
    (tmp_path / "mixed").mkdir()
    (tmp_path / "mixed" / "broken.png").write_bytes(b"not a png")
    (tmp_path / "mixed" / "good.png").write_bytes((photo_dir / "photo02.png").read_bytes())
    capsys.readouterr()
    assert main(["apply", str(model), str(tmp_path / "mixed"), "-o", str(tmp_path / "out2")]) == 1
    err = capsys.readouterr().err
    assert "brushwork: skipped " in err and "broken.png" in err and "1 unreadable input(s) passed over" in err
    assert [p.name for p in (tmp_path / "out2").iterdir()] == ["good.png"]
    assert main(["export", str(model), "-o", str(tmp_path / "m.onnx")]) == 0
    assert main(["apply", str(tmp_path / "m.onnx"), str(photo_dir / "photo02.png"), "-o", str(tmp_path / "o.png")]) == 0
    assert (tmp_path / "o.png").is_file()


@pytest.mark.parametrize("argv,says", [
    (["train", "STYLE", "--data", "EMPTY", "-o", "OUT/m.safetensors"], "--data .*empty: no usable photos"),
    (["train", "STYLE", "--data", "PHOTOS", "-o", "OUT/m.pt"], "unsupported output format '.pt' \\(use .safetensors\\)"),
    (["train", "STYLE", "--data", "PHOTOS", "-o", "OUT/m.safetensors", "--steps", "0"], "--steps 0: must be"),
    (["apply", "OUT/none.safetensors", "PHOTOS", "-o", "OUT/x"], "none.safetensors: model file not found"),
    (["export", "STYLE", "-o", "OUT/m.onnx"], "stripes.png: not a safetensors file"),
])
def test_errors_are_one_line(photo_dir: Path, style_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture,
                             argv: list[str], says: str) -> None:
    (tmp_path / "empty").mkdir()
    swap = {"STYLE": str(style_file), "PHOTOS": str(photo_dir), "EMPTY": str(tmp_path / "empty")}
    argv = [swap.get(a, a.replace("OUT", str(tmp_path))) for a in argv]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("brushwork: error: ")
    import re
    assert re.search(says, err)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty"]


@pytest.mark.slow
def test_torchrun_with_two_cpu_processes_learns_what_one_process_learns_from_the_same_batches(
        photo_dir: Path, style_file: Path, tiny_checkpoint: Path, tmp_path: Path) -> None:
    # Two processes of batch 2 see, at each step, the same four photos (and crops) as one process of
    # batch 4, and DistributedDataParallel averages their gradients: the weights must agree.
    common = [str(style_file), "--data", str(photo_dir), "--steps", "3", "--weights", str(tiny_checkpoint),
              "--device", "cpu", "--quiet", "--precision", "float32", *TINY_ARGS]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(Path(__file__).parents[1] / "src"),
                                                        os.environ.get("PYTHONPATH", "")]),
           "OMP_NUM_THREADS": "1"}
    two = tmp_path / "ddp.safetensors"
    run = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2", "--standalone",
                          "-m", "brushwork", "train", *common, "-o", str(two)],
                         env=env, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr[-2000:]
    one, other = tmp_path / "one.safetensors", tmp_path / "other.safetensors"
    assert main(["train", *common, "--batch-size", "4", "-o", str(one)]) == 0
    assert main(["train", *common, "-o", str(other)]) == 0  # batch 2: other photos at each step
    a, b, c = load_file(two), load_file(one), load_file(other)
    assert a.keys() == b.keys() and _header(two)[1]["steps_trained"] == 3
    gap = sum(float((a[k] - b[k]).pow(2).sum()) for k in a) ** 0.5
    other_gap = sum(float((c[k] - b[k]).pow(2).sum()) for k in a) ** 0.5
    # Not exactly equal: the two halves' gradients are summed in another order, and Adam's first steps
    # (about lr * sign(gradient)) turn such rounding differences in near-zero gradients into lr-sized ones.
    assert gap < 0.1 * other_gap
    assert sorted(p.name for p in (tmp_path / "ddp-train" / "previews").iterdir()) == ["step-000003.png"]
