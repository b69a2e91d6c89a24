"""Several styles in one network (conditional instance normalisation): training, files, blends, ONNX,
the CLI; single-style files of the first format; and a training run's previews and independent scores."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from feedforward_fixtures import TINY, photo_dir, session_backbone, style_file  # noqa: F401
from PIL import Image
from safetensors import safe_open
from safetensors.torch import load_file

import brushwork.feedforward.heldout as heldout
from brushwork.cli import main
from brushwork.errors import SettingError
from brushwork.evaluation import EfficientNetLite0
from brushwork.feedforward.apply import apply_style_network, open_engine
from brushwork.feedforward.config import ApplyConfig
from brushwork.feedforward.model_file import load_style_network, save_style_network
from brushwork.feedforward.previews import CAPTION
from brushwork.feedforward.network import StyleNorm, TransformerNet, seeded_network, style_vector
from brushwork.feedforward.trainer import train_style_network
from brushwork.nets.vgg import Backbone
from brushwork.nets.weights import CACHE_ENV
from brushwork.progress import ProgressEvent

DATA = Path(__file__).parent / "data"


@pytest.fixture(scope="module")
def second_style(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("style2") / "dots.png"
    dots = np.full((48, 64, 3), 235, dtype=np.uint8)
    dots[::4, ::4] = (10, 60, 20)
    Image.fromarray(dots).save(path)
    return path


@pytest.fixture(scope="module")
def pack(tmp_path_factory: pytest.TempPathFactory, photo_dir: Path, style_file: Path, second_style: Path,
         session_backbone: Backbone) -> tuple[Path, list[str], list[ProgressEvent]]:
    """A tiny network of two styles trained for 4 steps, a checkpoint at step 2, and its log and events;
    the judge's weights are not in its (empty) weights cache."""
    path = tmp_path_factory.mktemp("pack") / "pack.safetensors"
    notes: list[str] = []
    events: list[ProgressEvent] = []
    with pytest.MonkeyPatch.context() as patch:  # a module fixture runs before conftest's cache redirection
        patch.setenv(CACHE_ENV, str(tmp_path_factory.mktemp("empty-cache")))
        train_style_network([style_file, second_style], photo_dir, path, steps=4, checkpoint_every=2,
                            backbone=session_backbone, log=notes.append, callbacks=[events.append],
                            **{**TINY, "reference": "draft"})
    return path, notes, events


def _distinct_styles(net: TransformerNet) -> TransformerNet:
    """``net`` with a different random scale and shift for each style."""
    generator = torch.Generator().manual_seed(5)
    with torch.no_grad():
        for module in net.modules():
            if isinstance(module, StyleNorm):
                module.weight.copy_(torch.rand(module.weight.shape, generator=generator) + 0.5)
                module.bias.copy_(torch.rand(module.bias.shape, generator=generator) - 0.5)
    return net


def test_a_blend_of_styles_is_the_network_with_blended_scales_and_shifts() -> None:
    net = _distinct_styles(seeded_network(4, 1, 0, styles=3)).eval()
    x = torch.rand(1, 3, 24, 32)
    weights = style_vector((1, 3, 0), 3)
    assert torch.allclose(weights, torch.tensor([0.25, 0.75, 0.0]))
    single = TransformerNet(4, 1).eval()  # one style whose scale and shift are the blend's
    single.load_state_dict({k: weights @ v if v.dim() == 2 and "layers" in k and _is_norm(net, k) else v
                            for k, v in net.state_dict().items()})
    with torch.no_grad():
        assert torch.allclose(net(x, weights), single(x), atol=1e-6)
        first, second = net(x, style_vector(None, 3)), net(x, style_vector((0, 1, 0), 3))
    assert (first - second).abs().max() > 0.01, "each style paints differently"
    with pytest.raises(ValueError, match="needs style weights"):
        net(x)


def _is_norm(net: TransformerNet, key: str) -> bool:
    return isinstance(net.get_submodule(key.rsplit(".", 1)[0]), StyleNorm)


