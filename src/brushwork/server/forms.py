"""A job's settings as multipart form fields: the fields of the same settings dataclass as the
command line (same names, same defaults, same checks), their OpenAPI schema generated from it, and
the form's text parsed back into it.

A form field holds text: numbers are written as numbers, lists comma-separated (``content_layers=
relu3_1,relu4_2``) and an optional value left empty for its default. A bad value raises the
dataclass's own SettingError, which names the field.
"""

from __future__ import annotations

import functools
import importlib
import types
import typing
from dataclasses import MISSING, Field, fields
from typing import Any, Literal

from brushwork.audio.config import AudioConfig
from brushwork.config import INIT_KEYWORDS, QUALITY_PRESETS, Settings, StyleConfig, _kind
from brushwork.errors import SettingError
from brushwork.feedforward.config import ApplyConfig
from brushwork.image import one_line
from brushwork.nets.vgg import layer_names
from brushwork.nets.weights import SOURCES

#: The settings class of each kind of job, and the fields that the server decides rather than the
#: client: files on the server's disk, its device, its limits. (The mask fields of stylize are
#: uploaded files of the same names instead.)
KINDS: dict[str, tuple[type[Settings], frozenset[str]]] = {
    "stylize": (StyleConfig, frozenset({"style_masks", "content_mask", "weights", "preprocessing", "device",
                                        "max_pixels"})),
    "apply": (ApplyConfig, frozenset({"overwrite", "device", "batch_size", "max_pixels"})),
    "audio": (AudioConfig, frozenset({"device", "duration"})),  # duration: a texture's, not a transfer's
}
#: The packages that a kind of job needs beyond the [server] extra, and the extra that has them.
#: (scipy, not scipy.signal, which takes seconds to import: this is asked on a request.)
NEEDS: dict[str, tuple[tuple[str, ...], str]] = {"audio": (("soundfile", "scipy"), "audio")}
#: Form fields that are not settings: what the job reads, and what it is.
INPUT_FIELDS = ("content", "style", "style_masks", "content_mask", "style_example")
OTHER_FIELDS = ("kind", "model", "quality")


@functools.cache
def missing(kind: str) -> str | None:
    """Why this installation cannot run ``kind`` jobs (a package of an extra does not import), or None."""
    packages, extra = NEEDS.get(kind, ((), ""))
    for package in packages:
        try:
            importlib.import_module(package)
        except (ImportError, OSError) as error:  # OSError: soundfile without its libsndfile
            return (f"kind {kind}: this server lacks the [{extra}] extra ({package}: {one_line(error)}); "
                    f"pip install 'brushwork[{extra}]'")
    return None


def available_kinds() -> list[str]:
    """The kinds of job that this installation can run."""
    return [kind for kind in KINDS if missing(kind) is None]


def settable(kind: str) -> list[Field[Any]]:
    """The fields of ``kind``'s settings class that a client may set, in their class's order."""
    cls, server_side = KINDS[kind]
    return [f for f in fields(cls) if f.name not in server_side]  # type: ignore[arg-type]


def _bare(hint: Any) -> tuple[Any, bool]:
    """(the type inside ``X | None``, whether it was optional)."""
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        return next(a for a in typing.get_args(hint) if a is not type(None)), True
    return hint, False


_JSON_TYPES = {int: "integer", float: "number", str: "string", bool: "boolean"}


def _field_schema(f: Field[Any], hint: Any) -> dict[str, Any]:
    """The OpenAPI schema of one settings field as a form field (always sent as text)."""
    bare, optional = _bare(hint)
    schema: dict[str, Any] = {"description": f.metadata["help"]}
    if typing.get_origin(bare) is Literal:
        schema.update(type="string", enum=list(typing.get_args(bare)))
    elif typing.get_origin(bare) is tuple:
        schema.update(type="string", description=f"{f.metadata['help']} ({_kind(bare)}, comma-separated)")
    else:
        schema["type"] = _JSON_TYPES[bare]
    if f.name == "init" and "enum" not in schema:  # stylize's: a start image by name, never a path
        schema["enum"] = list(INIT_KEYWORDS)
    default = f.default if f.default is not MISSING else None
    if default is not None:
        schema["default"] = ",".join(map(str, default)) if isinstance(default, tuple) else default
    elif optional:
        schema["description"] += " (leave out for the default)"
    return schema


