"""The work folder of a video run: each finished frame as a PNG, written atomically, and a record of
what the run is, so that ``--resume`` continues only the same run.

A frame on disk is exactly what the next frame is computed from (the uint8 result, never the float
one), so that a run resumed after a crash computes the very frames an unbroken run would.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from brushwork.errors import BrushworkError
from brushwork.image import write_atomically

RECORD = "video-run.json"


def frame_name(index: int) -> str:
    """The file name of frame ``index`` (from 0): frame_000001.png for the first."""
    return f"frame_{index + 1:06d}.png"


class WorkFolder:
    """Frames of one run in ``folder``, with its ``record`` (JSON-able: inputs and settings).

    A folder that holds another run's frames is refused unless ``resume`` (and then its record must
    equal ``record``) or ``overwrite`` (then it is emptied); ``resume`` with nothing to resume is an
    error too.
    """

    def __init__(self, folder: Path, record: dict[str, Any], resume: bool, overwrite: bool) -> None:
        self.folder = folder
        stored = folder / RECORD
        if resume:
            if not stored.is_file():
                raise BrushworkError(f"--resume: {folder} holds no interrupted run to continue")
            try:
                earlier = json.loads(stored.read_text())
            except (OSError, ValueError) as e:
                raise BrushworkError(f"--resume: {stored} is damaged ({e}); remove {folder} to start over") from None
            if earlier != record:
                changed = sorted(k for k in {*earlier, *record} if earlier.get(k) != record.get(k))
                raise BrushworkError(f"--resume: the run in {folder} differs in {', '.join(changed)}; give the same "
                                     "inputs and settings, or --overwrite to start over")
            return
        if folder.exists() and any(folder.iterdir()):
            if not overwrite:
                raise BrushworkError(f"{folder}: holds the frames of an earlier run; pass --resume to continue it or "
                                     "--overwrite to start over")
            shutil.rmtree(folder)
        folder.mkdir(parents=True, exist_ok=True)
        write_atomically(stored, lambda tmp: tmp.write_text(json.dumps(record, indent=1)))

    def path(self, index: int) -> Path:
        return self.folder / frame_name(index)

    def done(self) -> int:
        """How many frames from the first on are finished."""
        count = 0
        while self.path(count).is_file():
            count += 1
        return count

    def save(self, index: int, rgb: np.ndarray) -> Path:
        """Write frame ``index`` (uint8 [H,W,3]) atomically; returns its path."""
        path = self.path(index)
        write_atomically(path, lambda tmp: Image.fromarray(rgb).save(tmp, "PNG", compress_level=1))
        return path

    def load(self, index: int) -> np.ndarray:
        """Frame ``index`` as uint8 [H,W,3]."""
        with Image.open(self.path(index)) as image:
            return np.asarray(image.convert("RGB")).copy()

    def remove(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)
