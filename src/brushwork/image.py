"""Reading, resizing and writing images.

Inside brushwork an image is a float32 tensor ``[1, 3, H, W]`` with values in ``[0, 1]``
(sRGB, alpha already composited over white) plus an optional alpha tensor ``[1, 1, H, W]``.
Every problem with the user's files is raised as a one-line :class:`BrushworkError`.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import secrets
import tempfile
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, ImageCms, ImageOps, UnidentifiedImageError
from PIL.PngImagePlugin import PngInfo

from brushwork.errors import BrushworkError

PathLike = str | os.PathLike
ImageSource = PathLike | Image.Image | np.ndarray | torch.Tensor

OUTPUT_FORMATS: dict[str, str] = {
    ".png": "PNG",
    ".jpg": "JPEG",
    ".jpeg": "JPEG",
    ".webp": "WEBP",
    ".tif": "TIFF",
    ".tiff": "TIFF",
}

# PIL modes whose pixels np.asarray() gives with a dtype that says their range; the rest
# (palette, CMYK, YCbCr, LAB, HSV, ...) are converted to RGB first.
_DIRECT_MODES = frozenset({"L", "RGB", "I", "F", "I;16", "I;16L", "I;16B", "I;16N"})
# (dtype kind, item size) -> value that maps to 1.0
_INT_SCALES = {("b", 1): 1, ("u", 1): 255, ("u", 2): 65535}
_EXIF_DESCRIPTION = 0x010E
_EXIF_SOFTWARE = 0x0131
_SOFTWARE = "brushwork"


def one_line(error: BaseException) -> str:
    """The gist of an exception on one line (OSError's strerror leaves out the file name)."""
    text = (error.strerror if isinstance(error, OSError) else None) or str(error) or type(error).__name__
    return " ".join(text.split())


@contextlib.contextmanager
def _bomb_guard(name: str) -> Iterator[None]:
    """Let our own --max-pixels check replace PIL's decompression-bomb warning, and turn
    PIL's hard limit (twice ``Image.MAX_IMAGE_PIXELS``, left as it is) into our error."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        try:
            yield
        except Image.DecompressionBombError as e:
            raise BrushworkError(f"{name}: {one_line(e)}") from e


def _open(path: PathLike) -> Image.Image:
    """Open (not decode) an image file, with one-line errors naming ``path``."""
    try:
        return Image.open(path)
    except FileNotFoundError:
        raise BrushworkError(f"{path}: file not found") from None
    except IsADirectoryError:
        raise BrushworkError(f"{path}: is a directory, not an image file") from None
    except PermissionError:
        raise BrushworkError(f"{path}: not readable (permission denied)") from None
    except UnidentifiedImageError:
        raise BrushworkError(f"{path}: not an image (cannot identify image file)") from None
    except OSError as e:  # e.g. an I/O error or a name too long
        raise BrushworkError(f"{path}: cannot open ({one_line(e)})") from e


def _check_size(width: int, height: int, max_pixels: int, name: str) -> None:
    if width * height == 0:
        raise BrushworkError(f"{name}: image is empty ({width}x{height} pixels)")
    if width * height > max_pixels:
        raise BrushworkError(
            f"{name}: {width}x{height} = {width * height} pixels is over the limit of "
            f"{max_pixels} (the max_pixels setting)"
        )


def _split(x: torch.Tensor, name: str, max_pixels: int) -> tuple[torch.Tensor, torch.Tensor | None]:
    """``[C, H, W]`` float (C = 1 grey, 2 grey+alpha, 3 RGB, 4 RGBA) -> (rgb, alpha) as returned
    by :func:`load_image`."""
    channels, height, width = x.shape
    if channels not in (1, 2, 3, 4):
        raise BrushworkError(f"{name}: expected 1 to 4 channels (grey, grey+alpha, RGB, RGBA), got {channels}")
    _check_size(width, height, max_pixels, name)
    if not bool(torch.isfinite(x).all()):
        raise BrushworkError(f"{name}: contains NaN or infinite values")
    x = x.clamp(0, 1)  # files: 32-bit and float TIFFs may overshoot a little (arrays are refused instead)
    colour, alpha = (x[:-1], x[-1:]) if channels in (2, 4) else (x, None)
    colour = colour.expand(3, -1, -1)  # grey -> three equal channels; no-op for RGB
    if alpha is not None and bool((alpha == 1).all()):
        alpha = None  # fully opaque: callers need not carry an alpha channel around
    if alpha is not None:
        colour = colour * alpha + (1 - alpha)  # composite over white
    return colour.unsqueeze(0).contiguous(), None if alpha is None else alpha.unsqueeze(0).contiguous()


def _check_range(x: torch.Tensor, name: str) -> torch.Tensor:
    """``x`` itself, unless its finite values leave [0, 1]: float pixels given in memory are most often
    0-255 by mistake, which clamping would turn white without a word."""
    finite = x[torch.isfinite(x)]
    if finite.numel() and (float(finite.min()) < 0 or float(finite.max()) > 1):
        raise BrushworkError(f"{name}: float values must be in [0, 1], found {float(finite.min()):.4g} to "
                             f"{float(finite.max()):.4g} (divide 0-255 values by 255, or pass uint8)")
    return x


def _array_to_chw(arr: np.ndarray, name: str) -> torch.Tensor:
    """HxW or HxWxC array (uint8 0-255, uint16 0-65535, bool, or float 0-1) -> float32 ``[C, H, W]``."""
    if arr.ndim == 2:
        arr = arr[:, :, None]
    if arr.ndim != 3:
        raise BrushworkError(f"{name}: expected an HxW or HxWxC array, got shape {arr.shape}")
    scale = 1 if arr.dtype.kind == "f" else _INT_SCALES.get((arr.dtype.kind, arr.dtype.itemsize))
    if scale is None:
        raise BrushworkError(f"{name}: unsupported array dtype {arr.dtype} (use uint8, uint16 or float)")
    # astype also gives native byte order (I;16B pixels arrive big-endian), which torch needs
    return torch.from_numpy(arr.astype(np.float32) / scale).permute(2, 0, 1)


def _pil_to_chw(im: Image.Image, name: str, max_pixels: int) -> torch.Tensor:
    """Decode a PIL image (checking its size first) to float32 ``[C, H, W]``, C as in :func:`_split`."""
    _check_size(*im.size, max_pixels, name)
    try:
        im.load()
    except (OSError, SyntaxError, ValueError, EOFError) as e:
        raise BrushworkError(f"{name}: truncated or corrupt image ({one_line(e)})") from e
    icc = im.info.get("icc_profile")
    im = ImageOps.exif_transpose(im)  # a copy, so the caller's image is never modified
    # Palette/bilevel images, and tRNS-style transparency, become plain (RGB|RGBA) pixels.
    if im.mode in ("1", "P", "PA") or (im.mode in ("L", "RGB") and "transparency" in im.info):
        im = im.convert("RGBA" if im.has_transparency_data else "RGB")
    alpha = None
    if im.mode in ("LA", "RGBA"):
        alpha = np.asarray(im.getchannel("A"))
        im = im.convert(im.mode[:-1])  # drop alpha so the colour profile sees plain L/RGB
    if icc and im.mode in ("L", "RGB", "CMYK"):
        try:
            im = ImageCms.profileToProfile(
                im, ImageCms.ImageCmsProfile(io.BytesIO(icc)), ImageCms.createProfile("sRGB"), outputMode="RGB"
            )
        except (ImageCms.PyCMSError, OSError, ValueError, TypeError):
            pass  # broken or mismatched profile: the pixels as stored are the best guess
    if im.mode not in _DIRECT_MODES:
        im = im.convert("RGB")
    arr = np.asarray(im)
    if im.mode == "I":  # 32-bit integer images hold 16-bit data in practice
        arr = arr.astype(np.float32) / 65535
    x = _array_to_chw(arr, name)
    return x if alpha is None else torch.cat([x, _array_to_chw(alpha, name)])


def load_image(
    source: ImageSource, max_pixels: int, *, name: str | None = None
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Load an image as (rgb ``[1, 3, H, W]``, alpha ``[1, 1, H, W]`` or None), float32 in [0, 1].

    ``source`` is a file path, a PIL image, a NumPy array (HxW or HxWxC, C in 1..4; uint8 0-255,
    uint16 0-65535 or float 0-1) or a float tensor ``[C, H, W]`` / ``[1, C, H, W]`` in [0, 1].
    Files get EXIF orientation applied and an embedded ICC profile converted to sRGB. Alpha is
    composited over white into ``rgb``; it is None when absent or fully opaque. An image with
    more than ``max_pixels`` pixels is refused (for files, before decoding). ``name`` is used in
    error messages (default: the path, or "image").
    """
    is_path = isinstance(source, (str, os.PathLike))
    name = name or (os.fspath(source) if is_path else "image")
    with _bomb_guard(name):
        if is_path:
            with _open(source) as im:
                return _split(_pil_to_chw(im, name, max_pixels), name, max_pixels)
        if isinstance(source, Image.Image):
            return _split(_pil_to_chw(source, name, max_pixels), name, max_pixels)
    if isinstance(source, np.ndarray):
        x = _array_to_chw(source, name)
        return _split(_check_range(x, name) if source.dtype.kind == "f" else x, name, max_pixels)
    if isinstance(source, torch.Tensor):
        x = source.detach().cpu()
        x = x[0] if x.dim() == 4 and x.shape[0] == 1 else x
        if x.dim() != 3 or not x.is_floating_point():
            raise BrushworkError(
                f"{name}: expected a float tensor [C,H,W] or [1,C,H,W], got {x.dtype} {list(source.shape)}"
            )
        return _split(_check_range(x.float(), name), name, max_pixels)
    raise BrushworkError(f"{name}: unsupported image source of type {type(source).__name__}")


def load_mask(source: ImageSource, max_pixels: int, height: int, width: int) -> torch.Tensor:
    """A mask image as [1,1,H,W] in [0,1] (the mean of its colour channels: white = 1).

    Its aspect ratio must match ``height``:``width`` (the content's) to within one pixel of the
    mask's own size, since a mask stretched to another shape would cover the wrong region.
    """
    rgb, _ = load_image(source, max_pixels)
    name = os.fspath(source) if isinstance(source, (str, os.PathLike)) else "mask"
    mask_h, mask_w = rgb.shape[-2:]
    if abs(mask_w * height / width - mask_h) > 1:
        raise BrushworkError(f"{name}: mask is {mask_w}x{mask_h}, its aspect ratio differs from the content's "
                             f"{width}x{height}")
    return rgb.mean(dim=1, keepdim=True)


def resize_long_side(x: torch.Tensor, size: int) -> torch.Tensor:
    """Resize ``[N, C, H, W]`` so that its longer side is ``size`` pixels, keeping the aspect ratio.

    Bicubic with antialiasing (so shrinking does not alias), clamped to [0, 1] because bicubic
    overshoots at edges. Returns ``x`` itself when the long side is already ``size``.
    """
    if max(x.shape[-2:]) == size:
        return x
    return resize(x, *long_side_shape(*x.shape[-2:], size))


def long_side_shape(height: int, width: int, size: int) -> tuple[int, int]:
    """(height, width) scaled so that the longer side is ``size`` px, the aspect ratio kept."""
    long_side = max(height, width)
    scaled = [size if side == long_side else max(1, round(side * size / long_side)) for side in (height, width)]
    return scaled[0], scaled[1]


def resize(x: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """``[N, C, h, w]`` -> ``[N, C, height, width]``: bicubic, antialiased, clamped to [0, 1]."""
    if tuple(x.shape[-2:]) == (height, width):
        return x
    return F.interpolate(x, size=(height, width), mode="bicubic", antialias=True, align_corners=False).clamp(0, 1)


def halve(image: torch.Tensor, times: int) -> torch.Tensor:
    """``image`` [B,C,H,W] in [0,1] with each side halved ``times`` times (rounded down, at least 1 px), by
    :func:`resize`."""
    if times == 0:
        return image
    return resize(image, *(max(1, side >> times) for side in image.shape[-2:]))


def to_pil(rgb: torch.Tensor, alpha: torch.Tensor | None = None) -> Image.Image:
    """``[1, 3, H, W]`` (and optional ``[1, 1, h, w]`` alpha) in [0, 1] -> 8-bit RGB or RGBA image.

    An alpha of a different size (e.g. from the original photo) is resized to match ``rgb``.
    """
    if rgb.dim() != 4 or tuple(rgb.shape[:2]) != (1, 3):
        raise ValueError(f"expected rgb of shape [1, 3, H, W], got {list(rgb.shape)}")
    if alpha is not None:
        alpha = resize(alpha.float(), *rgb.shape[-2:])
        rgb = torch.cat([rgb.float(), alpha.float()], dim=1)
    pixels = (rgb[0].detach().float().clamp(0, 1) * 255).round().to(torch.uint8)
    return Image.fromarray(pixels.permute(1, 2, 0).contiguous().cpu().numpy())


def check_output_path(path: PathLike) -> Path:
    """Fail early, before a long job, if ``path`` cannot be written as an image; returns it as a Path.

    The suffix must be one of :data:`OUTPUT_FORMATS`, and :func:`check_writable` must pass.
    """
    path = Path(path)
    if path.suffix.lower() not in OUTPUT_FORMATS:
        suffix = f"'{path.suffix}'" if path.suffix else "(none)"
        raise BrushworkError(f"{path}: unsupported output format {suffix} (use .png, .jpg, .webp or .tif)")
    return check_writable(path)


def check_writable(path: PathLike) -> Path:
    """Fail early unless a file can be created at ``path`` (of any format); returns it as a Path.

    The directory must exist and be writable, which is proved by creating a file there
    (``os.access`` says yes to root).
    """
    path = Path(path)
    if path.is_dir():
        raise BrushworkError(f"{path}: is a directory")
    parent = path.parent
    if not parent.exists():
        raise BrushworkError(f"{path}: directory {parent} does not exist")
    if not parent.is_dir():
        raise BrushworkError(f"{path}: {parent} is not a directory")
    probe_folder(parent, str(path))
    return path


def probe_folder(folder: Path, named: str) -> None:
    """Create and remove a file in ``folder``: a one-line error starting with ``named`` unless files can
    be written there (``os.access`` says yes to root)."""
    try:
        fd, probe = tempfile.mkstemp(dir=folder, prefix=".brushwork-probe-")
        os.close(fd)
        os.remove(probe)
    except OSError as e:
        raise BrushworkError(f"{named}: folder {folder} is not writable ({one_line(e)})") from e


#: Random bytes in the name of write_atomically's temporary file (written as twice as many hex digits).
_TOKEN_BYTES = 4


def _temporary(path: Path, token: str) -> Path:
    """The hidden temporary file next to ``path`` that :func:`write_atomically` writes first."""
    return path.with_name(f".{path.stem}.{token}.tmp{path.suffix}")


def write_atomically(path: Path, write: Callable[[Path], None]) -> None:
    """Call ``write`` on a hidden temporary file next to ``path``, then rename it onto ``path``,
    so that a crash or error never leaves a half-written image under the real name."""
    # A random name rather than mkstemp: PIL creates the file, so it gets the usual permissions
    # (mkstemp's would be 0600).
    tmp = _temporary(path, secrets.token_hex(_TOKEN_BYTES))
    try:
        write(tmp)
        os.replace(tmp, path)
    except Exception as e:
        raise BrushworkError(f"{path}: cannot write ({one_line(e)})") from e
    finally:
        tmp.unlink(missing_ok=True)


def remove_temporaries(path: Path) -> None:
    """Remove the temporary files that a :func:`write_atomically` of ``path`` left when its process was
    killed mid-write (kill -9 runs no ``finally``); only names of exactly its pattern, next to ``path``."""
    head, tail = (re.escape(part) for part in _temporary(path, "\0").name.split("\0"))  # no name holds NUL
    pattern = re.compile(f"{head}[0-9a-f]{{{2 * _TOKEN_BYTES}}}{tail}")
    for stale in path.parent.iterdir() if path.parent.is_dir() else ():
        if pattern.fullmatch(stale.name):
            stale.unlink(missing_ok=True)


def save_image(image: Image.Image, path: PathLike, metadata: dict[str, str] | None = None) -> None:
    """Write ``image`` in the format given by the suffix of ``path``, with ``metadata`` embedded.

    PNG gets one text chunk per key plus "Software"; JPEG, WebP and TIFF get EXIF
    ImageDescription = JSON of ``metadata`` and Software = "brushwork". JPEG has no alpha, so
    the image is composited over white.
    """
    path = check_output_path(path)
    fmt = OUTPUT_FORMATS[path.suffix.lower()]
    metadata = metadata or {}
    options: dict[str, object] = {}
    if fmt == "PNG":
        info = PngInfo()
        for key, value in {**metadata, "Software": _SOFTWARE}.items():
            info.add_text(key, value)
        options["pnginfo"] = info
    else:
        exif = Image.Exif()
        exif[_EXIF_DESCRIPTION] = json.dumps(metadata)
        exif[_EXIF_SOFTWARE] = _SOFTWARE
        options["exif"] = exif
    if fmt == "JPEG":
        options["quality"] = 95
    elif fmt == "TIFF":
        options["compression"] = "tiff_deflate"

    def write(tmp: Path) -> None:
        out = image
        if fmt == "JPEG":  # no alpha in JPEG: composite over white, as load_image does
            white = Image.new("RGBA", image.size, "white")
            out = Image.alpha_composite(white, image.convert("RGBA")).convert("RGB")
        out.save(tmp, fmt, **options)

    write_atomically(path, write)


def read_metadata(path: PathLike) -> dict[str, str]:
    """The ``metadata`` that :func:`save_image` embedded in ``path``; {} when there is none.

    For PNG that is every text chunk except our "Software"; otherwise the JSON in EXIF
    ImageDescription (a description that is not a JSON object counts as none).
    """
    with _bomb_guard(os.fspath(path)), _open(path) as im:
        if im.format == "PNG":
            return {key: str(value) for key, value in im.text.items() if key != "Software"}
        description = im.getexif().get(_EXIF_DESCRIPTION)
    try:
        data = json.loads(description) if description else {}
    except (TypeError, ValueError):  # e.g. a camera's "OLYMPUS DIGITAL CAMERA"
        return {}
    return {str(key): str(value) for key, value in data.items()} if isinstance(data, dict) else {}


def save_gif(frames: list[Image.Image], path: PathLike, duration_ms: int = 100) -> None:
    """Write ``frames`` as a looping animated GIF, ``duration_ms`` milliseconds per frame."""
    path = Path(path)
    if not frames:
        raise BrushworkError(f"{path}: no frames to write")
    write_atomically(
        path,
        lambda tmp: frames[0].save(
            tmp, "GIF", save_all=True, append_images=frames[1:], duration=duration_ms, loop=0
        ),
    )
