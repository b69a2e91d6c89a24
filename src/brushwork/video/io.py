"""Reading and writing videos with PyAV (FFmpeg bundled in its wheel).

Frames come out upright (the stream's display rotation applied) as uint8 RGB arrays [H,W,3], each
with its timestamp in the stream's time base. Writing encodes H.264 (yuv420p) into MP4 with the
input's time base and timestamps, and copies the input's audio packets unchanged. Every problem with
the user's file is a one-line :class:`BrushworkError` naming it.
"""

from __future__ import annotations

import heapq
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import numpy as np

from brushwork.errors import BrushworkError
from brushwork.image import one_line

#: Output suffixes that are encoded as H.264 in MP4.
VIDEO_SUFFIXES = (".mp4", ".m4v", ".mov")
#: x264's settings besides --crf, chosen so that the same frames always give the same file, which
#: --resume's equality with an unbroken run needs: one thread (x264's output depends on the thread
#: count), and no macroblock-tree rate control, which in this build gave 4 to 16 different files for
#: the same 8 frames over a few hundred encodes, at every size tried (48x32 to 320x192), and one file
#: without it. Its cost on Big Buck Bunny at 640x360, crf 18: 0.3 dB PSNR at 1.5 % fewer bytes.
ENCODER_OPTIONS = {"threads": "1", "x264-params": "mbtree=0"}


@dataclass(frozen=True)
class VideoInfo:
    """What a video file holds, as displayed: ``width`` x ``height`` after rotation; ``rotation`` the
    degrees the stored frames are turned counter-clockwise for display (0, 90, 180, 270); ``rate`` the
    average frame rate (frames per second); ``time_base`` of the video stream; ``frames`` the frame
    count that the container declares (0 when it does not say); ``seconds`` its duration; ``audio``
    whether it has an audio track."""

    path: Path
    width: int
    height: int
    rotation: int
    rate: Fraction
    time_base: Fraction
    frames: int
    seconds: float
    audio: bool


@dataclass(frozen=True)
class Frame:
    """One decoded frame of a segment: its ``index`` in the segment (from 0), timestamp ``pts`` in
    the stream's time base, and ``rgb`` uint8 [H,W,3], upright."""

    index: int
    pts: int
    rgb: np.ndarray


def _open(path: Path) -> Any:
    """An input container with one-line errors naming ``path``."""
    if not path.exists():
        raise BrushworkError(f"{path}: file not found")
    if path.is_dir():
        raise BrushworkError(f"{path}: is a folder, not a video file")
    try:
        return av.open(os.fspath(path), "r")
    except av.error.FFmpegError as e:
        raise BrushworkError(f"{path}: not a video ({one_line(e)})") from None
    except OSError as e:
        raise BrushworkError(f"{path}: cannot open ({one_line(e)})") from None


def _upright(rgb: np.ndarray, rotation: int) -> np.ndarray:
    """The stored frame turned counter-clockwise by ``rotation`` degrees, as players show it."""
    turns = round(rotation / 90) % 4
    return np.ascontiguousarray(np.rot90(rgb, turns)) if turns else rgb


def probe(path: Path | str) -> VideoInfo:
    """Open ``path`` and decode its first frame; a one-line error if it is not a video, has no video
    stream, or no frame."""
    path = Path(path)
    with _open(path) as container:
        if not container.streams.video:
            raise BrushworkError(f"{path}: no video stream ({len(container.streams.audio)} audio stream(s) only)"
                                 if container.streams.audio else f"{path}: no video stream")
        stream = container.streams.video[0]
        first = next(_decode(container, stream, path), None)
        if first is None:
            raise BrushworkError(f"{path}: the video stream has no frames")
        rotation = round(first.rotation / 90) % 4 * 90
        height, width = (first.height, first.width) if rotation in (0, 180) else (first.width, first.height)
        rate = stream.average_rate or stream.guessed_rate or Fraction(25)
        seconds = float(stream.duration * stream.time_base) if stream.duration else (
            float(container.duration) / av.time_base if container.duration else stream.frames / float(rate))
        return VideoInfo(path, width, height, rotation, Fraction(rate), Fraction(stream.time_base), stream.frames,
                         seconds, bool(container.streams.audio))


