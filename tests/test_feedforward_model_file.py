"""Model files: safetensors with metadata; a bad file is refused with a reason."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import torch
from conftest import TINY_WIDTHS, tiny_trunk
from feedforward_fixtures import photo_dir, session_backbone, style_file, tiny_model  # noqa: F401
from safetensors import safe_open
from safetensors.torch import load_file, save_file

from brushwork.errors import BrushworkError
from brushwork.feedforward.config import TrainConfig
from brushwork.feedforward.model_file import FORMAT, load_style_network, save_style_network
from brushwork.feedforward.network import TransformerNet, seeded_network
from brushwork.nets.vgg import Backbone


def test_a_trained_model_carries_its_story(tiny_model: Path) -> None:
    model = load_style_network(tiny_model)
    meta = model.metadata
    assert meta["style"] == "stripes.png" and meta["steps_trained"] == 4 and meta["backbone"] == "tiny"
    settings = TrainConfig.from_dict(meta["settings"])
    assert settings.content_layers == ("relu2_2",) and settings.style_layers[0] == "relu1_2" and settings.width == 4
    assert meta["brushwork"] and meta["width"] == 4 and meta["residual_blocks"] == 1
    assert max(model.thumbnail().size) <= 128 and model.thumbnail().mode == "RGB"


def test_save_and_load_give_the_same_network(tmp_path: Path) -> None:
    torch.manual_seed(0)
    net = TransformerNet(width=4, blocks=2)
    path = tmp_path / "m.safetensors"
    save_style_network(net, path, {"style": "s.png"})
    loaded = load_style_network(path)
    x = torch.rand(1, 3, 32, 32)
    assert torch.equal(loaded.net(x), net(x))
    assert not list(tmp_path.glob(".*")), "no temporary file left behind"
    # Readable by others as any file the process writes (umask 022 here), not by its owner alone.
    old_mask = os.umask(0o022)
    try:
        save_style_network(net, tmp_path / "shared.safetensors", {"style": "s.png"})
    finally:
        os.umask(old_mask)
    assert (tmp_path / "shared.safetensors").stat().st_mode & 0o777 == 0o644


def test_the_normalisation_travels_in_the_file_and_a_file_without_it_is_instance(tmp_path: Path) -> None:
    net = TransformerNet(width=4, blocks=1, normalisation="scale")
    path = tmp_path / "scale.safetensors"
    save_style_network(net, path, {"style": "s.png"})
    loaded = load_style_network(path)
    assert loaded.metadata["normalisation"] == "scale" and loaded.net.normalisation == "scale"
    x = torch.rand(1, 3, 16, 16)
    assert torch.equal(loaded.net(x), net(x))
    old = tmp_path / "old.safetensors"
    save_file({k: v.contiguous() for k, v in net.state_dict().items()}, old, metadata=_header())
    assert load_style_network(old).net.normalisation == "instance"


def test_a_palette_network_keeps_its_palettes_and_a_file_without_the_choice_paints_the_whole_image(
        tmp_path: Path) -> None:
    net = seeded_network(4, 1, 0, residual="palette")
    net.set_palettes([torch.rand(1, 3, 8, 8) * 0.3])
    path = tmp_path / "palette.safetensors"
    save_style_network(net, path, {"style": "s.png"})
    loaded = load_style_network(path)
    assert loaded.metadata["residual"] == "palette" and torch.equal(loaded.net.palette_mean, net.palette_mean)
    x = torch.rand(1, 3, 16, 16)
    with torch.no_grad():
        assert torch.equal(loaded.net(x), net(x))
    old = tmp_path / "old.safetensors"
    plain = TransformerNet(width=4, blocks=1)
    save_file({k: v.contiguous() for k, v in plain.state_dict().items()}, old, metadata=_header())
    assert load_style_network(old).net.residual == "none"


def test_a_backbone_encoder_travels_in_a_format_3_file_and_a_damaged_description_is_refused(tmp_path: Path) -> None:
    net = seeded_network(4, 1, 0, styles=2, residual="palette", backbone=Backbone(tiny_trunk(), "caffe", name="tiny"))
    path = tmp_path / "encoder.safetensors"
    save_style_network(net, path, {"style": "a.png, b.png", "styles": ["a.png", "b.png"]})
    with safe_open(path, framework="pt") as f:
        header = f.metadata()
    meta = json.loads(header["metadata"])
    assert header["format_version"] == "3" and meta["encoder_widths"] == list(TINY_WIDTHS[:3])
    assert meta["encoder_preprocessing"] == "caffe" and meta["encoder_pooling"] == "avg"
    x, blend = torch.rand(1, 3, 16, 20), torch.tensor([0.4, 0.6])
    with torch.no_grad():
        assert torch.equal(load_style_network(path).net(x, blend), net(x, blend))
    own = tmp_path / "own.safetensors"
    save_style_network(seeded_network(4, 1, 0, styles=2), own, {"style": "a, b", "styles": ["a", "b"]})
    with safe_open(own, framework="pt") as f:
        assert f.metadata()["format_version"] == "2", "two styles and their own encoder: still format 2"
    del meta["encoder_widths"]
    save_file(load_file(path), tmp_path / "bad.safetensors", metadata={**header, "metadata": json.dumps(meta)})
    with pytest.raises(BrushworkError, match="bad.safetensors: damaged metadata .a backbone encoder needs"):
        load_style_network(tmp_path / "bad.safetensors")


def test_a_soft_base_travels_in_a_format_4_file(tmp_path: Path) -> None:
    net = seeded_network(4, 1, 0, residual="palette", base_blur=4)
    net.set_palettes([torch.rand(1, 3, 8, 8)])
    path = tmp_path / "soft.safetensors"
    save_style_network(net, path, {"style": "s.png"})
    with safe_open(path, framework="pt") as f:
        assert f.metadata()["format_version"] == "4", "an older brushwork would run it with the photo's detail"
    loaded = load_style_network(path)
    assert loaded.net.base_blur == 4 and loaded.metadata["base_blur"] == 4
    x = torch.rand(1, 3, 16, 24)
    with torch.no_grad():
        assert torch.equal(loaded.net(x), net(x))


def _header(**fields: str) -> dict[str, str]:
    return {"format": FORMAT, "format_version": "1",
            "metadata": json.dumps({"width": 4, "residual_blocks": 1}), **fields}


@pytest.mark.parametrize("write,says", [
    (lambda p: None, "model file not found"),
    (lambda p: p.write_bytes(b"\x00" * 64), "not a safetensors file"),
    (lambda p: save_file({"x": torch.zeros(1)}, p), "not a brushwork style network"),
    (lambda p: save_file({"x": torch.zeros(1)}, p, metadata=_header(format_version="9")), "format version 9"),
    (lambda p: save_file({"x": torch.zeros(1)}, p, metadata=_header(metadata="{}")), "damaged metadata"),
    (lambda p: save_file({"x": torch.zeros(1)}, p, metadata=_header(metadata=json.dumps(
        {"width": 4, "residual_blocks": 1, "normalisation": "group"}))), "normalisation 'group' is not one of"),
    (lambda p: save_file({"x": torch.zeros(1)}, p, metadata=_header(metadata=json.dumps(
        {"width": 4, "residual_blocks": 1, "residual": "photo"}))), "residual 'photo' is not one of"),
    (lambda p: save_file({"x": torch.zeros(1)}, p, metadata=_header(metadata=json.dumps(
        {"width": 4, "residual_blocks": 1, "base_blur": 3, "residual": "palette"}))), "base_blur 3: must be one of 1, 2, 4"),
    (lambda p: save_file({"x": torch.zeros(1)}, p, metadata=_header(metadata=json.dumps(
        {"width": 4, "residual_blocks": 1, "base_blur": 2}))), "base_blur 2: above 1 needs residual palette"),
    (lambda p: save_file({"x": torch.zeros(1)}, p, metadata=_header()), "weights do not fit"),
])
def test_a_bad_file_says_what_is_wrong(tmp_path: Path, write: object, says: str) -> None:
    path = tmp_path / "bad.safetensors"
    write(path)  # type: ignore[operator]
    with pytest.raises(BrushworkError, match=says) as info:
        load_style_network(path)
    assert str(info.value).startswith(str(path)) and "\n" not in str(info.value)
