"""Command-line options generated from a settings dataclass, and settings built back from them.

Each field ``style_weight`` becomes ``--style-weight``, typed from its annotation, with the help of
its metadata and the field's default shown once. Options left out stay out of the namespace, so
that a preset or the settings of an earlier output can fill them in; the dataclass keeps the one
default.
"""

from __future__ import annotations

import argparse
import re
import types
import typing
from dataclasses import fields, replace
from pathlib import Path
from typing import Any, NoReturn, TypeVar

S = TypeVar("S")
#: Flags that are not ``--`` plus the field name with dashes.
FLAGS = {"output": "-o"}


class Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line, like every other brushwork error, and that takes
    a negative number list such as ``--style-blend -1,2`` as a value (to be refused by its check), not
    as an unknown option."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._negative_number_matcher = re.compile(r"^-\.?\d[\d.,eE+-]*$")

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def flag(field: str) -> str:
    """The command-line flag of a settings field: ``style_weight`` -> ``--style-weight`` (a flag stays itself)."""
    return field if field.startswith("-") else FLAGS.get(field, "--" + field.replace("_", "-"))


def _split(cast: type) -> Any:
    """An argparse type for comma-separated lists: 'a,b' -> (cast(a), cast(b))."""
    def parse(text: str) -> tuple[Any, ...]:
        return tuple(cast(part.strip()) for part in text.split(",") if part.strip())
    parse.__name__ = f"comma-separated {cast.__name__} list"
    return parse


def _shown(default: Any) -> str:
    if default is None:
        return "none"
    return ",".join(map(str, default)) if isinstance(default, tuple) else str(default)


def add_config_options(parser: argparse.ArgumentParser, config: type, title: str, skip: typing.Iterable[str] = ()
                       ) -> None:
    """One option per field of the ``config`` dataclass but ``skip``; a bool field is a flag. The help
    ends with the default unless the field's help already says it."""
    hints = typing.get_type_hints(config)
    group = parser.add_argument_group(title)
    for f in fields(config):
        if f.name in skip:
            continue
        hint, text = hints[f.name], f.metadata["help"]
        if hint is bool:
            group.add_argument(flag(f.name), dest=f.name, action="store_true", help=text, default=argparse.SUPPRESS)
            continue
        if typing.get_origin(hint) in (typing.Union, types.UnionType):  # X | None: the option takes X; leaving it out keeps None
            hint = next(a for a in typing.get_args(hint) if a is not type(None))
        if typing.get_origin(hint) is tuple:
            kind: Any = _split(typing.get_args(hint)[0])
            metavar: str | None = "A,B,..."
        else:
            kind = str if typing.get_origin(hint) is typing.Literal else hint
            metavar = {int: "N", float: "X", str: "NAME"}.get(kind)
        choices = f.metadata.get("choices")
        if "(default:" not in text:
            text = f"{text} (default: {_shown(f.default)})"
        group.add_argument(flag(f.name), dest=f.name, type=kind, default=argparse.SUPPRESS, choices=choices,
                           metavar=None if choices else metavar, help=text)


def given(args: argparse.Namespace, config: type) -> dict[str, Any]:
    """The fields of ``config`` that were given on the command line."""
    return {f.name: getattr(args, f.name) for f in fields(config) if hasattr(args, f.name)}


def config_from(args: argparse.Namespace, config: type[S], base: S | None = None) -> S:
    """``base`` (default: the defaults) with the options given on the command line on top."""
    return replace(base if base is not None else config(), **given(args, config))


def add_output(parser: argparse.ArgumentParser, what: str, required: bool = True, kind: type = Path) -> None:
    """The ``-o`` and ``-q`` that every command has (``kind`` str keeps a trailing slash, which says "folder")."""
    parser.add_argument("-o", "--output", type=kind, required=required, help=what)
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress bar or notes")
