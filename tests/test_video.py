"""``brushwork video`` and ``stylize_video`` on tiny videos the tests make (a photo panned, with a
tone as audio): timing and audio kept, both paths, resume equal to an unbroken run, bad inputs."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import av
import numpy as np
import pytest
import torch
from feedforward_fixtures import photo_dir, session_backbone, style_file, tiny_model  # noqa: F401
from PIL import Image
from video_fixtures import HEIGHT, WIDTH, audio_packets, decode, panned, write_video

from brushwork.cli import main
from brushwork.errors import BrushworkError
from brushwork.nets.vgg import Backbone
from brushwork.progress import Cancelled, CancelToken, ProgressEvent
from brushwork.video.api import stylize_video
from brushwork.video.config import VideoConfig
from brushwork.video.engines import FeedForwardEngine
from brushwork.video.io import probe, read_frames, write_mp4

#: The optimisation path in a few steps a frame on the tiny VGG.
FAST_OPTIM = {"iterations": 6, "later_iterations": 3, "precision": "float32"}


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """8 frames of 48x32 at 25 fps, panned, with an AAC tone."""
    return write_video(tmp_path_factory.mktemp("clip") / "pan.mp4", panned(8))


def test_fast_path_keeps_frames_rate_timestamps_and_audio(clip: Path, tiny_model: Path, tmp_path: Path) -> None:
    events: list[ProgressEvent] = []
    out = stylize_video(clip, tiny_model, tmp_path / "out.mp4", callbacks=[events.append])
    frames, pts, rate = decode(out)
    source_frames, source_pts, source_rate = decode(clip)
    assert len(frames) == 8 and frames[0].shape == (HEIGHT, WIDTH, 3)
    assert pts == source_pts and rate == source_rate
    assert audio_packets(out) == audio_packets(clip) and audio_packets(clip)
    assert [(e.task, e.step, e.total, e.frame) for e in events] == [("video", k + 1, 8, k) for k in range(8)]
    assert not (tmp_path / "out.mp4.work").exists()
    assert np.abs(frames[3].astype(int) - source_frames[3]).mean() > 2  # stylised, not copied


def test_the_fast_path_runs_the_network_as_trained_unless_told(tiny_model: Path) -> None:
    """The tiny network learnt on 32 px crops: a frame 64 px high is painted at half size, as apply does."""
    seen: list[tuple[int, ...]] = []
    frame = torch.rand(1, 3, 64, 96)
    for config, size in [(VideoConfig(device="cpu"), (32, 48)), (VideoConfig(device="cpu", stroke_scale=1), (64, 96))]:
        engine = FeedForwardEngine(tiny_model, config)
        network = engine.engine
        engine.engine = lambda x, network=network: seen.append(tuple(x.shape[-2:])) or network(x)
        styled, _ = engine(frame, None, None)
        assert seen[-1] == size and styled.shape == frame.shape


def test_segment_size_and_frame_folder(clip: Path, tiny_model: Path, tmp_path: Path) -> None:
    # 0.08 s to 0.2 s at 25 fps: frames 2, 3 and 4; --size 47 gives odd sides, kept in PNGs
    out = stylize_video(clip, tiny_model, f"{tmp_path / 'frames'}/", start=0.08, duration=0.12, size=47)
    names = sorted(p.name for p in out.iterdir())
    assert names == ["frame_000001.png", "frame_000002.png", "frame_000003.png"]
    assert Image.open(out / names[0]).size == (47, 31)
    # ... and an MP4 drops the odd last row and column (yuv420p needs even sides), keeping the segment's audio
    video = stylize_video(clip, tiny_model, tmp_path / "seg.mp4", start=0.08, duration=0.12, size=47)
    frames, pts, _ = decode(video)
    assert len(frames) == 3 and frames[0].shape == (30, 46, 3) and pts[0] == 0
    assert 0 < len(audio_packets(video)) < len(audio_packets(clip))


def test_rotation_is_honoured(tmp_path: Path) -> None:
    frames = panned(3)
    rotated = probe(write_video(tmp_path / "r.mp4", frames, rotation=90, audio=False))
    assert (rotated.width, rotated.height, rotated.rotation) == (HEIGHT, WIDTH, 90)
    first = next(read_frames(rotated)).rgb
    assert first.shape == (WIDTH, HEIGHT, 3)
    assert np.abs(first.astype(int) - np.rot90(frames[0])).mean() < 4  # turned counter-clockwise, as players do


def test_the_same_frames_encode_to_the_same_file(tmp_path: Path) -> None:
    # x264's macroblock-tree rate control gave several different files for these frames within 150 encodes
    frames = [np.clip(f.astype(int) + np.random.default_rng(k).integers(-30, 30, f.shape), 0, 255).astype(np.uint8)
              for k, f in enumerate(panned(8, 96, 64))]
    info = probe(write_video(tmp_path / "pan.mp4", frames))
    timestamps = decode(info.path)[1]
    files = set()
    for _ in range(150):
        write_mp4(tmp_path / "out.mp4", iter(frames), timestamps, (64, 96), info, 18, 0.0, None)
        files.add((tmp_path / "out.mp4").read_bytes())
    assert len(files) == 1


def _cancel_after(frames: int) -> tuple[CancelToken, list]:
    token = CancelToken()
    return token, [lambda event: token.cancel() if event.step == frames else None]


@pytest.mark.parametrize("path", ["fast", "optimisation"])
def test_resume_after_cancel_writes_what_an_unbroken_run_writes(clip: Path, tiny_model: Path, style_file: Path,
                                                                session_backbone: Backbone, tmp_path: Path,
                                                                path: str) -> None:
    style, options = (tiny_model, {}) if path == "fast" else (style_file, {**FAST_OPTIM, "duration": 0.2})
    kwargs = {"backbone": session_backbone} if path == "optimisation" else {}
    whole = stylize_video(clip, style, tmp_path / "whole.mp4", **kwargs, **options)
    token, callbacks = _cancel_after(2)
    with pytest.raises(Cancelled) as stop:
        stylize_video(clip, style, tmp_path / "halves.mp4", callbacks=callbacks, cancel=token, **kwargs, **options)
    assert stop.value.checkpoint == tmp_path / "halves.mp4.work" and stop.value.step == 2
    assert not (tmp_path / "halves.mp4").exists()
    with pytest.raises(BrushworkError, match="holds the frames of an earlier run; pass --resume"):
        stylize_video(clip, style, tmp_path / "halves.mp4", **kwargs, **options)
    with pytest.raises(BrushworkError, match="differs in settings"):
        stylize_video(clip, style, tmp_path / "halves.mp4", resume=True, crf=30, **kwargs, **options)
    events: list[ProgressEvent] = []
    halves = stylize_video(clip, style, tmp_path / "halves.mp4", resume=True, callbacks=[events.append], **kwargs,
                           **options)
    assert events[0].frame == 2
    assert halves.read_bytes() == whole.read_bytes()


def test_kill_9_then_resume_equals_an_unbroken_run(clip: Path, style_file: Path, tiny_checkpoint: Path,
                                                   tmp_path: Path) -> None:
    argv = [sys.executable, "-m", "brushwork", "video", str(clip), str(style_file), "--weights", str(tiny_checkpoint),
            "--iterations", "40", "--later-iterations", "40", "--precision", "float32", "-q"]
    work = tmp_path / "killed.mp4.work"
    process = subprocess.Popen([*argv, "-o", str(tmp_path / "killed.mp4")])
    deadline = time.monotonic() + 600  # a loaded machine takes long to import PyTorch
    while not (work / "frame_000002.png").exists() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    assert not (tmp_path / "killed.mp4").exists() and (work / "frame_000002.png").exists()
    assert not (work / "frame_000008.png").exists()  # it was stopped, not finished
    subprocess.run([*argv, "-o", str(tmp_path / "killed.mp4"), "--resume"], check=True)
    subprocess.run([*argv, "-o", str(tmp_path / "whole.mp4")], check=True)
    assert (tmp_path / "killed.mp4").read_bytes() == (tmp_path / "whole.mp4").read_bytes()
    assert not work.exists()


def _audio_only(path: Path) -> Path:
    with av.open(str(path), "w") as out:
        sound = out.add_stream("aac", rate=16000, layout="mono")
        frame = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), format="fltp", layout="mono")
        frame.sample_rate, frame.pts = 16000, 0
        for packet in [*sound.encode(frame), *sound.encode(None)]:
            out.mux(packet)
    return path


def _broken(path: Path) -> Path:
    """20 frames with the index first, cut off after 60 % of the file: the stream breaks mid-way."""
    whole = write_video(path.with_name("whole20.mp4"), panned(20), faststart=True)
    data = whole.read_bytes()
    path.write_bytes(data[: len(data) * 6 // 10])
    return path


@pytest.mark.parametrize("case,says", [
    ("text", "notavideo.mp4: not a video"),
    ("missing", "missing.mp4: file not found"),
    ("audio", "sound.m4a: no video stream"),
    ("start", "--start 5.0: the video .*pan.mp4 is only 0.32 s long"),
    ("broken", "broken.mp4: the video stream breaks off after frame"),
    ("avi", "-o .*out.avi: unsupported output format '.avi'"),
    ("nofolder", "-o .*nowhere/out.mp4: folder .* does not exist"),
    ("onto_input", "-o .*pan.mp4: is the video"),
    ("exists", "-o .*exists.mp4: exists already; pass --overwrite"),
    ("no_model", "none.safetensors: file not found"),
    ("resume_nothing", "--resume: .* holds no interrupted run"),
])
def test_bad_input_is_one_line_and_no_output(clip: Path, tiny_model: Path, tmp_path: Path,
                                             capsys: pytest.CaptureFixture, case: str, says: str) -> None:
    video, model, out, extra = clip, tiny_model, tmp_path / "out.mp4", []
    if case == "text":
        video = tmp_path / "notavideo.mp4"
        video.write_text("hello")
    elif case == "missing":
        video = tmp_path / "missing.mp4"
    elif case == "audio":
        video = _audio_only(tmp_path / "sound.m4a")
    elif case == "start":
        extra = ["--start", "5"]
    elif case == "broken":
        video = _broken(tmp_path / "broken.mp4")
    elif case == "avi":
        out = tmp_path / "out.avi"
    elif case == "nofolder":
        out = tmp_path / "nowhere" / "out.mp4"
    elif case == "onto_input":
        out = clip
    elif case == "exists":
        out = tmp_path / "exists.mp4"
        out.write_bytes(b"mine")
    elif case == "no_model":
        model = tmp_path / "none.safetensors"
    elif case == "resume_nothing":
        extra = ["--resume"]
    before = {p: p.stat().st_mtime_ns for p in tmp_path.rglob("*")}
    assert main(["video", str(video), str(model), "-o", str(out), "-q", *extra]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("brushwork: error: ")
    assert __import__("re").search(says, err), err
    if case == "exists":
        assert out.read_bytes() == b"mine"
    elif case != "onto_input":
        assert not out.exists()
    if case == "broken":  # the frames done are kept for --resume
        assert len(list((tmp_path / "out.mp4.work").glob("frame_*.png"))) >= 5
    else:
        assert {p: p.stat().st_mtime_ns for p in tmp_path.rglob("*")} == before
