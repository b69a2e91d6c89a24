"""Where a command may write, decided before any work: never onto one of its inputs, never over an
existing file unless asked to, never into a folder that cannot be written.

The policy of every command that writes (like ``cp -i`` or ``ffmpeg -n``): an output file that
exists already is not replaced unless ``overwrite`` is given; a single output stops the run with a
one-line error before any work, while a folder of outputs skips the files that exist (the caller's
note says so). A path that is the same file as an input (through links, ``..`` or hard links) is
refused even with ``overwrite``. Errors are SettingErrors whose field is the ``option`` given: a
setting's name (``output``), which a command line shows as its flag, or the flag itself.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from pathlib import Path

from brushwork.errors import SettingError
from brushwork.image import PathLike, probe_folder
from brushwork.nets.weights import SOURCES

#: The help of every ``--overwrite`` option, and the README's statement of the policy.
OVERWRITE_HELP = ("replace output files that exist already (default: stop before any work, or in an output "
                  "folder skip them); an input is never overwritten")

#: An input of a command: (what it is to the user, e.g. "content" or "--style-masks", its path).
Input = tuple[str, PathLike]


def _identities(path: PathLike) -> set[object]:
    """What makes ``path`` one file: its device and inode where it exists (so links, ``..`` and hard
    links agree), and its absolute path with links and ``..`` resolved as far as they exist."""
    found: set[object] = set()
    try:
        stat = os.stat(path)
        found.add((stat.st_dev, stat.st_ino))
    except (OSError, ValueError):  # not there (yet), or an odd name
        pass
    try:
        found.add(Path(path).expanduser().resolve())
    except (OSError, RuntimeError):  # a loop of links
        pass
    return found


def same_file(a: PathLike, b: PathLike) -> bool:
    """True when ``a`` and ``b`` name one file: through symbolic links, ``..`` or hard links."""
    return bool(_identities(a) & _identities(b))


def check_not_input(path: PathLike, option: str, inputs: Iterable[Input]) -> None:
    """Raise a one-line error if ``path`` (given as ``option``) is the same file as one of ``inputs``."""
    check_not_inputs([path], option, inputs)


def check_not_inputs(paths: Iterable[PathLike], option: str, inputs: Iterable[Input]) -> None:
    """:func:`check_not_input` for many paths (a folder of outputs), in time linear in their number."""
    owners: dict[object, Input] = {}
    for role, source in inputs:
        for identity in _identities(source):
            owners.setdefault(identity, (role, source))
    for path in paths:
        hit = next((owners[i] for i in _identities(path) if i in owners), None)
        if hit is not None:
            role, source = hit
            alias = "" if Path(path) == Path(source) else f" ({source})"
            raise SettingError(option, f"{option} {path}: is the {role}{alias}; writing there would destroy it, "
                                 "choose another output")


def check_writable_folder(folder: PathLike, option: str, named: PathLike | None = None) -> None:
    """Fail early unless files can be created in ``folder``, or, where it does not exist yet, in the
    nearest folder above it that does (where it will be created); nothing is left behind. Errors name
    ``option`` and ``named`` (default: ``folder``)."""
    folder = Path(folder)
    named = folder if named is None else named
    existing = folder
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise SettingError(option, f"{option} {named}: {existing} is a file, not a folder")
    probe_folder(existing, f"{option} {named}")


def check_output_file(path: PathLike, option: str, inputs: Iterable[Input], overwrite: bool,
                      suffixes: Sequence[str] = ()) -> Path:
    """Fail early unless ``path`` (given as ``option``) may be written: not a folder, one of
    ``suffixes`` (any where empty), not an input, not an existing file unless ``overwrite``, in an
    existing writable folder. Returns it as a Path."""
    path = Path(path)
    if path.is_dir():
        raise SettingError(option, f"{option} {path}: is a folder; give the name of a file to write in it")
    if suffixes and path.suffix.lower() not in suffixes:
        shown = f"'{path.suffix}'" if path.suffix else "(none)"
        choices = " or ".join([", ".join(suffixes[:-1]), suffixes[-1]] if len(suffixes) > 1 else suffixes)
        raise SettingError(option, f"{option} {path}: unsupported output format {shown} (use {choices})")
    check_not_input(path, option, inputs)
    if (path.exists() or path.is_symlink()) and not overwrite:
        raise SettingError(option, f"{option} {path}: exists already; pass --overwrite to replace it")
    if not path.parent.is_dir():
        raise SettingError(option, f"{option} {path}: folder {path.parent} does not exist")
    check_writable_folder(path.parent, option, path)
    return path


def check_series(folder: Path, names: Iterable[str], option: str, inputs: Sequence[Input], overwrite: bool) -> None:
    """Fail early unless the files ``names`` (numbered snapshots, previews) may be written in ``folder``:
    a writable folder, none of them an input, none existing unless ``overwrite``. Cheap for many names."""
    check_writable_folder(folder, option)
    existing = set(os.listdir(folder)) if folder.is_dir() else set()
    for name in names:
        if name in existing:
            check_not_input(folder / name, option, inputs)
            if not overwrite:
                raise SettingError(option, f"{option}: {folder / name} exists already; pass --overwrite to replace it")


def weights_input(weights: str) -> list[Input]:
    """The ``--weights`` setting as an input when it names a file rather than a known source."""
    return [] if weights in SOURCES else [("--weights file", weights)]


def check_distinct(outputs: Iterable[tuple[str, PathLike]]) -> None:
    """Raise a one-line error if two outputs of one run, (option, path), are one file."""
    seen: list[tuple[str, PathLike]] = []
    for option, path in outputs:
        for other_option, other in seen:
            if same_file(path, other):
                raise SettingError(option, f"{option} {path}: is also the {other_option} output")
        seen.append((option, path))
