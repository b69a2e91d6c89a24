"""Training: the loss falls, resume continues the same run, the run's files are written, errors are clear."""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path

import numpy as np
import pytest
import torch
from feedforward_fixtures import TINY, photo_dir, session_backbone, style_file, torch_tensor_image  # noqa: F401
from PIL import Image
from safetensors.torch import load_file

from brushwork.errors import BrushworkError
from brushwork.feedforward.config import TrainConfig
from brushwork.feedforward.model_file import load_style_network
from brushwork.feedforward.previews import CAPTION
from brushwork.feedforward.network import seeded_network
from brushwork.feedforward.trainer import BatchObjective, learning_rate_at, train_style_network
from brushwork.progress import Cancelled, CancelToken, ProgressEvent
from brushwork.nets.vgg import Backbone


def _train(photo_dir: Path, style_file: Path, backbone: Backbone, output: Path, **options: object
           ) -> list[ProgressEvent]:
    seen: list[ProgressEvent] = []
    train_style_network(style_file, photo_dir, output, backbone=backbone, callbacks=[seen.append],
                        **{**TINY, **options})
    return seen


def test_the_loss_falls(photo_dir: Path, style_file: Path, session_backbone: Backbone, tmp_path: Path) -> None:
    seen = _train(photo_dir, style_file, session_backbone, tmp_path / "m.safetensors", steps=40,
                  checkpoint_every=20, learning_rate=2e-2)
    totals = [p.losses["total"] for p in seen]
    assert [p.step for p in seen] == list(range(1, 41)) and set(seen[0].losses) == {"content", "style", "tv", "total"}
    assert sum(totals[-5:]) < 0.7 * sum(totals[:5])
    assert [p.step for p in seen if p.checkpoint] == [20, 40]


def test_a_palette_network_starts_at_its_base_which_is_its_content_target(
        photo_dir: Path, style_file: Path, session_backbone: Backbone, tmp_path: Path) -> None:
    def first_content(residual: str, base_blur: int = 1) -> float:
        path = tmp_path / f"{residual}{base_blur}.safetensors"
        seen = _train(photo_dir, style_file, session_backbone, path, steps=1, residual=residual, base_blur=base_blur)
        return seen[0].losses["content"]

    assert first_content("palette") < 1e-4 < first_content("none")
    assert first_content("palette", base_blur=4) > 1e-3, "a soft base starts without the detail of its sharp target"
    assert load_style_network(tmp_path / "palette4.safetensors").net.base_blur == 4
    net = load_style_network(tmp_path / "palette1.safetensors").net
    style = torch_tensor_image(style_file)
    assert torch.allclose(net.palette_mean[0], style.mean(dim=(0, 2, 3)), atol=2e-2), "the style's colours"


def test_style_octaves_add_the_loss_of_the_output_and_the_style_halved(session_backbone: Backbone) -> None:
    style, output, photos = (torch.rand(n, 3, 64, 64, generator=torch.Generator().manual_seed(n)) for n in (1, 2, 2))

    def style_term(octaves: tuple[float, ...], crop_size: int = 64) -> float:
        config = TrainConfig(crop_size=crop_size, style_octaves=octaves)
        return float(BatchObjective(session_backbone, [style], config)(output, photos)["style"])

    full, halved = style_term((1.0,)), style_term((0.0, 1.0))
    assert full > 0 and halved > 0 and halved != pytest.approx(full)
    assert style_term((1.0, 2.0)) == pytest.approx(full + 2 * halved)
    assert style_term((1.0, 2.0), crop_size=48) == pytest.approx(full), "a crop halved under 32 px is left out"
    objective = BatchObjective(session_backbone, [style], TrainConfig(crop_size=64, style_octaves=(1.0, 2.0)))
    with torch.autocast("cpu", dtype=torch.bfloat16):  # as the trainer runs where the CPU has bfloat16
        mixed = float(objective(output.bfloat16(), photos)["style"])
    assert mixed == pytest.approx(full + 2 * halved, rel=0.05), "a bfloat16 output is halved too"


