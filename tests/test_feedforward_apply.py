"""Stylising with a trained network: files and folders, strength, colours, skipping, the Python API."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from feedforward_fixtures import photo_dir, session_backbone, style_file, tiny_model, torch_tensor_image  # noqa: F401
from PIL import Image

from brushwork import apply_style_network, load_style_network
from brushwork.colour import rgb_to_yiq
from brushwork.errors import BrushworkError
from brushwork.feedforward.apply import open_engine, paint, stylize_files, trained_stroke_scale
from brushwork.feedforward.config import ApplyConfig
from brushwork.recording import read_provenance


def test_strength_zero_gives_the_photo_and_colours_can_be_kept(tiny_model: Path, photo_dir: Path) -> None:
    photo = photo_dir / "photo02.png"
    content = torch_tensor_image(photo)
    unchanged = torch_tensor_image_of(apply_style_network(tiny_model, photo, strength=0.0))
    assert torch.allclose(unchanged, content, atol=1 / 255)
    full = torch_tensor_image_of(apply_style_network(tiny_model, photo))
    half = torch_tensor_image_of(apply_style_network(tiny_model, photo, strength=0.5))
    assert torch.allclose(half, (full + content) / 2, atol=2 / 255)
    kept = torch_tensor_image_of(apply_style_network(load_style_network(tiny_model), Image.open(photo),
                                                     preserve_colors="luminance"))
    def chroma_error(image: torch.Tensor) -> float:
        return float((rgb_to_yiq(image)[:, 1:] - rgb_to_yiq(content)[:, 1:]).abs().mean())

    # Not zero: where Y changes, some colours leave the RGB gamut.
    assert chroma_error(kept) < 0.03 and chroma_error(kept) < chroma_error(full) / 3


def test_stroke_scale_paints_on_the_image_shrunk_and_enlarges_the_painting_back() -> None:
    seen: list[tuple[int, ...]] = []

    def engine(x: torch.Tensor) -> torch.Tensor:  # a network that paints the photo itself
        seen.append(tuple(x.shape[-2:]))
        return x

    photo = torch.zeros(1, 3, 40, 64)
    photo[..., ::2, :] = 1  # stripes of one pixel: detail that shrinking takes out
    assert torch.equal(paint(engine, photo, ApplyConfig(stroke_scale=1), TRAINED_AT_20), photo) and seen == [(40, 64)]
    out = paint(engine, photo, ApplyConfig(stroke_scale=2), {})
    assert seen[1] == (20, 32) and out.shape == photo.shape
    assert float(out[..., 4:-4, 4:-4].std()) < 0.05 < 0.4 < float(photo.std())  # the painting is the stripes' grey
    # By default as trained: a network that saw photos with a short side of 20 px sees this one so.
    assert paint(engine, photo, ApplyConfig(), TRAINED_AT_20).shape == photo.shape and seen[2] == (20, 32)


TRAINED_AT_20 = {"settings": {"crop_size": 20, "photo_size": None}}


@pytest.mark.parametrize(("settings", "height", "width", "scale"), [
    ({"crop_size": 256}, 384, 512, 1.5),  # the short side to the crop size, as training scaled its photos
    ({"crop_size": 256}, 512, 384, 1.5),
    ({"crop_size": 256}, 200, 300, 1.0),  # never enlarged: a network is not run above the image's size
    ({"crop_size": 256}, 3000, 4000, 2.0),  # nor shrunk more than twice: enlarged more, the painting blurs
    ({"crop_size": 256, "photo_size": 640}, 480, 960, 1.5),  # --photo-size: the long side to it
    ({"crop_size": 256, "photo_size": 640}, 400, 1600, 400 / 256),  # ... never the short side under the crop
    ({}, 800, 800, 1.0),  # a file that does not say how it was trained
])
def test_the_trained_stroke_scale_shows_an_image_at_its_training_photos_size(
        settings: dict[str, int], height: int, width: int, scale: float) -> None:
    assert trained_stroke_scale({"settings": settings} if settings else {}, height, width) == pytest.approx(scale)


def test_a_trained_network_runs_as_trained_by_default(tiny_model: Path) -> None:
    """The tiny network learnt on 32 px crops: an image with a short side of 64 px is painted at half size."""
    seen: list[tuple[int, ...]] = []
    engine, meta = open_engine(tiny_model, ApplyConfig(device="cpu"))

    def watched(x: torch.Tensor) -> torch.Tensor:
        seen.append(tuple(x.shape[-2:]))
        return engine(x)

    photo = torch.rand(1, 3, 64, 96)
    default = paint(watched, photo, ApplyConfig(), meta)
    assert seen == [(32, 48)] and default.shape == photo.shape
    assert not torch.equal(default, paint(watched, photo, ApplyConfig(stroke_scale=1), meta)) and seen[1] == (64, 96)


def torch_tensor_image_of(image: Image.Image) -> torch.Tensor:
    return torch.from_numpy(np.asarray(image, dtype=np.float32) / 255).permute(2, 0, 1)[None]


def test_any_size_and_alpha(tiny_model: Path) -> None:
    rgba = np.zeros((37, 23, 4), dtype=np.uint8)
    rgba[..., 3] = 128
    out = apply_style_network(tiny_model, rgba)
    assert out.size == (23, 37) and out.mode == "RGBA"
    assert apply_style_network(tiny_model, rgba[..., :3], size=64).size == (40, 64)


def test_folders_give_same_named_outputs_and_skip_existing(tiny_model: Path, photo_dir: Path,
                                                           tmp_path: Path) -> None:
    inputs = [photo_dir / "a", photo_dir / "photo02.png"]
    out = tmp_path / "out"
    done: list[Path] = []
    written, skipped, failed = stylize_files(tiny_model, inputs, out, ApplyConfig(batch_size=3),
                                             callbacks=[lambda event: done.append(Path(event.checkpoint))])
    names = sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file())
    assert names == ["photo00.png", "photo02.png", "photo03.jpg", "photo06.png", "photo09.jpg", "tiny.png"]
    assert (written, skipped, failed) == (6, 0, []) and len(done) == 6
    record = read_provenance(out / "photo03.jpg")
    assert record["inputs"]["style"] == "stripes.png" and record["settings"]["batch_size"] == 3
    before = (out / "photo00.png").stat().st_mtime_ns
    assert stylize_files(tiny_model, inputs, out, ApplyConfig()) == (0, 6, [])
    assert stylize_files(tiny_model, inputs, out, ApplyConfig(overwrite=True, strength=0.5)) == (6, 0, [])
    assert (out / "photo00.png").stat().st_mtime_ns != before


def test_an_unreadable_file_in_a_folder_is_passed_over(tiny_model: Path, photo_dir: Path, tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "good.png").write_bytes((photo_dir / "photo02.png").read_bytes())
    (folder / "broken.jpg").write_bytes(b"not a jpeg")
    written, skipped, failed = stylize_files(tiny_model, [folder], tmp_path / "out", ApplyConfig())
    assert (written, skipped) == (1, 0) and (tmp_path / "out" / "good.png").is_file()
    assert len(failed) == 1 and "broken.jpg" in failed[0] and "\n" not in failed[0]
    assert not (tmp_path / "out" / "broken.jpg").exists()


def test_a_single_file_and_errors(tiny_model: Path, photo_dir: Path, tmp_path: Path) -> None:
    assert stylize_files(tiny_model, [photo_dir / "photo02.png"], tmp_path / "one.webp", ApplyConfig()) == (1, 0, [])
    assert Image.open(tmp_path / "one.webp").size == (52, 40)
    with pytest.raises(BrushworkError, match="missing.png: file not found"):
        stylize_files(tiny_model, [tmp_path / "missing.png"], tmp_path / "o", ApplyConfig())
    with pytest.raises(BrushworkError, match="would overwrite that of"):
        stylize_files(tiny_model, [photo_dir / "photo02.png", photo_dir / "photo02.png"], tmp_path / "o",
                      ApplyConfig())
    with pytest.raises(BrushworkError, match="m.onnx: model file not found"):  # an .onnx model goes to onnxruntime
        stylize_files(tmp_path / "m.onnx", [photo_dir / "photo02.png"], tmp_path / "o", ApplyConfig())
    with pytest.raises(BrushworkError, match="^strength 2: must be 0 to 1"):
        ApplyConfig(strength=2)
