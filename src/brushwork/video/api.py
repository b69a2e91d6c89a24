"""``stylize_video``: a video file in, a stylised video file (or a folder of numbered PNGs) out,
every frame kept in a work folder as it finishes so that an interrupted run can be resumed."""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator
from dataclasses import replace
from importlib.metadata import version
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from brushwork.config import StyleConfig
from brushwork.errors import BrushworkError, SettingError
from brushwork.image import PathLike, load_image, long_side_shape, write_atomically
from brushwork.nets.vgg import Backbone
from brushwork.outputs import Input, check_output_file, check_series
from brushwork.progress import Callback, Cancelled, CancelToken, Clock, ProgressEvent, check_cancel
from brushwork.video.config import VideoConfig
from brushwork.video.engines import MODEL_SUFFIXES, FeedForwardEngine, FrameEngine, OptimisationEngine
from brushwork.video.io import VIDEO_SUFFIXES, Frame, VideoInfo, probe, read_frames, segment_frames, write_mp4
from brushwork.video.temporal import FlowTracker, to_tensor, to_uint8
from brushwork.video.work import WorkFolder, frame_name


def is_frame_folder(output: PathLike) -> bool:
    """True when ``output`` names a folder for numbered PNGs: written with a trailing slash, an
    existing folder, or a name without a suffix."""
    text = os.fspath(output)
    return text.endswith(("/", os.sep)) or Path(text).is_dir() or not Path(text).suffix


def default_work_dir(output: Path) -> Path:
    """Where a run keeps its frames unless told: beside the output, named after it (out.mp4.work)."""
    return output.with_name(output.name + ".work")


def _identity(path: Path) -> dict[str, Any]:
    """What makes an input file the same file for --resume: its absolute path, size and change time."""
    stat = path.stat()
    return {"path": str(path.resolve()), "bytes": stat.st_size, "mtime_ns": stat.st_mtime_ns}


def frame_shape(info: VideoInfo, size: int | None) -> tuple[int, int]:
    """(height, width) of the frames to stylise: the video's own, or scaled to a long side of ``size``."""
    return (info.height, info.width) if size is None else long_side_shape(info.height, info.width, size)


