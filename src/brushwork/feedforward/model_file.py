"""Style network files: the weights in safetensors, with what made them in the header's metadata.

The header holds string pairs: ``format`` (:data:`FORMAT`), ``format_version``, and ``metadata``, a
JSON object with the style image's name and a small PNG thumbnail (base64), the network's shape
(``width``, ``residual_blocks``, ``style_count``, ``normalisation``, ``residual``, ``encoder`` and, for a
"backbone" encoder, ``encoder_preprocessing``, ``encoder_pooling`` and ``encoder_widths``), every training
setting (backbone, layers, weights), ``steps`` trained and the ``brushwork`` version. Loading checks each of
these and says what is wrong.

A network of several styles (``style_count`` N > 1) is format version 2: its metadata lists the
style images' names in ``styles`` and their thumbnails in ``style_thumbnails``, and ``style`` names
them all in one string. Version 1 files (one style, no ``style_count``) load as they always did. A
network whose encoder is the backbone's first layers is version 3, whatever its styles, so that a
brushwork that predates such encoders says to upgrade rather than that the weights do not fit.
"""

from __future__ import annotations

import base64
import io
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path
from typing import Any

import torch
from PIL import Image
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file, save

from brushwork.errors import BrushworkError, SettingError
from brushwork.feedforward.network import (ENCODERS, NORMALISATIONS, RESIDUALS, BackboneEncoder, TransformerNet,
                                           base_blur_problem, style_vector)
from brushwork.image import to_pil, write_atomically
from brushwork.nets.vgg import PREPROCESSORS

FORMAT = "brushwork-style-network"
FORMAT_VERSION = "1"
#: The version of files of several styles, which an older brushwork refuses with "upgrade brushwork".
MULTI_STYLE_VERSION = "2"
#: The version of files whose network's encoder is the backbone's first layers (any number of styles).
BACKBONE_ENCODER_VERSION = "3"
#: The version of files whose network adds its change to a softened base (``base_blur`` above 1): an older
#: brushwork would run them with the photo's detail, so it must refuse them.
SOFT_BASE_VERSION = "4"
VERSIONS = (FORMAT_VERSION, MULTI_STYLE_VERSION, BACKBONE_ENCODER_VERSION, SOFT_BASE_VERSION)
THUMBNAIL_SIDE = 128


@dataclass
class StyleNetwork:
    """A trained TransformerNet (in eval mode) and the metadata of its file."""

    net: TransformerNet
    metadata: dict[str, Any]

    @property
    def style_name(self) -> str:
        return str(self.metadata.get("style", "?"))

    @property
    def style_names(self) -> list[str]:
        """The name of each style the network holds, in the order of its style weights."""
        return style_names(self.metadata)

    def thumbnail(self, index: int = 0) -> Image.Image:
        """Style ``index`` as it was trained on, at most 128 px on the long side."""
        encoded = self.metadata.get("style_thumbnails", [self.metadata.get("style_thumbnail")])[index]
        return Image.open(io.BytesIO(base64.b64decode(encoded)))


def style_names(metadata: Mapping[str, Any]) -> list[str]:
    """The style names of a model's metadata: ``styles``, or the one ``style`` of a version 1 file."""
    return [str(name) for name in metadata.get("styles", [metadata.get("style", "?")])]


def style_blend(weights: tuple[float, ...] | None, metadata: dict[str, Any]) -> torch.Tensor:
    """The blend [N] of the N styles of a model with ``metadata``, summing to one (see ``style_vector``);
    a one-line error naming ``style_weights`` unless there is one weight per style."""
    names = style_names(metadata)
    if weights is not None and len(weights) != len(names):
        raise SettingError.of("style_weights", ",".join(map(str, weights)),
                              f"needs one weight per style of the model ({len(names)}: {', '.join(names)})")
    return style_vector(weights, len(names))


def thumbnail_png(style: torch.Tensor) -> str:
    """A style image [1,3,H,W] in [0,1] as a base64 PNG at most :data:`THUMBNAIL_SIDE` px long."""
    image = to_pil(style.cpu())
    image.thumbnail((THUMBNAIL_SIDE, THUMBNAIL_SIDE))
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def training_metadata(names: Sequence[str], styles: Sequence[torch.Tensor], backbone: str,
                      settings: Mapping[str, Any]) -> dict[str, Any]:
    """The header of a network trained on the style images ``styles`` (each [1,3,H,W] in [0,1]) named ``names``
    with loss ``backbone`` and training ``settings``: ``style`` (the names joined), the thumbnail (one style) or
    ``styles`` and ``style_thumbnails`` (several), ``backbone`` and ``settings``."""
    thumbnails = [thumbnail_png(s) for s in styles]
    return {"style": ", ".join(names), "backbone": backbone, "settings": dict(settings),
            **({"style_thumbnail": thumbnails[0]} if len(styles) == 1 else
               {"styles": list(names), "style_thumbnails": thumbnails})}


def _encoder_metadata(net: TransformerNet) -> dict[str, str]:
    """The header's ``encoder``, and for a "backbone" encoder its ``encoder_preprocessing``, ``encoder_pooling`` and
    ``encoder_widths``."""
    encoder = net.layers[0]
    if not isinstance(encoder, BackboneEncoder):
        return {"encoder": "own"}
    return {"encoder": "backbone", "encoder_preprocessing": encoder.preprocessing,
            "encoder_pooling": encoder.pooling, "encoder_widths": list(encoder.widths)}