def test_a_style_margin_leaves_the_paintings_frame_out(photo_dir: Path, session_backbone: Backbone,
                                                     tmp_path: Path) -> None:
    framed = np.full((50, 50, 3), (230, 30, 20), dtype=np.uint8)  # a red frame 5 px wide around grey
    framed[5:-5, 5:-5] = 128
    Image.fromarray(framed).save(style := tmp_path / "framed.png")

    def palette(margin: float) -> torch.Tensor:
        out = tmp_path / f"m{margin}.safetensors"
        _train(photo_dir, style, session_backbone, out, steps=1, style_size=50, style_margin=margin)
        return load_style_network(out).net.palette_mean[0]

    assert torch.allclose(palette(0.1), torch.full((3,), 128 / 255), atol=1e-3), "the frame is left out"
    assert palette(0.0)[0] > 0.6, "without a margin the frame's red counts"


def test_the_warmup_ramps_the_step_size_up_then_holds_it() -> None:
    config = TrainConfig(learning_rate=1e-3, warmup_steps=4)
    assert [learning_rate_at(config, step) for step in range(6)] == pytest.approx([2.5e-4, 5e-4, 7.5e-4, 1e-3, 1e-3, 1e-3])
    assert learning_rate_at(TrainConfig(learning_rate=1e-3, warmup_steps=0), 0) == 1e-3


def test_the_warmup_lasts_its_steps_for_each_style_of_a_pack() -> None:
    config = TrainConfig(learning_rate=1e-3, warmup_steps=2)
    assert [learning_rate_at(config, step, styles=3) for step in range(7)] == pytest.approx(
        [1e-3 / 6, 2e-3 / 6, 3e-3 / 6, 4e-3 / 6, 5e-3 / 6, 1e-3, 1e-3])


@pytest.mark.parametrize(("warmup", "styles"), [(0, 1), (1000, 1), (500, 2)])
def test_the_first_step_is_as_large_as_the_warmup_allows(photo_dir: Path, style_file: Path,
                                                         session_backbone: Backbone, tmp_path: Path,
                                                         warmup: int, styles: int) -> None:
    # Adam's first step moves every parameter with a gradient by the step size itself, whatever the gradient;
    # a pack warms up over ``warmup`` steps of each style.
    path = tmp_path / "m.safetensors"
    _train(photo_dir, [style_file] * styles, session_backbone, path, steps=1, learning_rate=1e-2,
           warmup_steps=warmup)
    config = TrainConfig(**{**TINY, "learning_rate": 1e-2, "warmup_steps": warmup})
    start = seeded_network(config.width, config.residual_blocks, config.seed, styles, config.normalisation,
                           config.residual, session_backbone)
    trained = load_style_network(path).net
    with torch.no_grad():
        moved = max(float((a - b).abs().max()) for a, b in zip(trained.parameters(), start.parameters()))
    assert moved == pytest.approx(1e-2 / max(1, warmup * styles), rel=1e-3)


@pytest.mark.parametrize("first", [5, 3], ids=["at an epoch's end", "mid-epoch"])
def test_resume_continues_the_same_run(photo_dir: Path, style_file: Path, session_backbone: Backbone,
                                       tmp_path: Path, first: int) -> None:
    # 12 photos, 2 held out, batches of 2: 5 steps per epoch, so step 3 stops in the middle of one.
    # A warmup of 6 steps: the resumed part goes on with the step sizes that the unbroken run had.
    whole = tmp_path / "whole.safetensors"
    _train(photo_dir, style_file, session_backbone, whole, steps=8, checkpoint_every=3, warmup_steps=6)
    halves = tmp_path / "halves.safetensors"
    _train(photo_dir, style_file, session_backbone, halves, steps=first, checkpoint_every=3, warmup_steps=6)
    seen = _train(photo_dir, style_file, session_backbone, halves, steps=8, checkpoint_every=3, resume=True,
                  warmup_steps=6)
    assert [p.step for p in seen] == list(range(first + 1, 9))  # from the checkpoint at the end of the first part
    a, b = load_file(whole), load_file(halves)
    assert a.keys() == b.keys() and all(torch.allclose(a[k], b[k], atol=1e-5) for k in a)
    history = torch.load(tmp_path / "halves-train" / "checkpoint.pt", weights_only=True)["history"]
    assert len(history) == 8


@pytest.mark.parametrize("setting,old,new", [("warmup_steps", 0, 100), ("encoder", "own", "backbone"),
                                             ("base_blur", 1, 4), ("style_octaves", (1.0,), (1.0, 1.0)),
                                             ("style_margin", 0.0, 0.1)])
