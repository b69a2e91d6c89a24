"""A hostile but ordinary user (issue 14): every bad input ends in exactly one stderr line that names the
file or option, exit status 2 (130 for Ctrl-C), and the folder unchanged byte for byte."""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import wave
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import brushwork
from brushwork.cli import main
from brushwork.errors import BrushworkError

#: Where a file cannot be created even by root.
UNWRITABLE = "/proc"
TINY = ["--weights", "tiny.pth", "--size", "64", "--iterations", "2"]  # no -q: no empty bar line either


def _write_wav(path: Path, seconds: float = 0.5, rate: int = 8000) -> None:
    samples = (0.3 * np.sin(np.arange(int(seconds * rate)) * 0.2) * 32767).astype("<i2")
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(samples.tobytes())


@pytest.fixture
def folder(tmp_path: Path, tiny_checkpoint: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A user's folder of inputs, earlier outputs, links and broken files; the current directory."""
    rng = np.random.default_rng(0)
    work = tmp_path / "user"
    (work / "sub").mkdir(parents=True)
    (work / "photos").mkdir()
    (work / "earlier-run").mkdir()
    Image.fromarray(rng.integers(0, 255, (60, 80, 3), dtype=np.uint8)).save(work / "p.jpg")
    Image.fromarray(rng.integers(0, 255, (60, 80, 3), dtype=np.uint8)).save(work / "photos" / "p2.jpg")
    Image.fromarray(rng.integers(0, 255, (50, 50, 3), dtype=np.uint8)).save(work / "s.png")
    Image.new("L", (80, 60), 255).save(work / "mask.png")
    Image.new("L", (10, 60), 255).save(work / "thin-mask.png")
    Image.new("RGB", (4000, 8), "red").save(work / "wide.png")
    shutil.copy(work / "s.png", work / "out.png")
    shutil.copy(work / "s.png", work / "new_iter00001.png")
    Image.new("RGB", (8, 8)).save(work / "anim.gif")
    shutil.copy(tiny_checkpoint, work / "tiny.pth")
    (work / "empty.png").write_bytes(b"")
    (work / "trunc.png").write_bytes((work / "s.png").read_bytes()[:200])
    (work / "text.png").write_text("not an image\n")
    (work / "model.safetensors").write_bytes(b"a model the checks must never get to read")
    (work / "old.onnx").write_bytes(b"an earlier export")
    (work / "out.safetensors").write_bytes(b"an earlier model")
    (work / "earlier-run" / "losses.png").write_bytes((work / "s.png").read_bytes())
    (work / "link.jpg").symlink_to("p.jpg")
    os.link(work / "p.jpg", work / "sub" / "hard.jpg")
    (work / "weights-link.png").symlink_to("tiny.pth")
    (work / "w.safetensors").symlink_to("tiny.pth")
    (work / "m.onnx").symlink_to("model.safetensors")
    _write_wav(work / "c.wav")
    _write_wav(work / "st.wav")
    shutil.copy(work / "c.wav", work / "out.wav")
    monkeypatch.chdir(work)
    return work


def _fingerprint(root: Path) -> dict[str, str]:
    """Every entry under ``root``: a link's target, a file's sha256, or "folder"."""
    found = {}
    for path in sorted(root.rglob("*")):
        key = str(path.relative_to(root))
        if path.is_symlink():
            found[key] = "-> " + os.readlink(path)
        elif path.is_file():
            found[key] = hashlib.sha256(path.read_bytes()).hexdigest()
        else:
            found[key] = "folder"
    return found


STYLIZE = ["stylize", "p.jpg", "s.png"]
#: (argv, what the one line must contain: the file or option at fault and the problem)
CASES: dict[str, tuple[list[str], str]] = {
    # 1. never onto an input
    "output is the content": ([*STYLIZE, "-o", "p.jpg", *TINY], "-o p.jpg: is the content;"),
    "output is the content via ..": ([*STYLIZE, "-o", "sub/../p.jpg", *TINY], "-o sub/../p.jpg: is the content"),
    "output is the content via a link": ([*STYLIZE, "-o", "link.jpg", *TINY], "-o link.jpg: is the content"),
    "output is a hard link of the content": ([*STYLIZE, "-o", "sub/hard.jpg", "--overwrite", *TINY],
                                             "-o sub/hard.jpg: is the content"),
    "output is the content, --overwrite": ([*STYLIZE, "-o", "p.jpg", "--overwrite", *TINY], "is the content"),
    "output is the style": ([*STYLIZE, "-o", "s.png", "--overwrite", *TINY], "-o s.png: is the style"),
    "output is a mask": ([*STYLIZE, "-o", "mask.png", "--style-masks", "mask.png", "--overwrite", *TINY],
                         "-o mask.png: is the --style-masks file"),
    "output is the init": ([*STYLIZE, "-o", "out.png", "--init", "out.png", "--overwrite", *TINY],
                           "-o out.png: is the --init image"),
    "output is the weights via a link": ([*STYLIZE, "-o", "weights-link.png", "--overwrite", *TINY],
                                         "-o weights-link.png: is the --weights file"),
    "gif is the style": ([*STYLIZE, "-o", "new.png", "--gif", "anim.gif", "--style", "anim.gif", "--overwrite",
                          *TINY], "--gif anim.gif: is the style"),
    "apply onto its input": (["apply", "model.safetensors", "p.jpg", "-o", "link.jpg", "--overwrite"],
                             "-o link.jpg: is the input"),
    "apply a folder onto itself": (["apply", "model.safetensors", "photos", "-o", "photos", "--overwrite"],
                                   "-o photos/p2.jpg: is the input"),
    "export onto the model via a link": (["export", "model.safetensors", "-o", "m.onnx", "--overwrite"],
                                         "-o m.onnx: is the model"),
    "train onto its weights": (["train", "s.png", "--data", "photos", "-o", "w.safetensors", "--weights",
                                "w.safetensors", "--overwrite"], "-o w.safetensors: is the --weights file"),
    "audio onto its content": (["audio", "c.wav", "st.wav", "-o", "sub/../c.wav", "--overwrite"],
                               "-o sub/../c.wav: is the content"),
    "texture onto its style": (["texture", "st.wav", "-o", "st.wav"], "-o st.wav: is the style"),
    # 2. never over an existing file without --overwrite
    "stylize over an output": ([*STYLIZE, "-o", "out.png", *TINY], "-o out.png: exists already; pass --overwrite"),
    "stylize over a snapshot": ([*STYLIZE, "-o", "new.png", "--snapshot-every", "1", *TINY],
                                "--snapshot-every: new_iter00001.png exists already; pass --overwrite"),
    "stylize over a gif": ([*STYLIZE, "-o", "new.png", "--gif", "anim.gif", *TINY], "--gif anim.gif: exists already"),
    "apply over an output file": (["apply", "model.safetensors", "p.jpg", "-o", "out.png"],
                                  "-o out.png: exists already"),
    "export over a model": (["export", "model.safetensors", "-o", "old.onnx"], "-o old.onnx: exists already"),
    "train over a model": (["train", "s.png", "--data", "photos", "-o", "out.safetensors"],
                           "-o out.safetensors: exists already"),
    "train over an earlier run": (["train", "s.png", "--data", "photos", "-o", "m.safetensors", "--work-dir",
                                   "earlier-run"], "--work-dir earlier-run: holds losses.png"),
    "audio over an output": (["audio", "c.wav", "st.wav", "-o", "out.wav"], "-o out.wav: exists already"),
    # 3. every output and work folder checked before any work
    "stylize into a missing folder": ([*STYLIZE, "-o", "nowhere/out.png", *TINY], "folder nowhere does not exist"),
    "stylize into an unwritable folder": ([*STYLIZE, "-o", f"{UNWRITABLE}/out.png", *TINY], "is not writable"),
    "stylize onto a folder": ([*STYLIZE, "-o", "sub", *TINY], "-o sub: is a folder"),
    "stylize to an unknown format": ([*STYLIZE, "-o", "out.bmp", *TINY], "unsupported output format '.bmp'"),
    "snapshots into a missing folder": ([*STYLIZE, "-o", "new.png", "--snapshot-every", "1", "--snapshot-dir",
                                         "nowhere", *TINY], "--snapshot-dir nowhere: not an existing folder"),
    "negative snapshot interval": ([*STYLIZE, "-o", "new.png", "--snapshot-every", "-1", *TINY],
                                   "--snapshot-every -1: must be zero or positive"),
    "train into an unwritable folder": (["train", "s.png", "--data", "photos", "-o",
                                         f"{UNWRITABLE}/m.safetensors"], "is not writable"),
    "train with an unwritable work folder": (["train", "s.png", "--data", "photos", "-o", "m.safetensors",
                                              "--work-dir", f"{UNWRITABLE}/w"], "--work-dir /proc/w: .*not writable"),
    "train with its work folder in the data": (["train", "s.png", "--data", "photos", "-o", "m.safetensors",
                                                "--work-dir", "photos/w"], "inside the data folder"),
    "apply into an unwritable folder": (["apply", "model.safetensors", "photos", "-o", f"{UNWRITABLE}/styled"],
                                        "-o /proc/styled: .*not writable"),
    "train a model of another format": (["train", "s.png", "--data", "photos", "-o", "m.pt"],
                                        "-o m.pt: unsupported output format '.pt'"),
    # bad inputs
    "missing content": (["stylize", "missing.jpg", "s.png", "-o", "new.png", *TINY], "missing.jpg: file not found"),
    "folder as content": (["stylize", "sub", "s.png", "-o", "new.png", *TINY], "sub: is a directory"),
    "empty content": (["stylize", "empty.png", "s.png", "-o", "new.png", *TINY], "empty.png: not an image"),
    "truncated style": (["stylize", "p.jpg", "trunc.png", "-o", "new.png", *TINY], "trunc.png: truncated"),
    "text as style": (["stylize", "p.jpg", "text.png", "-o", "new.png", *TINY], "text.png: not an image"),
    "no style": (["stylize", "p.jpg", "-o", "new.png", *TINY], "style: needs at least one style image"),
    "extreme aspect ratio": (["stylize", "wide.png", "s.png", "-o", "new.png", *TINY],
                             "wide.png: its aspect ratio .*too extreme.*crop it"),
    "mask of another shape": ([*STYLIZE, "-o", "new.png", "--style-masks", "thin-mask.png", *TINY],
                              "thin-mask.png: mask is 10x60"),
    "init misspelt": ([*STYLIZE, "-o", "new.png", "--init", "nosie", *TINY],
                      "--init nosie: is neither palette, content, noise nor style, nor an image file"),
    "negative blend": (["stylize", "p.jpg", "s.png", "s.png", "-o", "new.png", "--style-blend", "-1,2", *TINY],
                       "--style-blend .*must be zero or positive"),
    "more scales than sizes": ([*STYLIZE, "-o", "new.png", "--scales", "8", *TINY],
                               "--scales 8: size 64 allows at most 2 distinct scale"),
    "unknown device": ([*STYLIZE, "-o", "new.png", "--device", "nope", *TINY], "--device nope"),
    "missing weights": ([*STYLIZE, "-o", "new.png", "--weights", "none.pth", "--size", "64"], "--weights none.pth"),
    "pixel limit": ([*STYLIZE, "-o", "new.png", "--max-pixels", "100", *TINY], "p.jpg: .*max_pixels"),
    "missing model": (["apply", "none.safetensors", "p.jpg", "-o", "new.png"], "none.safetensors: model file not found"),
    "missing data": (["train", "s.png", "--data", "none", "-o", "m.safetensors"], "--data none: not a folder"),
    "missing sound": (["audio", "none.wav", "st.wav", "-o", "new.wav"], "none.wav: file not found"),
    "text as sound": (["texture", "text.png", "-o", "new.wav"], "text.png: unsupported or unreadable sound file"),
}


@pytest.mark.parametrize("argv, says", CASES.values(), ids=CASES.keys())
def test_bad_input_is_one_line_and_touches_nothing(folder: Path, capsys: pytest.CaptureFixture, argv: list[str],
                                                   says: str) -> None:
    before = _fingerprint(folder)
    code = main(argv)
    err = capsys.readouterr().err
    lines = err.splitlines()
    assert code == 2 and len(lines) == 1 and err.endswith("\n"), err
    assert lines[0].startswith("brushwork: error: ")
    assert re.search(says, lines[0]), lines[0]
    assert _fingerprint(folder) == before, "the folder is unchanged byte for byte"


@pytest.mark.parametrize("where", ["brushwork.api.load_image", "brushwork.api.backbone_for",
                                   "brushwork.feedforward.trainer.scan_photos"])
def test_ctrl_c_while_loading_is_one_line_and_130(folder: Path, capsys: pytest.CaptureFixture,
                                                  monkeypatch: pytest.MonkeyPatch, where: str) -> None:
    def interrupted(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(where, interrupted)
    before = _fingerprint(folder)
    argv = ["train", "s.png", "--data", "photos", "-o", "m.safetensors"] if "trainer" in where else \
        [*STYLIZE, "-o", "new.png", *TINY]
    assert main(argv) == 130
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("brushwork: interrupted"), lines
    assert "--resume" not in lines[0], "no checkpoint to resume from"
    assert _fingerprint(folder) == before


@pytest.mark.parametrize("delay", [0.1, 0.3, 0.6])  # some of PyTorch's import code swallowed a Ctrl-C at 0.3 s
def test_ctrl_c_while_pytorch_loads_is_one_line_and_130(folder: Path, delay: float) -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "brushwork", *STYLIZE, "-o", "new.png", *TINY], stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1] / "src")},
        # as in test_cli: a shell that starts the tests in the background ignores SIGINT
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    time.sleep(delay)  # importing PyTorch takes seconds
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 130 and err == "brushwork: interrupted\n", err
    assert not (folder / "new.png").exists()