def test_a_file_of_the_first_format_loads_and_paints_as_before(tmp_path: Path) -> None:
    """tests/data/v1-style-network.safetensors was written by brushwork before StyleNorm (nn.InstanceNorm2d),
    with the output it gave for a fixed input."""
    model = load_style_network(DATA / "v1-style-network.safetensors")
    assert model.net.styles == 1 and model.style_names == ["stripes.png"]
    golden = load_file(DATA / "v1-style-network-output.safetensors")
    engine, _ = open_engine(model, ApplyConfig(device="cpu", precision="float32"))
    assert torch.allclose(engine(golden["input"]), golden["output"], atol=1e-6)
    with pytest.raises(SettingError, match="style_weights 1.0,1.0: needs one weight per style of the model"):
        open_engine(model, ApplyConfig(device="cpu", style_weights=(1.0, 1.0)))
    save_style_network(model.net, tmp_path / "again.safetensors", {"style": "stripes.png"})
    with safe_open(tmp_path / "again.safetensors", framework="pt") as f:
        assert f.metadata()["format_version"] == "1", "one style: still the first format"


def test_a_trained_pack_records_its_styles_and_blends_them(pack: tuple[Path, list[str], list[ProgressEvent]],
                                                            photo_dir: Path) -> None:
    path, notes, _ = pack
    with safe_open(path, framework="pt") as f:
        header = f.metadata()
    meta = json.loads(header["metadata"])
    # The defaults soften the base, which is format 4 whatever the styles and encoder (3: the backbone's encoder on a
    # sharp base; 2: several styles with their own).
    assert header["format_version"] == "4" and meta["style_count"] == 2 and meta["encoder"] == "backbone"
    assert meta["base_blur"] == 4
    assert meta["styles"] == ["stripes.png", "dots.png"] and meta["style"] == "stripes.png, dots.png"
    model = load_style_network(path)
    assert model.thumbnail(1).size != model.thumbnail(0).size or model.thumbnail(1).tobytes() != \
        model.thumbnail(0).tobytes()
    assert any("2 styles in turn" in note for note in notes)
    photo = photo_dir / "photo02.png"
    images = [np.asarray(apply_style_network(model, photo, device="cpu", precision="float32", style_weights=w),
                         dtype=np.float32) for w in ((1, 0), (0, 1), (0.3, 0.7), (3, 7))]
    assert np.abs(images[0] - images[1]).max() > 2, "the two styles differ"
    assert np.array_equal(images[2], images[3]), "weights are normalised"
    assert np.array_equal(np.asarray(apply_style_network(model, photo, device="cpu", precision="float32")), images[0])


def test_bad_style_weights_are_one_line_errors_naming_the_option(pack: tuple[Path, list[str], list[ProgressEvent]],
                                                                 photo_dir: Path, tmp_path: Path,
                                                                 capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SettingError, match="style_weights -1.0,2.0: must be zero or positive and not all zero"):
        ApplyConfig(style_weights=(-1.0, 2.0))
    with pytest.raises(SettingError, match="not all zero"):
        ApplyConfig(style_weights=(0.0, 0.0))
    photo, out = str(photo_dir / "photo02.png"), tmp_path / "o.png"
    for weights, says in (("1,2,3", "--style-weights 1.0,2.0,3.0: needs one weight per style of the model "
                                    "(2: stripes.png, dots.png)"), ("-1,1", "must be zero or positive")):
        assert main(["apply", str(pack[0]), photo, "-o", str(out), "--style-weights", weights]) == 2
        err = capsys.readouterr().err
        assert says in err and len(err.strip().splitlines()) == 1
    assert not out.exists()
    assert main(["apply", str(pack[0]), photo, "-o", str(out), "--style-weights", "0.3,0.7", "-q"]) == 0
    assert out.is_file()


