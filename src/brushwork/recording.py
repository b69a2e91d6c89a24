"""What a run leaves besides its result, for any front end: the provenance stamped into outputs,
and progress consumers that save snapshots and collect GIF frames.

Provenance is one metadata key, ``"brushwork"``, whose JSON holds the brushwork version, the task,
its settings (``Settings.to_dict()``) and its inputs; :func:`settings_from` reads the settings back,
so that a run can be repeated from its output.
"""

from __future__ import annotations

import json
from importlib.metadata import version
from pathlib import Path
from typing import Any, TypeVar

from PIL import Image

from brushwork.config import Settings, StyleConfig
from brushwork.errors import BrushworkError
from brushwork.image import PathLike, read_metadata, save_gif, save_image, to_pil
from brushwork.progress import ProgressEvent

#: The one metadata key of an output that holds its provenance.
PROVENANCE_KEY = "brushwork"
S = TypeVar("S", bound=Settings)


def provenance(task: str, settings: Settings, inputs: dict[str, Any], **extra: Any) -> dict[str, str]:
    """The metadata to embed in an output of ``task``: {"brushwork": JSON of the version, the task,
    the settings, the ``inputs`` (names or paths, JSON-able) and ``extra`` (e.g. step)}."""
    record = {"version": version("brushwork"), "task": task, "settings": settings.to_dict(), "inputs": inputs,
              **extra}
    return {PROVENANCE_KEY: json.dumps(record)}


def read_provenance(path: PathLike) -> dict[str, Any]:
    """The provenance record that :func:`provenance` embedded in the output ``path``."""
    text = read_metadata(path).get(PROVENANCE_KEY)
    if text is None:
        raise BrushworkError(f"{path}: no brushwork settings embedded (not written by brushwork 0.2 or later)")
    try:
        record = json.loads(text)
    except ValueError:
        record = None
    if not isinstance(record, dict) or not isinstance(record.get("settings"), dict):
        raise BrushworkError(f"{path}: damaged brushwork metadata (no settings object)")
    return record


def settings_from(path: PathLike, kind: type[S] = StyleConfig) -> tuple[S, dict[str, Any]]:
    """(the settings, the inputs) of the run that wrote ``path``; errors name the file."""
    record = read_provenance(path)
    try:
        return kind.from_dict(record["settings"]), dict(record.get("inputs") or {})
    except BrushworkError as exc:
        raise BrushworkError(f"{path}: {exc}") from None


class Snapshots:
    """A progress consumer that saves the current image every ``every`` steps as
    ``{stem}_iter{step:05d}{suffix}`` in ``folder`` (the names of ``output``), with ``metadata``.

    A file of that name that this run did not write is replaced only with ``overwrite`` (a front end
    checks the planned names before the run: ``outputs.check_series``)."""

    def __init__(self, output: Path, every: int, folder: Path | None = None,
                 metadata: dict[str, str] | None = None, overwrite: bool = False) -> None:
        self.output, self.every, self.overwrite = Path(output), every, overwrite
        self.folder = Path(folder) if folder is not None else self.output.parent
        self.metadata = metadata or {}
        self.written: set[Path] = set()

    def __call__(self, event: ProgressEvent) -> None:
        if self.every and event.step % self.every == 0:
            image = event.preview()
            if image is not None:
                self.save(to_pil(image), event.step, replace=self.overwrite)

    def name(self, step: int) -> str:
        """The file name of the snapshot of ``step``."""
        return f"{self.output.stem}_iter{step:05d}{self.output.suffix}"

    def save(self, image: Image.Image, step: int, replace: bool = False) -> Path | None:
        """Save ``image`` as the snapshot of ``step``; returns its path, or None where a file of that
        name exists that this run did not write, unless ``replace``."""
        path = self.folder / self.name(step)
        if (path.exists() or path.is_symlink()) and path not in self.written and not replace:
            return None
        save_image(image, path, self.metadata)
        self.written.add(path)
        return path


class GifFrames:
    """A progress consumer that keeps about ``count`` frames of a run of ``total`` steps (the first
    step and every ``total // count``-th), then writes them as an animated GIF."""

    def __init__(self, total: int, count: int = 50) -> None:
        self.every = max(1, total // count)
        self.frames: list[Image.Image] = []

    def __call__(self, event: ProgressEvent) -> None:
        if event.step % self.every == 0 or event.step == 1:
            image = event.preview()
            if image is not None:
                self.frames.append(to_pil(image))

    def save(self, path: PathLike, final: Image.Image) -> None:
        """Write the frames, each resized to ``final``'s size (coarse scales are smaller), then ``final``."""
        frames = [frame.resize(final.size, Image.BICUBIC) for frame in self.frames]
        save_gif(frames + [final.convert("RGB")], path)