def save_style_network(net: TransformerNet, path: Path, metadata: Mapping[str, Any]) -> None:
    """Write ``net``'s weights and ``metadata`` (JSON-able; ``width``, ``residual_blocks`` and
    ``style_count`` are added) to ``path`` through a temporary file and a rename."""
    meta = {**metadata, "width": net.width, "residual_blocks": net.blocks, "style_count": net.styles,
            "normalisation": net.normalisation, "residual": net.residual, "base_blur": net.base_blur,
            **_encoder_metadata(net),
            "brushwork": metadata.get("brushwork", version("brushwork"))}
    file_version = (SOFT_BASE_VERSION if net.base_blur != 1 else
                    BACKBONE_ENCODER_VERSION if net.encoder == "backbone" else
                    FORMAT_VERSION if net.styles == 1 else MULTI_STYLE_VERSION)
    header = {"format": FORMAT, "format_version": file_version,
              "metadata": json.dumps(meta)}
    state = {k: v.detach().float().cpu().contiguous() for k, v in net.state_dict().items()}
    # The bytes written by Python, not safetensors' save_file, which created the file readable by its owner alone.
    data = save(state, metadata=header)
    write_atomically(Path(path), lambda tmp: tmp.write_bytes(data))


def _backbone_encoder_metadata(meta: Mapping[str, Any]) -> bool:
    """Whether ``meta`` describes a backbone encoder that :class:`BackboneEncoder` can be built from."""
    widths = meta.get("encoder_widths")
    return (meta.get("encoder_preprocessing") in PREPROCESSORS and meta.get("encoder_pooling") in ("avg", "max")
            and isinstance(widths, list) and len(widths) == 3 and all(isinstance(w, int) and w > 0 for w in widths))


def read_header(path: Path) -> dict[str, Any]:
    """The metadata object of a style network file, after checking its format."""
    path = Path(path)
    if not path.is_file():
        raise BrushworkError(f"{path}: model file not found")
    try:
        with safe_open(path, framework="pt") as f:
            header = f.metadata() or {}
    except (SafetensorError, OSError, ValueError) as exc:
        raise BrushworkError(f"{path}: not a safetensors file ({' '.join(str(exc).split())[:120]})") from None
    if header.get("format") != FORMAT:
        raise BrushworkError(f"{path}: not a brushwork style network (a safetensors file without "
                             f"format '{FORMAT}' in its header)")
    if header.get("format_version") not in VERSIONS:
        raise BrushworkError(f"{path}: style network format version {header.get('format_version')} is not "
                             f"supported (this brushwork reads versions {', '.join(VERSIONS)}; upgrade brushwork)")
    try:
        meta = json.loads(header["metadata"])
        int(meta["width"]), int(meta["residual_blocks"])
        count, names = int(meta.get("style_count", 1)), style_names(meta)
    except (KeyError, TypeError, ValueError):
        raise BrushworkError(f"{path}: damaged metadata (no network width and residual_blocks)") from None
    if meta.get("normalisation", "instance") not in NORMALISATIONS:
        raise BrushworkError(f"{path}: damaged metadata (normalisation {meta['normalisation']!r} is not one of "
                             f"{', '.join(NORMALISATIONS)})")
    if meta.get("residual", "none") not in RESIDUALS:
        raise BrushworkError(f"{path}: damaged metadata (residual {meta['residual']!r} is not one of "
                             f"{', '.join(RESIDUALS)})")
    if (problem := base_blur_problem(meta.get("base_blur", 1), meta.get("residual", "none"))) is not None:
        raise BrushworkError(f"{path}: damaged metadata (base_blur {meta['base_blur']!r}: {problem})")
    if meta.get("encoder", "own") not in ENCODERS:
        raise BrushworkError(f"{path}: damaged metadata (encoder {meta['encoder']!r} is not one of "
                             f"{', '.join(ENCODERS)})")
    if meta.get("encoder") == "backbone" and not _backbone_encoder_metadata(meta):
        raise BrushworkError(f"{path}: damaged metadata (a backbone encoder needs encoder_preprocessing caffe or "
                             "imagenet, encoder_pooling avg or max and three positive encoder_widths)")
    if count < 1 or len(names) != count:
        raise BrushworkError(f"{path}: damaged metadata (style_count {count} but {len(names)} style names)")
    return meta


def load_style_network(path: Path | str, device: torch.device | str = "cpu") -> StyleNetwork:
    """Read a style network file written by :func:`save_style_network`, strictly (every tensor must fit)."""
    path = Path(path)
    meta = read_header(path)
    # Files written before the normalisation, the residual and the encoder were choices say nothing of them:
    # theirs are "instance", "none" and "own".
    encoder = (BackboneEncoder(meta["encoder_preprocessing"], meta["encoder_pooling"], tuple(meta["encoder_widths"]))
               if meta.get("encoder") == "backbone" else None)
    net = TransformerNet(int(meta["width"]), int(meta["residual_blocks"]), int(meta.get("style_count", 1)),
                         str(meta.get("normalisation", "instance")), str(meta.get("residual", "none")), encoder,
                         int(meta.get("base_blur", 1)))
    try:
        net.load_state_dict(load_file(path), strict=True)
    except (RuntimeError, SafetensorError) as exc:  # torch's message spans lines: the first two say it
        lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
        raise BrushworkError(f"{path}: weights do not fit the network its header describes "
                             f"({' '.join(lines[1:2] or lines[:1])[:160]})") from None
    return StyleNetwork(net.eval().requires_grad_(False).to(device), meta)