def _decode(container: Any, stream: Any, path: Path) -> Iterator[Any]:
    """The stream's frames, with a decoding error as a one-line error naming ``path``."""
    try:
        yield from container.decode(stream)
    except av.error.FFmpegError as e:
        raise BrushworkError(f"{path}: the video stream is damaged ({one_line(e)})") from None


def segment_frames(info: VideoInfo, start: float, duration: float | None) -> int:
    """How many frames the segment from ``start`` s lasting ``duration`` s (None: to the end) should
    hold by the container's count and rate (an estimate where the container gives no count)."""
    total = info.frames or round(info.seconds * info.rate)
    first = round(start * info.rate)
    last = total if duration is None else min(total, first + max(1, round(duration * info.rate)))
    return max(0, last - first)


def read_frames(info: VideoInfo, start: float = 0.0, duration: float | None = None) -> Iterator[Frame]:
    """The upright frames whose timestamps lie in [start, start + duration) seconds.

    A stream that ends before the container's declared frame count is a damaged file: the error
    comes after the frames that could be read.
    """
    expected = segment_frames(info, start, duration)
    end = None if duration is None else start + duration
    index = 0
    with _open(info.path) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        for decoded in _decode(container, stream, info.path):
            seconds = float((decoded.pts or 0) * stream.time_base)
            if seconds < start - 1e-6:
                continue
            if end is not None and seconds >= end - 1e-6:
                break
            yield Frame(index, int(decoded.pts or 0), _upright(decoded.to_ndarray(format="rgb24"), info.rotation))
            index += 1
    if info.frames and index < expected:
        raise BrushworkError(f"{info.path}: the video stream breaks off after frame {index} of {expected}")


def _audio_packets(container: Any, start: float, end: float | None, stream_out: Any) -> Iterator[tuple[float, Any]]:
    """(seconds, packet) of the ``container``'s first audio track within [start, end), retimed to
    begin at ``start`` and addressed to ``stream_out``; the packets' data is copied unchanged."""
    stream = container.streams.audio[0]
    shift = round(start / stream.time_base)
    for packet in container.demux(stream):
        if packet.pts is None or packet.size == 0:
            continue  # the demuxer's end-of-stream marker
        seconds = float(packet.pts * stream.time_base)
        if (start > 0 and seconds < start) or (end is not None and seconds >= end):
            continue
        packet.pts -= shift
        packet.dts = None if packet.dts is None else packet.dts - shift
        packet.stream = stream_out
        yield float(packet.pts * stream.time_base), packet


def write_mp4(path: Path, frames: Iterable[np.ndarray], timestamps: list[int], shape: tuple[int, int],
              info: VideoInfo, crf: int, start: float, end: float | None, comment: str = "") -> None:
    """Encode ``frames`` (uint8 [H,W,3] of ``shape`` (H, W), both even) as H.264 yuv420p at ``crf``
    into ``path``, each with its timestamp from ``timestamps`` (the input's time base, shifted so that
    the first is zero), plus the audio of ``info.path`` between ``start`` and ``end`` seconds copied
    unchanged. The caller writes to a temporary name and renames."""
    first = timestamps[0] if timestamps else 0
    with av.open(os.fspath(path), "w", format="mp4") as out, _open(info.path) as source:
        if comment:
            out.metadata["comment"] = comment
        video = out.add_stream("libx264", rate=info.rate)
        # The input's time base for the encoder too, so that no timestamp is rounded (variable frame rates)
        video.time_base = video.codec_context.time_base = info.time_base
        video.height, video.width = shape
        video.pix_fmt = "yuv420p"
        video.options = {"crf": str(crf), **ENCODER_OPTIONS}
        audio = out.add_stream_from_template(source.streams.audio[0]) if source.streams.audio else None

        def video_packets() -> Iterator[tuple[float, Any]]:
            for rgb, pts in zip(frames, timestamps):
                frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
                frame.pts, frame.time_base = pts - first, info.time_base
                for packet in video.encode(frame):
                    yield float(packet.dts * video.time_base), packet
            for packet in video.encode(None):
                yield float(packet.dts * video.time_base), packet

        streams = [video_packets()]
        if audio is not None:
            streams.append(_audio_packets(source, start, end, audio))
        for _, packet in heapq.merge(*streams, key=lambda item: item[0]):
            out.mux(packet)