def test_a_run_begun_before_a_setting_existed_resumes_with_what_it_had(photo_dir: Path, style_file: Path,
                                                                       session_backbone: Backbone, tmp_path: Path,
                                                                       setting: str, old: object, new: object) -> None:
    out, palette = tmp_path / "m.safetensors", {"residual": "palette"} if setting == "base_blur" else {}
    _train(photo_dir, style_file, session_backbone, out, steps=2, **palette, **{setting: old})
    checkpoint = tmp_path / "m-train" / "checkpoint.pt"
    state = torch.load(checkpoint, weights_only=True)
    del state["settings"][setting]  # as such a run's checkpoint was written
    torch.save(state, checkpoint)
    was = TrainConfig(**{setting: old}).to_dict()[setting]  # as the checkpoint holds it
    with pytest.raises(BrushworkError, match=rf"^{re.escape(f'{setting} {new}')}: the run resumed from .* was started "
                       rf"with {re.escape(str(was))}$"):
        _train(photo_dir, style_file, session_backbone, out, steps=4, resume=True, **palette, **{setting: new})
    assert _train(photo_dir, style_file, session_backbone, out, steps=4, resume=True, **palette,
                  **{setting: old})[-1].step == 4


def test_a_backbone_encoder_stays_the_backbones_while_the_rest_learns(photo_dir: Path, style_file: Path,
                                                                      session_backbone: Backbone, tmp_path: Path) -> None:
    path = tmp_path / "m.safetensors"
    _train(photo_dir, style_file, session_backbone, path, steps=2, encoder="backbone")
    trained = load_style_network(path).net
    start = seeded_network(4, 1, 0, 1, "scale", "palette", session_backbone)
    encoder = trained.layers[0].trunk.state_dict()
    assert all(torch.equal(v, session_backbone.trunk.layers.state_dict()[k]) for k, v in encoder.items())
    assert not torch.equal(trained.layers[1][1].weight, start.layers[1][1].weight), "the conv after it learns"


def test_cancelling_keeps_a_checkpoint_to_resume_from(photo_dir: Path, style_file: Path, session_backbone: Backbone,
                                                      tmp_path: Path) -> None:
    token = CancelToken()
    seen: list[ProgressEvent] = []

    def cancel_at_step_3(event: ProgressEvent) -> None:
        seen.append(event)
        if event.step == 3:
            token.cancel()  # as another thread or Ctrl-C would

    out = tmp_path / "m.safetensors"
    with pytest.raises(Cancelled) as info:
        train_style_network(style_file, photo_dir, out, backbone=session_backbone, callbacks=[cancel_at_step_3],
                            cancel=token, **{**TINY, "steps": 1000, "checkpoint_every": 500})
    assert info.value.step == 3 and [e.step for e in seen] == [1, 2, 3], "stopped within one step"
    assert info.value.checkpoint == tmp_path / "m-train" / "checkpoint.pt"
    assert torch.load(info.value.checkpoint, weights_only=True)["step"] == 3 and not out.exists()
    resumed = _train(photo_dir, style_file, session_backbone, out, steps=6, resume=True)
    whole = tmp_path / "whole.safetensors"
    _train(photo_dir, style_file, session_backbone, whole, steps=6)
    assert [e.step for e in resumed] == [4, 5, 6]
    a, b = load_file(whole), load_file(out)
    assert all(torch.allclose(a[k], b[k], atol=1e-5) for k in a)


def test_training_leaves_the_global_random_state_alone(photo_dir: Path, style_file: Path,
                                                       session_backbone: Backbone, tmp_path: Path) -> None:
    before = torch.random.get_rng_state()
    torch.manual_seed(123)  # whatever the caller's program did with it ...
    _train(photo_dir, style_file, session_backbone, tmp_path / "a.safetensors", steps=2)
    torch.manual_seed(456)
    _train(photo_dir, style_file, session_backbone, tmp_path / "b.safetensors", steps=2)
    a, b = load_file(tmp_path / "a.safetensors"), load_file(tmp_path / "b.safetensors")
    assert all(torch.equal(a[k], b[k]) for k in a), "... the run does not depend on it"
    torch.manual_seed(789)
    state = torch.random.get_rng_state()
    _train(photo_dir, style_file, session_backbone, tmp_path / "c.safetensors", steps=2)
    assert torch.equal(torch.random.get_rng_state(), state), "and does not move it"
    torch.random.set_rng_state(before)


