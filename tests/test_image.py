"""Tests for brushwork.image: every image is generated in tmp_path."""

from __future__ import annotations

import struct
import warnings
import zlib
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image, ImageCms

from brushwork import image as bimage
from brushwork.errors import BrushworkError
from brushwork.image import (
    check_output_path,
    load_image,
    read_metadata,
    resize_long_side,
    save_gif,
    save_image,
    to_pil,
)

BIG = 10**8  # a max_pixels that no test image reaches


def error_of(func, *args, **kwargs) -> str:
    """The BrushworkError message that ``func`` raises, checked to be one line."""
    with pytest.raises(BrushworkError) as info:
        func(*args, **kwargs)
    message = str(info.value)
    assert "\n" not in message
    return message


def png_bytes(width: int, height: int, depth: int, colour_type: int, raw: bytes) -> bytes:
    """A PNG written by hand, for what PIL cannot write (16-bit RGB, lying headers)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, depth, colour_type, 0, 0, 0)
    body = chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")
    return b"\x89PNG\r\n\x1a\n" + body


def linear_rgb_icc() -> bytes:
    """An ICC v2 profile with sRGB primaries but a linear (gamma 1) tone curve."""

    def s15(v: float) -> bytes:
        return struct.pack(">i", round(v * 65536))

    def xyz(*v: float) -> bytes:
        return b"XYZ \0\0\0\0" + b"".join(map(s15, v))

    curve = b"curv\0\0\0\0" + struct.pack(">IH", 1, 256) + b"\0\0"  # gamma 1.0 (u8.8)
    tags = [(b"wtpt", xyz(0.9642, 1.0, 0.8249)), (b"rXYZ", xyz(0.4361, 0.2225, 0.0139)),
            (b"gXYZ", xyz(0.3851, 0.7169, 0.0971)), (b"bXYZ", xyz(0.1431, 0.0606, 0.7141)),
            (b"rTRC", curve), (b"gTRC", curve), (b"bTRC", curve)]
    start = 128 + 4 + 12 * len(tags)
    table, data = b"", b""
    for signature, body in tags:
        table += signature + struct.pack(">II", start + len(data), len(body))
        data += body
    header = (struct.pack(">I", start + len(data)) + b"\0" * 4 + struct.pack(">I", 0x02100000)
              + b"mntrRGB XYZ " + b"\0" * 12 + b"acsp" + b"\0" * 24 + s15(0.9642) + s15(1.0) + s15(0.8249))
    return header.ljust(128, b"\0") + struct.pack(">I", len(tags)) + table + data


def pixel(rgb: torch.Tensor, y: int = 0, x: int = 0) -> list[float]:
    return rgb[0, :, y, x].tolist()


# ---------------------------------------------------------------- loading files


@pytest.mark.parametrize(
    "suffix, tolerance", [(".png", 0), (".jpg", 0.03), (".webp", 0), (".tif", 0), (".bmp", 0)]
)
def test_load_rgb_formats(tmp_path: Path, suffix: str, tolerance: float) -> None:
    path = tmp_path / f"photo{suffix}"
    Image.new("RGB", (6, 4), (200, 100, 50)).save(path, **({"lossless": True} if suffix == ".webp" else {}))
    rgb, alpha = load_image(path, BIG)
    assert rgb.shape == (1, 3, 4, 6) and rgb.dtype == torch.float32 and alpha is None
    assert pixel(rgb, 3, 5) == pytest.approx([200 / 255, 100 / 255, 50 / 255], abs=tolerance + 1e-6)


@pytest.mark.parametrize("suffix", [".png", ".tif"])
def test_16bit_grey_scaled_by_65535(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"deep{suffix}"
    Image.fromarray(np.array([[0, 32768, 65535]], dtype=np.uint16)).save(path)
    assert Image.open(path).mode == "I;16"
    rgb, _ = load_image(path, BIG)
    assert rgb[0, 0, 0].tolist() == pytest.approx([0, 32768 / 65535, 1.0])
    assert torch.equal(rgb[0, 0], rgb[0, 1]) and torch.equal(rgb[0, 0], rgb[0, 2])


def test_16bit_big_endian_pil_image() -> None:
    im = Image.frombytes("I;16B", (2, 1), struct.pack(">HH", 65535, 32768))
    rgb, _ = load_image(im, BIG)
    assert rgb[0, 0, 0].tolist() == pytest.approx([1.0, 32768 / 65535])


def test_16bit_rgb_png(tmp_path: Path) -> None:
    path = tmp_path / "rgb16.png"
    path.write_bytes(png_bytes(1, 1, 16, 2, b"\0" + struct.pack(">HHH", 65535, 32768, 0)))
    rgb, alpha = load_image(path, BIG)
    assert pixel(rgb) == pytest.approx([1.0, 0.5, 0.0], abs=1 / 255) and alpha is None


def test_32bit_int_and_float_images(tmp_path: Path) -> None:
    rgb, _ = load_image(Image.fromarray(np.array([[0, 32768, 65535, 70000]], dtype=np.int32)), BIG)
    assert rgb[0, 0, 0].tolist() == pytest.approx([0, 32768 / 65535, 1.0, 1.0])
    path = tmp_path / "float.tif"
    Image.fromarray(np.array([[0.0, 0.25, 1.5]], dtype=np.float32)).save(path)
    rgb, _ = load_image(path, BIG)
    assert rgb[0, 1, 0].tolist() == pytest.approx([0.0, 0.25, 1.0])


@pytest.mark.parametrize("mode, value, expected", [("L", 128, 128 / 255), ("1", 1, 1.0), ("1", 0, 0.0)])
def test_greyscale_gives_three_equal_channels(tmp_path: Path, mode: str, value: int, expected: float) -> None:
    path = tmp_path / "grey.png"
    Image.new(mode, (3, 2), value).save(path)
    rgb, alpha = load_image(path, BIG)
    assert rgb.shape == (1, 3, 2, 3) and alpha is None
    assert pixel(rgb, 1, 2) == pytest.approx([expected] * 3)


def test_grey_with_alpha_composited_over_white(tmp_path: Path) -> None:
    path = tmp_path / "la.png"
    Image.new("LA", (2, 2), (0, 51)).save(path)
    rgb, alpha = load_image(path, BIG)
    assert alpha is not None and alpha.shape == (1, 1, 2, 2)
    assert alpha[0, 0, 0, 0].item() == pytest.approx(0.2)
    assert pixel(rgb) == pytest.approx([0.8] * 3)  # black at 20% over white


def test_rgba_alpha_and_opaque_alpha(tmp_path: Path) -> None:
    half = tmp_path / "half.png"
    Image.new("RGBA", (4, 3), (255, 0, 0, 0)).save(half)
    rgb, alpha = load_image(half, BIG)
    assert alpha is not None and alpha.shape == (1, 1, 3, 4) and alpha.max() == 0
    assert pixel(rgb) == pytest.approx([1.0, 1.0, 1.0])  # fully transparent red is white
    opaque = tmp_path / "opaque.png"
    Image.new("RGBA", (4, 3), (255, 0, 0, 255)).save(opaque)
    rgb, alpha = load_image(opaque, BIG)
    assert alpha is None and pixel(rgb) == pytest.approx([1.0, 0.0, 0.0])


def test_palette_with_transparency_gives_alpha(tmp_path: Path) -> None:
    path = tmp_path / "palette.png"
    im = Image.new("P", (2, 1))
    im.putpalette([255, 0, 0, 0, 0, 255])
    im.putpixel((1, 0), 1)
    im.save(path, transparency=0)
    rgb, alpha = load_image(path, BIG)
    assert alpha is not None and alpha[0, 0, 0].tolist() == [0.0, 1.0]
    assert pixel(rgb, 0, 0) == [1.0, 1.0, 1.0] and pixel(rgb, 0, 1) == [0.0, 0.0, 1.0]


def test_palette_without_transparency(tmp_path: Path) -> None:
    path = tmp_path / "palette.gif"
    Image.new("RGB", (2, 2), (0, 255, 0)).convert("P").save(path)
    rgb, alpha = load_image(path, BIG)
    assert alpha is None and pixel(rgb) == pytest.approx([0.0, 1.0, 0.0])


def test_cmyk_jpeg(tmp_path: Path) -> None:
    path = tmp_path / "cmyk.jpg"
    Image.new("CMYK", (8, 8), (0, 255, 255, 0)).save(path)
    rgb, _ = load_image(path, BIG)
    assert pixel(rgb, 4, 4) == pytest.approx([1.0, 0.0, 0.0], abs=0.05)


def test_exif_orientation_is_applied(tmp_path: Path) -> None:
    path = tmp_path / "rotated.jpg"
    stored = Image.new("RGB", (32, 16), (0, 0, 255))
    stored.paste((255, 0, 0), (0, 0, 16, 16))  # left half red
    exif = Image.Exif()
    exif[0x0112] = 6  # display rotated 90 degrees clockwise
    stored.save(path, exif=exif)
    rgb, _ = load_image(path, BIG)
    assert rgb.shape == (1, 3, 32, 16)  # H and W swapped
    assert pixel(rgb, 2, 8) == pytest.approx([1, 0, 0], abs=0.1)  # the left half is now on top
    assert pixel(rgb, 29, 8) == pytest.approx([0, 0, 1], abs=0.1)


def test_icc_profile_converted_to_srgb(tmp_path: Path) -> None:
    path = tmp_path / "linear.png"
    Image.new("RGB", (2, 2), (128, 128, 128)).save(path, icc_profile=linear_rgb_icc())
    rgb, _ = load_image(path, BIG)
    # linear 0.502 encoded with the sRGB curve is about 0.735
    assert pixel(rgb) == pytest.approx([0.735] * 3, abs=0.01)


@pytest.mark.parametrize("profile", [b"not an icc profile", "lab"])
def test_broken_or_mismatched_icc_profile_is_ignored(tmp_path: Path, profile: bytes | str) -> None:
    if profile == "lab":
        profile = ImageCms.ImageCmsProfile(ImageCms.createProfile("LAB")).tobytes()
    path = tmp_path / "broken.png"
    Image.new("RGB", (2, 2), (128, 128, 128)).save(path, icc_profile=profile)
    rgb, _ = load_image(path, BIG)
    assert pixel(rgb) == pytest.approx([128 / 255] * 3)


# ---------------------------------------------------------------- in-memory sources


def test_numpy_sources() -> None:
    rgb, alpha = load_image(np.full((2, 3, 3), 255, dtype=np.uint8), BIG)
    assert rgb.shape == (1, 3, 2, 3) and alpha is None and rgb.min() == 1.0
    rgb, _ = load_image(np.full((2, 3), 32768, dtype=np.uint16), BIG)
    assert pixel(rgb) == pytest.approx([32768 / 65535] * 3)
    rgba = np.zeros((2, 3, 4), dtype=np.float64)
    rgba[..., 3] = 0.5
    rgb, alpha = load_image(rgba, BIG)
    assert alpha is not None and alpha.shape == (1, 1, 2, 3) and alpha.dtype == torch.float32
    assert pixel(rgb) == pytest.approx([0.5] * 3)
    rgb, _ = load_image(np.full((1, 1, 1), 0.25, dtype=np.float32), BIG)
    assert pixel(rgb) == [0.25] * 3


@pytest.mark.parametrize(
    "array, expected",
    [
        (np.zeros((2, 2, 3), dtype=np.int64), "dtype int64"),
        (np.zeros((1, 2, 2, 3), dtype=np.uint8), "shape (1, 2, 2, 3)"),
        (np.zeros((2, 2, 5), dtype=np.uint8), "got 5"),
        (np.full((2, 2), np.nan, dtype=np.float32), "NaN"),
        (np.zeros((0, 4, 3), dtype=np.uint8), "empty"),
    ],
)
def test_bad_numpy_sources(array: np.ndarray, expected: str) -> None:
    message = error_of(load_image, array, BIG)
    assert message.startswith("image: ") and expected in message


def test_tensor_sources() -> None:
    rgb, alpha = load_image(torch.full((3, 2, 5), 0.5), BIG)
    assert rgb.shape == (1, 3, 2, 5) and alpha is None and pixel(rgb) == [0.5] * 3
    rgb, alpha = load_image(torch.zeros(1, 4, 2, 5, dtype=torch.float64), BIG)
    assert alpha is not None and alpha.shape == (1, 1, 2, 5) and pixel(rgb) == [1.0] * 3
    rgb, _ = load_image(torch.full((1, 1, 2, 2), 0.25), BIG)
    assert rgb.shape == (1, 3, 2, 2)


@pytest.mark.parametrize(
    "tensor", [torch.zeros(3, 2, 2, dtype=torch.uint8), torch.zeros(2, 3, 2, 2), torch.zeros(4, 4)]
)
def test_bad_tensor_sources(tensor: torch.Tensor) -> None:
    assert error_of(load_image, tensor, BIG, name="style").startswith("style: expected a float tensor")


def test_pil_source_is_not_modified() -> None:
    im = Image.new("RGBA", (3, 2), (0, 0, 255, 255))
    rgb, alpha = load_image(im, BIG)
    assert rgb.shape == (1, 3, 2, 3) and alpha is None and pixel(rgb) == [0.0, 0.0, 1.0]
    assert im.mode == "RGBA" and im.size == (3, 2)


def test_unsupported_source_type() -> None:
    assert "unsupported image source" in error_of(load_image, [[0.5]], BIG)


# ---------------------------------------------------------------- loading errors


def test_missing_file_and_directory(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.png"
    assert error_of(load_image, missing, BIG) == f"{missing}: file not found"
    assert error_of(load_image, str(tmp_path), BIG).startswith(f"{tmp_path}: is a directory")


def test_not_an_image(tmp_path: Path) -> None:
    path = tmp_path / "notes.jpg"
    path.write_text("hello\nworld\n")
    assert error_of(load_image, path, BIG) == f"{path}: not an image (cannot identify image file)"


def test_unreadable_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "secret.png"
    Image.new("RGB", (2, 2)).save(path)

    def denied(fp, *args, **kwargs):
        raise PermissionError(13, "Permission denied", str(fp))

    monkeypatch.setattr(Image, "open", denied)  # chmod does not stop root
    assert error_of(load_image, path, BIG) == f"{path}: not readable (permission denied)"


@pytest.mark.parametrize("suffix", [".png", ".jpg"])
def test_truncated_image(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"cut{suffix}"
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8)).save(path)
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    message = error_of(load_image, path, BIG)
    assert message.startswith(f"{path}: truncated or corrupt image (")


def test_pixel_limit_checked_before_decoding(tmp_path: Path) -> None:
    path = tmp_path / "big.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (100, 120, 3), dtype=np.uint8)).save(path)
    path.write_bytes(path.read_bytes()[:200])  # undecodable, so only the header can have been read
    expected = f"{path}: 120x100 = 12000 pixels is over the limit of 5000 (the max_pixels setting)"
    assert error_of(load_image, path, 5000) == expected
    assert "over the limit" in error_of(load_image, Image.new("RGB", (120, 100)), 5000)


def test_pil_decompression_bomb_checks(tmp_path: Path) -> None:
    warning_size = tmp_path / "warn.png"  # over PIL's MAX_IMAGE_PIXELS: PIL would warn
    warning_size.write_bytes(png_bytes(10000, 10000, 8, 0, b"\0"))
    error_size = tmp_path / "bomb.png"  # over twice that: PIL refuses to open it
    error_size.write_bytes(png_bytes(20000, 20000, 8, 0, b"\0"))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert "over the limit of 25000000" in error_of(load_image, warning_size, 25_000_000)
        message = error_of(load_image, error_size, 10**9)
        assert message.startswith(f"{error_size}: Image size (400000000 pixels)")


def test_zero_sized_pil_image() -> None:
    assert error_of(load_image, Image.new("RGB", (0, 5)), BIG, name="photo.png") == (
        "photo.png: image is empty (0x5 pixels)"
    )


# ---------------------------------------------------------------- resizing and conversion


@pytest.mark.parametrize(
    "height, width, expected", [(768, 1024, (192, 256)), (1024, 768, (256, 192)), (2, 400, (1, 256))]
)
def test_resize_long_side_keeps_aspect(height: int, width: int, expected: tuple[int, int]) -> None:
    out = resize_long_side(torch.rand(1, 3, height, width), 256)
    assert out.shape == (1, 3, *expected) and out.min() >= 0 and out.max() <= 1


def test_resize_clamps_overshoot_and_skips_same_size() -> None:
    checker = (torch.arange(8)[:, None] + torch.arange(8)).remainder(2).float().expand(1, 3, 8, 8)
    up = resize_long_side(checker, 32)
    assert up.shape == (1, 3, 32, 32) and up.min() == 0 and up.max() == 1  # bicubic alone rings past both
    assert resize_long_side(checker, 8) is checker


def test_to_pil_rgb_and_rgba() -> None:
    im = to_pil(torch.full((1, 3, 2, 4), 0.2))
    assert im.mode == "RGB" and im.size == (4, 2) and im.getpixel((3, 1)) == (51, 51, 51)
    im = to_pil(torch.full((1, 3, 4, 8), 1.5), torch.full((1, 1, 2, 4), 0.6))  # alpha gets resized
    assert im.mode == "RGBA" and im.size == (8, 4) and im.getpixel((7, 3)) == (255, 255, 255, 153)


# ---------------------------------------------------------------- saving


@pytest.mark.parametrize(
    "name, mode",
    [("out.png", "RGBA"), ("out.jpg", "RGB"), ("OUT.JPEG", "RGB"), ("out.webp", "RGBA"), ("out.tif", "RGBA")],
)
def test_save_round_trip(tmp_path: Path, name: str, mode: str) -> None:
    path = tmp_path / name
    image = Image.new("RGBA", (16, 8), (255, 0, 0, 255))
    image.paste((0, 0, 0, 0), (0, 0, 8, 8))  # transparent black: white in a JPEG
    metadata = {"style": "starry night.jpg", "weights": "1e5, 1", "note": "ünïcode"}
    save_image(image, path, metadata)
    assert [p.name for p in tmp_path.iterdir()] == [name]  # no temp file left behind
    with Image.open(path) as reopened:
        assert reopened.size == (16, 8) and reopened.mode == mode
        corner = reopened.convert("RGBA").getpixel((2, 2))
    assert corner[3] == 0 if mode == "RGBA" else corner[:3] == pytest.approx((255, 255, 255), abs=12)
    assert read_metadata(path) == metadata


def test_save_without_metadata_and_foreign_descriptions(tmp_path: Path) -> None:
    save_image(Image.new("RGB", (2, 2)), tmp_path / "plain.png")
    assert read_metadata(tmp_path / "plain.png") == {}
    camera = tmp_path / "camera.jpg"
    exif = Image.Exif()
    exif[0x010E] = "OLYMPUS DIGITAL CAMERA"
    Image.new("RGB", (2, 2)).save(camera, exif=exif)
    assert read_metadata(camera) == {}
    Image.new("RGB", (2, 2)).save(tmp_path / "bare.webp")
    assert read_metadata(tmp_path / "bare.webp") == {}
    assert error_of(read_metadata, tmp_path / "gone.png") == f"{tmp_path / 'gone.png'}: file not found"


def test_failed_save_leaves_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "out.png"
    path.write_bytes(b"previous result")

    def broken_save(self, fp, *args, **kwargs):
        Path(fp).write_bytes(b"half an image")
        raise OSError("disk full")

    monkeypatch.setattr(Image.Image, "save", broken_save)
    assert error_of(save_image, Image.new("RGB", (2, 2)), path) == f"{path}: cannot write (disk full)"
    gif = tmp_path / "anim.gif"
    assert error_of(save_gif, [Image.new("RGB", (2, 2))], gif) == f"{gif}: cannot write (disk full)"
    assert [p.name for p in tmp_path.iterdir()] == ["out.png"]
    assert path.read_bytes() == b"previous result"


def test_check_output_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert check_output_path(str(tmp_path / "ok.TIFF")) == tmp_path / "ok.TIFF"
    assert list(tmp_path.iterdir()) == []  # the writability probe is cleaned up
    assert error_of(check_output_path, "out.xyz") == (
        "out.xyz: unsupported output format '.xyz' (use .png, .jpg, .webp or .tif)"
    )
    assert "(none)" in error_of(check_output_path, tmp_path / "out")
    missing = tmp_path / "no" / "such" / "out.png"
    assert error_of(check_output_path, missing).startswith(f"{missing}: directory")
    (tmp_path / "file.txt").write_text("x")
    under_file = tmp_path / "file.txt" / "out.png"
    expected = f"{under_file}: {tmp_path / 'file.txt'} is not a directory"
    assert error_of(check_output_path, under_file) == expected
    (tmp_path / "taken.png").mkdir()
    assert error_of(check_output_path, tmp_path / "taken.png").endswith("is a directory")

    def read_only(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(bimage.tempfile, "mkstemp", read_only)  # chmod does not stop root
    assert error_of(check_output_path, tmp_path / "out.png").endswith("is not writable (Permission denied)")


def test_save_gif(tmp_path: Path) -> None:
    path = tmp_path / "progress.gif"
    frames = [Image.new("RGB", (4, 3), colour) for colour in ("red", "green", "blue")]
    save_gif(frames, path, duration_ms=50)
    with Image.open(path) as gif:
        assert gif.n_frames == 3 and gif.size == (4, 3)
        assert gif.info["loop"] == 0 and gif.info["duration"] == 50
    assert [p.name for p in tmp_path.iterdir()] == ["progress.gif"]
    assert error_of(save_gif, [], path) == f"{path}: no frames to write"