def test_onnx_keeps_the_style_input(pack: tuple[Path, list[str], list[ProgressEvent]], tmp_path: Path) -> None:
    pytest.importorskip("onnxruntime")
    from brushwork.feedforward.onnx_export import OnnxEngine, export_onnx

    export_onnx(pack[0], tmp_path / "pack.onnx")
    model = load_style_network(pack[0])
    x = torch.rand(2, 3, 32, 40)
    for weights in ((1.0, 0.0), (0.3, 0.7)):
        engine = OnnxEngine(tmp_path / "pack.onnx", weights)
        assert [i.name for i in engine.session.get_inputs()] == ["image", "style_weights"]
        with torch.no_grad():
            expected = model.net(x, style_vector(weights, 2))
        assert torch.allclose(engine(x), expected, atol=1e-4)
    with pytest.raises(SettingError, match="needs one weight per style"):
        OnnxEngine(tmp_path / "pack.onnx", (1.0,))


def test_the_preview_grid_shows_every_style_and_the_optimisations_output(
        pack: tuple[Path, list[str], list[ProgressEvent]]) -> None:
    path, notes, events = pack
    grids = sorted((path.with_name("pack-train") / "previews").glob("step-*.png"))
    assert [g.name for g in grids] == ["step-000002.png", "step-000004.png"]
    with Image.open(grids[-1]) as grid:
        # columns: the style, 2 held-out photos, the optimisation's output; rows: the photos, 2 styles
        assert grid.size == (4 * TINY["crop_size"], 3 * (TINY["crop_size"] + CAPTION))
        pixels = np.asarray(grid.convert("RGB"), dtype=np.float32)
    reference = pixels[-TINY["crop_size"]:, -TINY["crop_size"]:]
    assert reference.std() > 5, "the optimisation's output is painted in the last column"
    unavailable = [n for n in notes if "independent scores unavailable" in n]
    assert len(unavailable) == 1 and "efficientnet-lite0" in unavailable[0]
    assert all(e.scores is None for e in events)


def test_checkpoints_carry_the_independent_scores(photo_dir: Path, style_file: Path, session_backbone: Backbone,
                                                  tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    torch.manual_seed(0)
    judge = EfficientNetLite0().eval().requires_grad_(False)  # random weights: the numbers, not their meaning
    monkeypatch.setattr(heldout, "cached_judge", lambda: judge)
    notes: list[str] = []
    events: list[ProgressEvent] = []
    train_style_network(style_file, photo_dir, tmp_path / "m.safetensors", steps=2, checkpoint_every=1,
                        backbone=session_backbone, log=notes.append, callbacks=[events.append],
                        **{**TINY, "reference": "draft"})
    assert [e.scores is not None for e in events] == [True, True]
    scores = events[-1].scores
    assert scores is not None and set(scores) == {"style", "content", "first_style", "first_content",
                                                  "reference_style", "reference_content"}
    assert all(v > 0 for v in scores.values()) and json.dumps(events[-1].to_dict())
    lines = [n for n in notes if "independent scores" in n]
    assert len(lines) == 2 and lines[-1].startswith("step 2: ") and "optimisation's output" in lines[-1]
    assert not any("unavailable" in n for n in notes)


def test_the_blend_table_shows_each_style_and_each_pair(pack: tuple[Path, list[str], list[ProgressEvent]],
                                                        photo_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bench = Path(__file__).resolve().parents[1] / "bench"
    monkeypatch.syspath_prepend(str(bench))
    from feedforward_blends import CAPTION, blend_table

    path = pack[0]
    photo = photo_dir / "photo02.png"
    table = np.asarray(blend_table(path, photo, 40), dtype=np.float32)
    cell = np.asarray(apply_style_network(path, photo, size=40, style_weights=(1, 1)), dtype=np.float32)
    height, width = cell.shape[:2]
    assert table.shape[:2] == (3 * (height + CAPTION), 3 * width)
    top = 1 * (height + CAPTION) + CAPTION
    assert np.array_equal(table[top:top + height, 2 * width:3 * width], cell), "row 1, column 2: half and half"