def test_progress_events_are_json(photo_dir: Path, style_file: Path, session_backbone: Backbone,
                                  tmp_path: Path) -> None:
    seen = _train(photo_dir, style_file, session_backbone, tmp_path / "m.safetensors", steps=2, checkpoint_every=2)
    data = json.loads(json.dumps(seen[-1].to_dict(), allow_nan=False))
    assert data["task"] == "train" and data["stage"] == "epoch 1" and (data["step"], data["total"]) == (2, 2)
    assert set(data["losses"]) == {"content", "style", "tv", "total"} and data["eta"] == 0.0
    assert data["checkpoint"].endswith("checkpoint.pt") and data["preview"] is True
    preview = seen[-1].preview()
    assert preview.shape[:2] == (1, 3) and max(preview.shape[-2:]) == 32, "the first validation photo, stylised"


def test_the_run_writes_checkpoint_previews_and_curves(photo_dir: Path, style_file: Path,
                                                       session_backbone: Backbone, tmp_path: Path) -> None:
    notes: list[str] = []
    train_style_network(style_file, photo_dir, tmp_path / "m.safetensors", steps=4, checkpoint_every=2,
                        backbone=session_backbone, log=notes.append, **TINY)
    work = tmp_path / "m-train"
    assert sorted(p.name for p in (work / "previews").iterdir()) == ["step-000002.png", "step-000004.png"]
    grid = Image.open(work / "previews" / "step-000004.png")
    # the photos along the top, the style's row: the style, then two validation photos' stylisations
    assert grid.size == (3 * 32, 2 * (32 + CAPTION))
    assert Image.open(work / "losses.png").size == (800, 480)
    assert "12 photos in" in notes[0] and "1 unreadable, 1 under 16 px skipped" in notes[0]
    assert not [p for p in tmp_path.rglob(".*")], "no temporary files left behind"


def test_epochs_time_limit_and_resume_errors(photo_dir: Path, style_file: Path, session_backbone: Backbone,
                                             tmp_path: Path) -> None:
    out = tmp_path / "m.safetensors"
    # 12 photos, 2 held out for validation, batches of 2: 5 steps per epoch
    assert _train(photo_dir, style_file, session_backbone, out, epochs=2)[-1].step == 10
    with pytest.raises(BrushworkError, match="^resume: a run is there already"):
        _train(photo_dir, style_file, session_backbone, out, steps=2)
    with pytest.raises(BrushworkError, match="^style_weight 1.0: the run resumed from .* was started with 30.0"):
        _train(photo_dir, style_file, session_backbone, out, epochs=3, resume=True, style_weight=1.0)
    with pytest.raises(BrushworkError, match="^resume: no checkpoint at"):
        _train(photo_dir, style_file, session_backbone, tmp_path / "other.safetensors", resume=True)
    quick = _train(photo_dir, style_file, session_backbone, tmp_path / "quick.safetensors", steps=1000,
                   time_limit=1e-4)
    assert quick[-1].step < 1000 and quick[-1].checkpoint and (tmp_path / "quick.safetensors").is_file()


@pytest.mark.parametrize("options,says", [
    ({"batch_size": 11}, "^batch_size 11: more than the 10 training photos"),
    ({"content_layers": ("relu9_9",)}, "^content_layers: unknown layer 'relu9_9'"),
    ({"crop_size": 30}, "^crop_size 30: must be a multiple of 4"),
    ({"style_margin": 0.3}, "^style_margin 0.3: must be 0 to 0.25"),
])
def test_bad_settings_are_one_line_errors(photo_dir: Path, style_file: Path, session_backbone: Backbone,
                                          tmp_path: Path, options: dict[str, object], says: str) -> None:
    with pytest.raises(BrushworkError, match=says):
        _train(photo_dir, style_file, session_backbone, tmp_path / "m.safetensors", steps=1, **options)
    assert not list(tmp_path.iterdir())


def test_every_setting_has_help_and_a_valid_default() -> None:
    config = TrainConfig()
    assert all(f.metadata["help"] for f in dataclasses.fields(config))
    assert config.content_layers == ("relu2_2",) and config.batch_size == 4 and config.crop_size == 256