def _resized(rgb: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """A frame uint8 [H,W,3] at ``shape`` (area averaging to shrink, bicubic to enlarge)."""
    if rgb.shape[:2] == shape:
        return rgb
    smaller = shape[0] * shape[1] < rgb.shape[0] * rgb.shape[1]
    return cv2.resize(rgb, (shape[1], shape[0]), interpolation=cv2.INTER_AREA if smaller else cv2.INTER_CUBIC)


def _even(rgb: np.ndarray) -> np.ndarray:
    """The frame without its last row and column where they are odd: H.264 in yuv420p needs even sides."""
    return rgb[: rgb.shape[0] // 2 * 2, : rgb.shape[1] // 2 * 2]


def _engine(style: Path, config: VideoConfig, long_side: int, backbone: Backbone | None) -> FrameEngine:
    """The fast path for a model file, the optimisation path for a style image."""
    if style.suffix.lower() in MODEL_SUFFIXES:
        return FeedForwardEngine(style, config)
    rgb, _ = load_image(style, StyleConfig.max_pixels)
    return OptimisationEngine(rgb, config, long_side, backbone)


def stylize_video(video: PathLike, style: PathLike, output: PathLike, config: VideoConfig | None = None, *,
                  resume: bool = False, overwrite: bool = False, work_dir: PathLike | None = None,
                  callbacks: Iterable[Callback] = (), cancel: CancelToken | None = None,
                  backbone: Backbone | None = None, **options: Any) -> Path:
    """Stylise ``video`` with ``style``: a style image runs the optimisation path, a ``.safetensors``
    or ``.onnx`` network the fast path. Writes ``output``: an MP4 (H.264 yuv420p at ``crf``, the input's
    timestamps, its audio copied unchanged; an odd width or height loses its last column or row), or,
    for a folder (see :func:`is_frame_folder`), numbered PNGs frame_000001.png, ... at full size. The
    output appears only when complete. Returns ``output`` as a Path.

    ``options`` override fields of ``config`` (default VideoConfig()). Each finished frame is kept in
    ``work_dir`` (default: OUTPUT.work); after an interruption, the same call with ``resume`` continues
    from there and writes the file an unbroken run writes. The work folder is removed at the end.
    Everything is checked before any work: a bad input or output is a one-line BrushworkError.

    ``callbacks`` get a "video" ProgressEvent after each frame (``frame`` its index, ``checkpoint``
    the frame's file, ``losses`` the optimisation's terms). A cancelled ``cancel`` stops within one
    frame (the optimisation path: within one iteration) with Cancelled whose ``checkpoint`` is the
    work folder and ``step`` the frames finished.
    """
    config = replace(config or VideoConfig(), **options)
    folder = is_frame_folder(output)
    video, style, output = Path(video), Path(style), Path(output)
    info = probe(video)
    if not style.is_file():
        raise BrushworkError(f"{style}: file not found" if not style.exists() else f"{style}: is not a file")
    shape = frame_shape(info, config.size)
    total = segment_frames(info, config.start, config.duration)
    if total == 0:
        raise SettingError.of("start", config.start, f"the video {video} is only {info.seconds:.2f} s long")
    inputs: list[Input] = [("video", video), ("model" if style.suffix.lower() in MODEL_SUFFIXES else "style", style)]
    if folder:
        check_series(output, [frame_name(k) for k in range(total)], "output", inputs, overwrite)
    else:
        check_output_file(output, "output", inputs, overwrite, VIDEO_SUFFIXES)
    record = {"brushwork": version("brushwork"), "video": _identity(video), "style": _identity(style),
              "settings": config.to_dict()}
    work = WorkFolder(Path(work_dir) if work_dir is not None else default_work_dir(output), record, resume, overwrite)
    engine = _engine(style, config, max(shape), backbone)
    timestamps = _stylize_frames(info, shape, total, config, engine, work, list(callbacks), cancel)
    if folder:
        output.mkdir(parents=True, exist_ok=True)
        for k in range(len(timestamps)):
            os.replace(work.path(k), output / frame_name(k))
    else:
        end = None if config.duration is None else config.start + config.duration
        even = (shape[0] // 2 * 2, shape[1] // 2 * 2)
        frames = (_even(work.load(k)) for k in range(len(timestamps)))
        comment = json.dumps({"brushwork": record["brushwork"], "style": style.name, "settings": record["settings"]})
        write_atomically(output, lambda tmp: write_mp4(tmp, frames, timestamps, even, info, config.crf,
                                                       config.start, end, comment))
    work.remove()
    return output


def _stylize_frames(info: VideoInfo, shape: tuple[int, int], total: int, config: VideoConfig, engine: FrameEngine,
                    work: WorkFolder, callbacks: list[Callback], cancel: CancelToken | None) -> list[int]:
    """Stylise every frame of the segment not yet in ``work``; returns all the frames' timestamps."""
    done = work.done()
    tracker = None if config.independent else FlowTracker(config.flow)
    clock = Clock(sum(engine.cost(k > 0 and tracker is not None) for k in range(done, total)))
    timestamps: list[int] = []
    previous_input: np.ndarray | None = None
    previous_output: np.ndarray | None = None
    for frame in input_frames(info, config):
        timestamps.append(frame.pts)
        rgb = frame.rgb
        if frame.index < done:
            previous_input = rgb
            continue
        check_cancel(cancel, frame.index, None, work.folder)
        if previous_output is None and frame.index > 0 and tracker is not None:
            previous_output = work.load(frame.index - 1)
        warped = None
        if tracker is not None and previous_input is not None and previous_output is not None:
            warped = tracker(previous_input, rgb, previous_output)
        try:
            image, losses = engine(to_tensor(rgb), warped, cancel)
        except Cancelled:
            raise Cancelled(frame.index, None, work.folder) from None
        previous_input, previous_output = rgb, to_uint8(image)
        path = work.save(frame.index, previous_output)
        elapsed, eta = clock.advance(engine.cost(warped is not None))
        event = ProgressEvent("video", "frames", frame.index + 1, total, losses, elapsed, eta, size=max(shape),
                              frame=frame.index, checkpoint=str(path), render=lambda: to_tensor(previous_output))
        for callback in callbacks:
            callback(event)
    return timestamps


def input_frames(info: VideoInfo, config: VideoConfig) -> Iterator[Frame]:
    """The frames of ``config``'s segment at the size they are stylised at (``config.size``)."""
    shape = frame_shape(info, config.size)
    for frame in read_frames(info, config.start, config.duration):
        yield replace(frame, rgb=_resized(frame.rgb, shape))
