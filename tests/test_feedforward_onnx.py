"""ONNX export: dynamic sizes, metadata, and the onnxruntime engine agreeing with PyTorch."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

pytest.importorskip("onnxruntime")

from feedforward_fixtures import photo_dir, session_backbone, style_file, tiny_model, torch_tensor_image  # noqa: E402,F401

from brushwork.errors import BrushworkError  # noqa: E402
from brushwork.feedforward.apply import stylize_files  # noqa: E402
from brushwork.feedforward.config import ApplyConfig  # noqa: E402
from brushwork.feedforward.model_file import load_style_network, save_style_network  # noqa: E402
from brushwork.feedforward.network import seeded_network  # noqa: E402
from brushwork.feedforward.onnx_export import OnnxEngine, export_onnx  # noqa: E402


@pytest.fixture(scope="module")
def onnx_model(tiny_model: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("onnx") / "stripes.onnx"
    export_onnx(tiny_model, path)
    return path


@pytest.mark.parametrize("shape", [(1, 3, 32, 48), (2, 3, 64, 40)])
def test_onnxruntime_agrees_with_torch_at_any_size(tiny_model: Path, onnx_model: Path, shape: tuple[int, ...]
                                                   ) -> None:
    x = torch.rand(shape)
    with torch.no_grad():
        expected = load_style_network(tiny_model).net(x)
    engine = OnnxEngine(onnx_model)
    assert engine.metadata["style"] == "stripes.png" and engine.metadata["steps_trained"] == 4
    assert torch.allclose(engine(x), expected, atol=1e-4)


def test_apply_with_either_engine_writes_the_same_images(tiny_model: Path, onnx_model: Path, photo_dir: Path,
                                                         tmp_path: Path) -> None:
    inputs = [photo_dir / "b"]
    stylize_files(tiny_model, inputs, tmp_path / "torch", ApplyConfig(precision="float32"))
    stylize_files(onnx_model, inputs, tmp_path / "onnx", ApplyConfig())  # chosen by the suffix
    for image in (tmp_path / "torch").rglob("*.png"):
        other = tmp_path / "onnx" / image.relative_to(tmp_path / "torch")
        assert torch.allclose(torch_tensor_image(image), torch_tensor_image(other), atol=1.5 / 255)


def test_bad_files(tiny_model: Path, tmp_path: Path) -> None:
    with pytest.raises(BrushworkError, match="unsupported output format '.bin'"):
        export_onnx(tiny_model, tmp_path / "m.bin")
    junk = tmp_path / "junk.onnx"
    junk.write_bytes(b"junk")
    with pytest.raises(BrushworkError, match="junk.onnx: not an ONNX model"):
        OnnxEngine(junk)


@pytest.mark.parametrize("base_blur", [1, 4])
def test_a_palette_network_of_two_styles_exports_its_palettes_and_blend(tmp_path: Path, base_blur: int) -> None:
    net = seeded_network(4, 1, 0, styles=2, normalisation="scale", residual="palette", base_blur=base_blur)
    net.set_palettes([torch.rand(1, 3, 8, 8) * 0.3, 0.5 + torch.rand(1, 3, 8, 8) * 0.5])
    model, exported = tmp_path / "pack.safetensors", tmp_path / "pack.onnx"
    save_style_network(net, model, {"style": "a.png, b.png", "styles": ["a.png", "b.png"]})
    export_onnx(model, exported)
    x = torch.rand(2, 3, 32, 48)
    for weights in ((1.0, 0.0), (0.3, 0.7)):
        with torch.no_grad():
            expected = net(x, torch.tensor(weights) / sum(weights))
        assert torch.allclose(OnnxEngine(exported, weights)(x), expected, atol=1e-4)
    if base_blur > 1:  # at another size too: the soft base's resize follows the input
        y = torch.rand(1, 3, 24, 16)
        with torch.no_grad():
            assert torch.allclose(OnnxEngine(exported, (1.0, 0.0))(y), net(y, torch.tensor([1.0, 0.0])), atol=1e-4)