def kind_schema(kind: str) -> dict[str, Any]:
    """The schemas of the settings that a ``kind`` job takes as form fields, by name, with its own defaults."""
    hints = typing.get_type_hints(KINDS[kind][0])
    return {f.name: _field_schema(f, hints[f.name]) for f in settable(kind)}


def request_schema(models: list[str], examples: list[str]) -> dict[str, Any]:
    """The OpenAPI schema of ``POST /v1/jobs``'s multipart body: the files, the kind of job (apply
    takes one of ``models``), and every settable field of every kind's settings class (a field of
    several kinds appears once, with the first kind's default; GET /v1/models has each kind's);
    a stylize job may name bundled ``examples`` instead of style files."""
    binary = {"type": "string", "format": "binary"}
    properties: dict[str, Any] = {
        "content": {**binary, "description": "the photo to repaint (PNG, JPEG, WebP, TIFF, BMP or GIF); for "
                    "audio the sound whose melody or words to keep (WAV, FLAC, OGG, MP3)"},
        "style": {"type": "array", "items": binary, "description": "stylize: one or more paintings; audio: "
                  "exactly one sound whose texture to take"},
        "style_masks": {"type": "array", "items": binary,
                        "description": "stylize: one mask per style, white where that style applies"},
        "style_example": {"type": "array", "items": {"type": "string", "enum": examples},
                          "description": "stylize: a bundled example style (GET /v1/models), after the style files"},
        "content_mask": {**binary, "description": "stylize: white where the content matters"},
        "kind": {"type": "string", "enum": list(KINDS), "default": "stylize"},
        "model": {"type": "string", "description": "apply: a model of GET /v1/models",
                  **({"enum": models} if models else {})},
        "quality": {"type": "string", "enum": list(QUALITY_PRESETS), "default": "normal",
                    "description": "stylize: preset under the settings given"},
    }
    for kind in KINDS:
        for name, schema in kind_schema(kind).items():
            properties.setdefault(name, schema)
    return {"type": "object", "required": ["content"], "properties": properties}


def _parse(name: str, hint: Any, text: str) -> Any:
    """The value of the form text ``text`` for a field of type ``hint``; SettingError if it is none."""
    bare, optional = _bare(hint)
    if text.strip() == "" and optional:
        return None
    if typing.get_origin(bare) is tuple:
        return tuple(_parse(name, typing.get_args(bare)[0], part.strip()) for part in text.split(",") if part.strip())
    try:
        if bare is bool:
            return {"true": True, "false": False, "1": True, "0": False}[text.strip().lower()]
        return bare(text) if bare in (int, float) else text
    except (KeyError, ValueError):
        raise SettingError.of(name, text, f"must be {_kind(bare)}") from None


def settings_from_form(kind: str, form: dict[str, str]) -> Settings:
    """The settings of a ``kind`` job from the text fields ``form`` (names as in the dataclass;
    ``quality`` picks the stylize preset under them). Raises SettingError naming the field."""
    cls, _ = KINDS[kind]
    allowed = {f.name: f for f in settable(kind)}
    hints = typing.get_type_hints(cls)
    values: dict[str, Any] = {}
    for name, text in form.items():
        if name in OTHER_FIELDS:
            continue
        if name not in allowed:
            cls_fields = {f.name for f in fields(cls)}  # type: ignore[arg-type]
            problem = "is decided by the server" if name in cls_fields else f"not a setting of {kind} jobs"
            raise SettingError.of(name, "", problem)
        values[name] = _parse(name, hints[name], text)
    if cls is StyleConfig:
        # The start images that a stylize job may name (any other ``init`` would be a path on the server).
        if "init" in values and values["init"] not in INIT_KEYWORDS:
            raise SettingError.of("init", values["init"], f"must be one of {', '.join(INIT_KEYWORDS)}")
        return StyleConfig.for_quality(form.get("quality") or "normal", **values)
    return cls(**values)


def check_layers(settings: StyleConfig, weights: str) -> None:
    """Refuse layer names that the server's backbone ``weights`` lacks, before the job is queued (for
    a weights file, whose architecture shows only when loaded, the names of VGG-19, the larger)."""
    arch = SOURCES[weights].arch if weights in SOURCES else "vgg19"
    known = layer_names(arch)
    for name in ("content_layers", "style_layers"):
        for layer in getattr(settings, name):
            if layer not in known:
                raise SettingError(name, f"{name}: unknown layer '{layer}' for {arch} (known: "
                                   f"{', '.join(n for n in known if n.startswith('relu'))}, and conv/pool names)")
