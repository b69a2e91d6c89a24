"""The Python API: every input kind, the CLI's defaults, alpha kept."""

from __future__ import annotations

import importlib
from dataclasses import fields
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import brushwork
from brushwork.cli import build_parser
from brushwork.config import StyleConfig
from brushwork.nets.vgg import Backbone


def _inputs(tmp_path: Path) -> dict[str, object]:
    rng = np.random.default_rng(0)
    array = rng.integers(0, 255, (30, 40, 3), dtype=np.uint8)
    Image.fromarray(array).save(tmp_path / "c.png")
    return {"path": tmp_path / "c.png", "str": str(tmp_path / "c.png"), "pil": Image.fromarray(array),
            "numpy": array, "tensor": torch.from_numpy(array).permute(2, 0, 1)[None].float() / 255}


@pytest.mark.parametrize("kind", ["path", "str", "pil", "numpy", "tensor"])
def test_stylize_accepts_every_input_kind(kind: str, tmp_path: Path, tiny_backbone: Backbone) -> None:
    source = _inputs(tmp_path)[kind]
    result = brushwork.stylize(source, source, size=32, iterations=2, backbone=tiny_backbone)
    assert isinstance(result, Image.Image) and result.size == (32, 24) and result.mode == "RGB"


def test_transparent_content_keeps_its_alpha(tiny_backbone: Backbone) -> None:
    rgba = np.zeros((40, 40, 4), np.uint8)
    rgba[..., :3] = 120
    rgba[10:30, 10:30, 3] = 255  # an opaque square on a transparent ground
    result = brushwork.stylize(rgba, rgba[..., :3], size=40, iterations=1, backbone=tiny_backbone)
    assert result.mode == "RGBA"
    alpha = np.asarray(result)[..., 3]
    assert alpha[20, 20] == 255 and alpha[2, 2] == 0


def test_cli_options_are_the_config_fields(capsys: pytest.CaptureFixture) -> None:
    args = build_parser().parse_args(["stylize", "a.jpg", "b.jpg", "-o", "c.png", "--style-weight", "7"])
    assert {f.name for f in fields(StyleConfig) if hasattr(args, f.name)} == {"style_weight"}, \
        "options not given stay out, so that --quality can fill them in"
    with pytest.raises(SystemExit):
        build_parser().parse_args(["stylize", "--help"])
    shown = capsys.readouterr().out
    assert all(f"--{f.name.replace('_', '-')}" in shown for f in fields(StyleConfig))


def test_every_public_name_is_found_where_the_package_says() -> None:
    for name in brushwork.__all__:
        value = getattr(brushwork, name)  # imported on first use
        home = brushwork._HOMES[name]
        assert getattr(importlib.import_module(home), name) is value
        assert getattr(value, "__module__", home) == home, f"{name} lives in {value.__module__}, not {home}"
    assert {"CancelToken", "Cancelled", "ProgressEvent", "SettingError", "settings_from"} <= set(dir(brushwork))
    with pytest.raises(AttributeError):
        brushwork.Progress  # noqa: B018 - replaced by ProgressEvent


def test_a_shared_backbone_is_not_moved(tiny_backbone: Backbone, monkeypatch: pytest.MonkeyPatch) -> None:
    # A backbone on another device than the run's is copied there, so other jobs using it are undisturbed.
    monkeypatch.setattr("brushwork.api.resolve_device", lambda name: torch.device("meta"))
    moved: list[Backbone] = []
    monkeypatch.setattr("brushwork.api.paint", lambda net, *args, **kwargs: moved.append(net) or torch.zeros(1, 3, 24, 32))
    photo = np.zeros((24, 32, 3), np.uint8)
    brushwork.stylize(photo, photo, size=32, iterations=1, backbone=tiny_backbone)
    assert moved[0] is not tiny_backbone and moved[0].device.type == "meta"
    assert tiny_backbone.device.type == "cpu"