def test_overwrite_replaces_an_output_but_folders_skip_existing(folder: Path, capsys: pytest.CaptureFixture) -> None:
    old = (folder / "out.png").read_bytes()
    assert main([*STYLIZE, "-o", "out.png", "--overwrite", "-q", *TINY]) == 0
    assert (folder / "out.png").read_bytes() != old
    assert main([*STYLIZE, "-o", "out.jpg", "--snapshot-every", "1", "--overwrite", "-q", *TINY]) == 0
    assert (folder / "out_iter00002.jpg").is_file()


def test_python_api_refuses_clearly(folder: Path) -> None:
    with pytest.raises(BrushworkError, match="style: needs at least one style image"):
        brushwork.stylize("p.jpg", [], weights="tiny.pth", size=64)
    with pytest.raises(BrushworkError, match="^size '64': must be a whole number, not str"):
        brushwork.stylize("p.jpg", "s.png", size="64")
    with pytest.raises(BrushworkError, match=r"content image: float values must be in \[0, 1\], found [0-9.]+ to 25[0-9]"):
        brushwork.stylize(np.random.default_rng(0).uniform(0, 255, (20, 20, 3)), "s.png", weights="tiny.pth")
    with pytest.raises(BrushworkError, match=r"style image: float values must be in \[0, 1\], found -1 to 1"):
        brushwork.stylize("p.jpg", torch.linspace(-1, 1, 3 * 40 * 40).reshape(3, 40, 40), weights="tiny.pth")
    assert brushwork.StyleConfig(style_masks="mask.png").style_masks == ("mask.png",), "a string is one path"
    result = brushwork.stylize("p.jpg", "s.png", style_masks="mask.png", weights="tiny.pth", size=32, iterations=1)
    assert result.size == (32, 24)
