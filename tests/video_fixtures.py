"""Tiny test videos whose true motion is known: a photo (examples/content.jpg) panned or zoomed
under a fixed window, with a tone as an AAC audio track. Import into a test module for pytest."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
from PIL import Image

PHOTO = Path(__file__).resolve().parents[1] / "examples" / "content.jpg"
#: The size of the test frames (width, height) and their rate.
WIDTH, HEIGHT, RATE = 48, 32, 25
#: The pan: the window moves this many px right per frame, so the picture moves left.
PAN = 2


def photo(height: int = 3 * HEIGHT) -> np.ndarray:
    """The example photo, uint8 [H,W,3], ``height`` px high."""
    with Image.open(PHOTO) as image:
        image = image.convert("RGB")
        return np.asarray(image.resize((round(image.width * height / image.height), height), Image.BICUBIC)).copy()


def panned(frames: int, width: int = WIDTH, height: int = HEIGHT) -> list[np.ndarray]:
    """``frames`` windows of the photo, each PAN px further right: the picture moves PAN px left per frame."""
    big = photo()
    top = (big.shape[0] - height) // 2
    return [np.ascontiguousarray(big[top:top + height, 8 + PAN * k: 8 + PAN * k + width]) for k in range(frames)]


def zoomed(frames: int, width: int = WIDTH, height: int = HEIGHT) -> list[np.ndarray]:
    """``frames`` views of the photo, each 3 % closer around its centre."""
    big = photo()
    cy, cx = big.shape[0] / 2, big.shape[1] / 2
    out = []
    for k in range(frames):
        scale = 1.03 ** k
        h, w = 2 * height / scale, 2 * width / scale
        box = (round(cx - w / 2), round(cy - h / 2), round(cx + w / 2), round(cy + h / 2))
        out.append(np.asarray(Image.fromarray(big).resize((width, height), Image.BICUBIC, box=box)).copy())
    return out


def write_video(path: Path, frames: list[np.ndarray], *, audio: bool = True, rotation: int | None = None,
                faststart: bool = False, rate: int = RATE) -> Path:
    """Encode ``frames`` (uint8 [H,W,3], even sides) as H.264 at ``rate`` fps with, if ``audio``, a 440 Hz
    tone of the same length as AAC; ``rotation`` is stored as display rotation (degrees counter-clockwise)."""
    with av.open(str(path), "w", options={"movflags": "+faststart"} if faststart else {}) as out:
        video = out.add_stream("libx264", rate=rate)
        video.height, video.width = frames[0].shape[:2]
        video.pix_fmt = "yuv420p"
        video.options = {"crf": "10"}
        if rotation is not None:
            video.set_display_rotation(rotation)
        sound = out.add_stream("aac", rate=16000, layout="mono") if audio else None
        for rgb in frames:
            for packet in video.encode(av.VideoFrame.from_ndarray(rgb, format="rgb24")):
                out.mux(packet)
        for packet in video.encode(None):
            out.mux(packet)
        if sound is not None:
            samples = (0.3 * np.sin(2 * np.pi * 440 * np.arange(16000 * len(frames) // rate) / 16000)).astype(np.float32)
            for k in range(0, samples.size, 1024):
                frame = av.AudioFrame.from_ndarray(samples[None, k:k + 1024].copy(), format="fltp", layout="mono")
                frame.sample_rate, frame.pts = 16000, k
                for packet in sound.encode(frame):
                    out.mux(packet)
            for packet in sound.encode(None):
                out.mux(packet)
    return path


def decode(path: Path) -> tuple[list[np.ndarray], list[int], object]:
    """(frames uint8 [H,W,3], their timestamps, the video stream's average rate) of a file."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        frames, pts = [], []
        for frame in container.decode(stream):
            frames.append(frame.to_ndarray(format="rgb24"))
            pts.append(frame.pts)
        return frames, pts, stream.average_rate


def audio_packets(path: Path) -> list[bytes]:
    """The bytes of every audio packet of a file, in order."""
    with av.open(str(path)) as container:
        return [bytes(p) for p in container.demux(container.streams.audio[0]) if p.size]
