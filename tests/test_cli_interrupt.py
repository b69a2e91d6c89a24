"""Ctrl-C in every long command: the work stops within a step, what it had is kept and named, exit
status 130, no traceback."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from audio_signals import FAST, bursts, melody, sound
from feedforward_fixtures import photo_dir, session_backbone, style_file, tiny_model  # noqa: F401
from PIL import Image

from brushwork.audio.io import save_audio
from brushwork.image import read_metadata

TINY_TRAIN = ["--crop-size", "32", "--batch-size", "2", "--width", "4", "--residual-blocks", "1", "--workers", "0",
              "--validation-count", "2", "--style-size", "48", "--preprocessing", "caffe"]
FAST_AUDIO = [f"--{k.replace('_', '-')}={v}" for k, v in FAST.items() if k != "iterations"]


def _interrupt(argv: list[str], started: str) -> tuple[int, str]:
    """Run ``brushwork *argv``, press Ctrl-C once ``started`` shows on stderr (the progress bar's first
    step), and return (exit status, stderr)."""
    process = subprocess.Popen(
        [sys.executable, "-m", "brushwork", *argv], stderr=subprocess.PIPE, text=True,
        # A shell that starts the tests in the background ignores SIGINT, and brushwork then leaves it
        # alone: restore the default, as in a terminal.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    chunks: list[str] = []
    reader = threading.Thread(target=lambda: chunks.extend(iter(lambda: process.stderr.read(1), "")))
    reader.start()
    deadline = time.monotonic() + 120
    while started not in "".join(chunks) and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    process.send_signal(signal.SIGINT)
    code = process.wait(timeout=120)
    reader.join()
    return code, "".join(chunks)


def _last_line(err: str) -> str:
    return err.replace("\r", "\n").strip().splitlines()[-1]


def test_stylize_keeps_the_last_iterate_as_a_snapshot(tiny_checkpoint: Path, tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 255, (60, 80, 3), dtype=np.uint8)).save(tmp_path / "c.png")
    Image.fromarray(rng.integers(0, 255, (50, 50, 3), dtype=np.uint8)).save(tmp_path / "s.png")
    out = tmp_path / "out.png"
    code, err = _interrupt(["stylize", str(tmp_path / "c.png"), str(tmp_path / "s.png"), "-o", str(out),
                            "--weights", str(tiny_checkpoint), "--size", "48", "--iterations", "100000",
                            "--tolerance", "0"], "stylize:")
    assert code == 130 and "Traceback" not in err, err
    line = _last_line(err)
    assert line.startswith("brushwork: interrupted after step ") and "; kept " in line
    kept = Path(line.split("; kept ")[1])
    assert kept.parent == tmp_path and kept.name.startswith("out_iter") and Image.open(kept).size == (48, 36)
    assert "brushwork" in read_metadata(kept), "the snapshot carries the run's settings"
    assert not out.exists() and not [p for p in os.listdir(tmp_path) if p.startswith(".")], "no temp files left"


def test_train_keeps_a_checkpoint_to_resume_from(photo_dir: Path, style_file: Path, tiny_checkpoint: Path,
                                                 tmp_path: Path) -> None:
    model = tmp_path / "m.safetensors"
    code, err = _interrupt(["train", str(style_file), "--data", str(photo_dir), "-o", str(model), "--steps", "100000",
                            "--weights", str(tiny_checkpoint), *TINY_TRAIN], "train:")
    assert code == 130 and "Traceback" not in err, err
    line = _last_line(err)
    checkpoint = tmp_path / "m-train" / "checkpoint.pt"
    assert line.startswith("brushwork: interrupted after step ") and line.endswith(
        f"; kept {checkpoint} (continue with --resume)")
    step = int(line.split("after step ")[1].split(";")[0])
    assert step > 0 and torch.load(checkpoint, weights_only=True)["step"] == step and not model.exists()


def test_apply_keeps_the_images_it_finished(tiny_model: Path, photo_dir: Path, tmp_path: Path) -> None:
    many = tmp_path / "many"
    many.mkdir()
    for k in range(1000):
        (many / f"p{k:04d}.png").write_bytes((photo_dir / "photo02.png").read_bytes())
    out = tmp_path / "out"
    code, err = _interrupt(["apply", str(tiny_model), str(many), "-o", str(out), "--batch-size", "1"], "apply:")
    assert code == 130 and "Traceback" not in err, err
    line = _last_line(err)
    assert line.endswith(f"; kept {out} (the images finished before)")
    done = int(line.split("after step ")[1].split(";")[0])
    assert 0 < done < 1000 and len(list(out.iterdir())) == done
    assert not [p for p in out.iterdir() if p.name.startswith(".")], "no half-written image"


@pytest.mark.parametrize("command", ["audio", "texture"])
def test_audio_stops_and_writes_nothing(command: str, tmp_path: Path) -> None:
    pytest.importorskip("soundfile")
    save_audio(sound(melody(1.0)), tmp_path / "content.wav")
    save_audio(sound(bursts(1.0)), tmp_path / "style.wav")
    inputs = [str(tmp_path / "content.wav")] if command == "audio" else []
    out = tmp_path / "out.wav"
    code, err = _interrupt([command, *inputs, str(tmp_path / "style.wav"), "-o", str(out), "--iterations", "100000",
                            *FAST_AUDIO], f"{command}:")
    assert code == 130 and "Traceback" not in err, err
    line = _last_line(err)
    assert line.startswith("brushwork: interrupted after step ") and line.endswith("; nothing written")
    assert not out.exists()
