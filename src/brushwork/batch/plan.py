"""The plan of a batch: one task (input, style or network, output) per image, a pure function of the
inputs, the style pool, the seed and each image's path relative to INPUTS.

INPUTS is a folder (its images, recursively), one image, or a manifest: a text file with one path a
line, or a CSV file with a path and optionally a style (an image or a network file) a row. Relative
paths in a manifest are relative to its folder. The output tree mirrors the inputs': each output is
OUT_DIR / the input's relative path (.png where its format cannot be written).
"""

from __future__ import annotations

import csv
import hashlib
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from brushwork.errors import BrushworkError
from brushwork.feedforward.apply import INPUT_SUFFIXES, check_unique_outputs, output_name
from brushwork.image import PathLike

#: Files that hold a trained network: a task whose style is one runs the feed-forward path.
MODEL_SUFFIXES = frozenset({".safetensors", ".onnx"})
#: Header cells that mark a CSV manifest's first row as a header, not an image.
HEADER_CELLS = frozenset({"input", "path", "image", "file"})


@dataclass(frozen=True)
class Task:
    """One image to paint: ``input`` in the style of ``style`` (an image: the optimisation; a network
    file: the feed-forward path) into ``output``. ``relative`` is the input's path relative to INPUTS
    (posix); ``attempt`` counts the calls holding it whose worker died (running it or an image before
    it in its chunk), so that a worker trying it again first looks whether the dead one wrote it."""

    input: Path
    output: Path
    style: Path
    relative: str
    attempt: int = 0

    @property
    def network(self) -> bool:
        """Whether the style is a trained network (the fast path)."""
        return self.style.suffix.lower() in MODEL_SUFFIXES


def _images(folder: Path, skip: tuple[str, ...] = ()) -> list[Path]:
    """The images under ``folder``, recursively, sorted; hidden files and folders, and the folder
    ``skip`` (relative parts: an output folder inside the input folder), left out."""
    found = []
    for path in folder.rglob("*"):
        parts = path.relative_to(folder).parts
        if (path.suffix.lower() in INPUT_SUFFIXES and not any(p.startswith(".") for p in parts)
                and not (skip and parts[:len(skip)] == skip) and path.is_file()):
            found.append(path)
    return sorted(found)


def _read_manifest(path: Path) -> list[tuple[Path, Path | None]]:
    """(image, style or None) for each row of a text or CSV manifest; blank rows and # comments skipped."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise BrushworkError(f"{path}: cannot read the manifest ({exc.__class__.__name__}: {exc})") from None
    if path.suffix.lower() in (".csv", ".tsv"):
        rows = list(csv.reader(text.splitlines(), delimiter="\t" if path.suffix.lower() == ".tsv" else ","))
        if rows and rows[0] and rows[0][0].strip().lower() in HEADER_CELLS:
            rows = rows[1:]
    else:
        rows = [[line] for line in text.splitlines()]
    entries = []
    for number, row in enumerate(rows, 1):
        cells = [cell.strip() for cell in row]
        if not cells or not cells[0] or cells[0].startswith("#"):
            continue
        if len(cells) > 2:
            raise BrushworkError(f"{path}: row {number} has {len(cells)} columns; a row is a path and an optional style")
        image, style = (path.parent / Path(cells[0]).expanduser(),
                        path.parent / Path(cells[1]).expanduser() if len(cells) > 1 and cells[1] else None)
        entries.append((image, style))
    if not entries:
        raise BrushworkError(f"{path}: the manifest lists no images")
    return entries


def discover(inputs: PathLike, output: PathLike) -> list[tuple[Path, str, Path | None]]:
    """(image, its path relative to INPUTS, the style its manifest row names or None), sorted by the
    relative path. A manifest's images are taken relative to the deepest folder that holds them all."""
    inputs, output = Path(inputs), Path(output)
    if inputs.is_dir():
        inside = output.resolve().is_relative_to(inputs.resolve())
        skip = output.resolve().relative_to(inputs.resolve()).parts if inside else ()
        if inside and not skip:
            raise BrushworkError(f"-o {output}: is the input folder; choose another folder for the outputs")
        found = _images(inputs, skip)
        return [(image, image.relative_to(inputs).as_posix(), None) for image in found]
    if not inputs.is_file():
        raise BrushworkError(f"{inputs}: no such file or folder")
    if inputs.suffix.lower() in INPUT_SUFFIXES:
        return [(inputs, inputs.name, None)]
    entries = _read_manifest(inputs)
    # The deepest folder that holds them all: a manifest of a folder's images gives a folder run's paths.
    root = Path(os.path.commonpath([os.path.abspath(image.parent) for image, _ in entries]))
    found = [(image, Path(os.path.abspath(image)).relative_to(root).as_posix(), style) for image, style in entries]
    return sorted(found, key=lambda entry: entry[1])


def style_pool(source: PathLike | Sequence[PathLike], networks: bool) -> list[Path]:
    """The styles to draw from: a file, a folder (its images, or with ``networks`` its .safetensors and
    .onnx files, recursively, sorted) or a list of files. Errors name the option."""
    paths = [Path(source)] if isinstance(source, (str, os.PathLike)) else [Path(s) for s in source]
    one_file = len(paths) == 1 and not paths[0].is_dir()
    option = ("--model" if networks else "--style") if one_file else ("--models" if networks else "--styles")
    pool: list[Path] = []
    for path in paths:
        if path.is_dir():
            pool += sorted(p for p in path.rglob("*") if p.is_file() and not p.name.startswith(".") and
                           (p.suffix.lower() in MODEL_SUFFIXES if networks else p.suffix.lower() in INPUT_SUFFIXES))
        elif path.is_file():
            if networks and path.suffix.lower() not in MODEL_SUFFIXES:
                raise BrushworkError(f"{option} {path}: not a network file (.safetensors or .onnx)")
            pool.append(path)
        else:
            raise BrushworkError(f"{option} {path}: no such file or folder")
    if not pool:
        kind = ".safetensors or .onnx networks" if networks else "images"
        raise BrushworkError(f"{option} {', '.join(map(str, paths))}: holds no {kind}")
    return pool


def draw(pool: Sequence[Path], seed: int, relative: str) -> Path:
    """The style of the image at ``relative``: drawn from ``pool`` by a hash of the seed and the path,
    so that it depends on nothing else (not the order, the worker or the run)."""
    digest = hashlib.sha256(f"{seed}\0{relative}".encode()).digest()
    return pool[int.from_bytes(digest[:8], "big") % len(pool)]


def make_plan(inputs: PathLike, output: PathLike, pool: Sequence[Path], seed: int) -> list[Task]:
    """Every image's task, sorted by relative path; a manifest row's own style wins over ``pool``."""
    output = Path(output)
    tasks = []
    for image, relative, style in discover(inputs, output):
        if style is None and not pool:
            raise BrushworkError(f"{image}: its manifest row names no style; give --style, --styles, --model or "
                                 "--models")
        tasks.append(Task(image, output / output_name(Path(relative)), style or draw(pool, seed, relative), relative))
    if not tasks:
        raise BrushworkError(f"{inputs}: holds no images")
    check_unique_outputs((task.input, task.output) for task in tasks)
    return tasks
