"""The command line as a new user meets it: one-line errors, nothing left behind, outputs that reopen."""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from brushwork.cli import build_parser, main
from brushwork.cli.runner import run_command
from brushwork.config import QUALITY_PRESETS
from brushwork.progress import CancelToken
from brushwork.recording import settings_from


@pytest.fixture
def photos(tmp_path: Path) -> tuple[Path, Path]:
    rng = np.random.default_rng(0)
    content, style = tmp_path / "content.jpg", tmp_path / "style.png"
    Image.fromarray(rng.integers(0, 255, (60, 80, 3), dtype=np.uint8)).save(content)
    Image.fromarray(rng.integers(0, 255, (50, 50, 3), dtype=np.uint8)).save(style)
    return content, style


def _run(capsys: pytest.CaptureFixture, *argv: str) -> tuple[int, str]:
    code = main(list(argv))
    return code, capsys.readouterr().err


def test_stylize_writes_an_image_with_metadata_snapshots_and_gif(
        photos: tuple[Path, Path], tiny_checkpoint: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    content, style = photos
    out = tmp_path / "out.png"
    code, err = _run(capsys, "stylize", str(content), str(style), "-o", str(out), "--weights",
                     str(tiny_checkpoint), "--size", "40", "--iterations", "4", "--snapshot-every", "2",
                     "--gif", str(tmp_path / "anim.gif"))
    assert code == 0, err
    with Image.open(out) as image:
        assert image.size == (40, 30) and image.mode == "RGB"
    settings, inputs = settings_from(out)
    assert (settings.size, settings.iterations, settings.weights) == (40, 4, str(tiny_checkpoint))
    assert inputs == {"content": str(content), "styles": [str(style)]}
    assert sorted(p.name for p in tmp_path.glob("out_iter*.png")) == ["out_iter00002.png", "out_iter00004.png"]
    with Image.open(tmp_path / "anim.gif") as gif:
        assert gif.n_frames >= 4 and gif.size == (40, 30)
    assert "stylize" in err and "style=" in err, "the progress bar shows each loss term"


def test_output_format_follows_the_extension(photos, tiny_checkpoint, tmp_path, capsys) -> None:
    out = tmp_path / "out.jpg"
    code, _ = _run(capsys, "stylize", *map(str, photos), "-o", str(out), "--weights", str(tiny_checkpoint),
                   "--size", "32", "--iterations", "1", "-q")
    assert code == 0
    with Image.open(out) as image:
        assert image.format == "JPEG" and image.size == (32, 24)


def _bad_inputs(tmp: Path, content: Path, style: Path) -> dict[str, tuple[list[str], str]]:
    (tmp / "notes.txt").write_text("not a picture")
    (tmp / "cut.jpg").write_bytes(content.read_bytes()[:300])
    big = tmp / "big.png"
    Image.new("RGB", (200, 200)).save(big)
    Image.new("L", (50, 50), 255).save(tmp / "square.png")
    return {
        "missing": ([str(tmp / "nope.jpg"), str(style)], "nope.jpg: file not found"),
        "not an image": ([str(tmp / "notes.txt"), str(style)], "notes.txt: not an image"),
        "truncated": ([str(tmp / "cut.jpg"), str(style)], "cut.jpg: .*[Tt]runcated"),
        "too many pixels": ([str(content), str(big), "--max-pixels", "10000"], "big.png: .*over the limit"),
        "zero size": ([str(content), str(style), "--size", "0"], "--size 0: must be"),
        "absurd size": ([str(content), str(style), "--size", "99999"], "--size 99999: must be"),
        "not a number": ([str(content), str(style), "--size", "big"], "--size: invalid int value"),
        "unknown layer": ([str(content), str(style), "--style-layers", "relu1_1,relu9_1"],
                          "--style-layers: unknown layer 'relu9_1'"),
        "bad layer weights": ([str(content), str(style), "--style-layer-weights", "1,2"],
                              "--style-layer-weights"),
        "no style": ([str(content)], "needs at least one style image"),
        "blend mismatch": ([str(content), str(style), "--style", str(style), "--style-blend", "1,2,3"],
                           "--style-blend 1.0,2.0,3.0: needs one value per style image \\(2\\)"),
        "style scale": ([str(content), str(style), "--style-scale", "5"], "--style-scale 5.0: must be 0.25 to 4"),
        "mask shape": ([str(content), str(style), "--style-masks", str(tmp / "square.png")],
                       "square.png: mask is 50x50, its aspect ratio differs"),
        "missing init": ([str(content), str(style), "--init", str(tmp / "earlier.png")],
                         "--init .*earlier.png: is neither palette, content, noise nor style, nor an image file"),
    }


@pytest.mark.parametrize("case", ["missing", "not an image", "truncated", "too many pixels", "zero size",
                                  "absurd size", "not a number", "unknown layer", "bad layer weights",
                                  "no style", "blend mismatch", "style scale", "mask shape", "missing init"])
def test_bad_input_is_one_line_and_leaves_nothing(case, photos, tiny_checkpoint, tmp_path) -> None:
    argv, message = _bad_inputs(tmp_path, *photos)[case]
    out = tmp_path / "out" / "result.png"
    out.parent.mkdir()
    result = subprocess.run([sys.executable, "-m", "brushwork", "stylize", *argv, "-o", str(out),
                             "--weights", str(tiny_checkpoint), "--iterations", "2", "-q"],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    assert re.search(message, lines[0]), lines[0]
    assert list(out.parent.iterdir()) == []


@pytest.mark.parametrize("output, message", [
    ("missing-dir/out.png", "missing-dir"),
    ("out.bmp", "unsupported output format '.bmp'"),
])
def test_unwritable_output_fails_before_any_work(output, message, photos, tmp_path, capsys) -> None:
    code, err = _run(capsys, "stylize", *map(str, photos), "-o", str(tmp_path / output),
                     "--weights", "no-such-weights")
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1


def test_weights_list_shows_every_source(capsys, monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("BRUSHWORK_CACHE_DIR", str(tmp_path))
    assert main(["weights", "list"]) == 0
    out = capsys.readouterr().out
    for name in ("vgg19-caffe-q8", "vgg16-hed", "vgg19", "vgg16", "vgg19-caffe"):
        assert name in out
    assert "not cached" in out and str(tmp_path) in out


def test_weights_fetch_offline_explains_what_to_do(capsys, monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("BRUSHWORK_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr("brushwork.nets.weights._download",
                        lambda url, dest, progress: (_ for _ in ()).throw(OSError("network is unreachable")))
    code, err = _run(capsys, "weights", "fetch", "vgg19")
    assert code == 2
    assert "network is unreachable" in err and "vgg19-dcbb9e9d.pth" in err and str(tmp_path) in err


def test_two_styles_with_masks_blend_and_scales(photos, tiny_checkpoint, tmp_path, capsys) -> None:
    content, style = photos
    left = tmp_path / "left.png"
    Image.fromarray(np.repeat(np.where(np.arange(80) < 40, 255, 0).astype(np.uint8)[None], 60, axis=0)).save(left)
    right = tmp_path / "right.png"
    Image.fromarray(255 - np.asarray(Image.open(left))).save(right)
    out = tmp_path / "two.webp"
    code, err = _run(capsys, "stylize", str(content), str(style), "--style", str(content), "-o", str(out),
                     "--weights", str(tiny_checkpoint), "--size", "96", "--scale-iterations", "2,2",
                     "--style-blend", "3,7", "--style-masks", f"{left},{right}", "--style-scale", "0.5",
                     "--preserve-colors", "luminance", "--gif", str(tmp_path / "a.gif"))
    assert code == 0, err
    with Image.open(out) as image:
        assert image.size == (96, 72) and image.format == "WEBP"
    assert settings_from(out)[0].style_blend == (3.0, 7.0)
    with Image.open(tmp_path / "a.gif") as gif:
        assert gif.size == (96, 72), "frames of the coarse scale are scaled to the output size"


def test_quality_preset_fills_in_options_not_given(photos, tiny_checkpoint, tmp_path, capsys) -> None:
    out = tmp_path / "draft.png"
    code, err = _run(capsys, "stylize", *map(str, photos), "-o", str(out), "--weights", str(tiny_checkpoint),
                     "--quality", "draft", "--size", "48", "-q")
    assert code == 0, err
    settings, _ = settings_from(out)
    assert settings.size == 48, "an explicit option wins over the preset"
    assert settings.scale_iterations == QUALITY_PRESETS["draft"]["scale_iterations"]
    assert settings.tolerance == QUALITY_PRESETS["draft"]["tolerance"]


def test_settings_from_an_output_repeat_the_run(photos, tiny_checkpoint, tmp_path, capsys) -> None:
    content, style = photos
    first, again, bigger = tmp_path / "first.png", tmp_path / "again.png", tmp_path / "bigger.png"
    code, err = _run(capsys, "stylize", str(content), str(style), "-o", str(first), "--weights", str(tiny_checkpoint),
                     "--size", "40", "--iterations", "3", "--init", "noise", "--seed", "5", "-q")
    assert code == 0, err
    code, err = _run(capsys, "stylize", "--settings-from", str(first), str(content), "-o", str(again), "-q")
    assert code == 0, err
    assert np.array_equal(np.asarray(Image.open(first)), np.asarray(Image.open(again))), "the same image"
    assert settings_from(again) == settings_from(first)
    code, err = _run(capsys, "stylize", "--settings-from", str(first), str(content), "-o", str(bigger),
                     "--size", "48", "-q")
    assert code == 0, err
    assert Image.open(bigger).size == (48, 36) and settings_from(bigger)[0].seed == 5, "explicit options win"
    Image.open(content).save(tmp_path / "plain.png")
    code, err = _run(capsys, "stylize", "--settings-from", str(tmp_path / "plain.png"), str(content), "-o",
                     str(tmp_path / "x.png"))
    assert code == 2 and "plain.png: no brushwork settings embedded" in err


def test_setting_errors_name_the_flag_and_the_library_the_field(photos, tmp_path, capsys) -> None:
    code, err = _run(capsys, "stylize", *map(str, photos), "-o", str(tmp_path / "o.png"), "--style-weight", "-1")
    assert code == 2 and err.startswith("brushwork: error: --style-weight -1.0: must be zero or positive")
    code, err = _run(capsys, "train", str(photos[1]), "--data", str(tmp_path), "-o", str(tmp_path / "m.pt"))
    assert code == 2 and err.startswith("brushwork: error: -o ") and "unsupported output format '.pt'" in err


def _subcommands(parser):
    for action in parser._actions:
        if hasattr(action, "choices") and isinstance(action.choices, dict):
            for name, sub in action.choices.items():
                yield name, sub
                yield from _subcommands(sub)


def test_every_help_line_shows_its_default_once_and_every_command_has_o_and_q() -> None:
    for name, parser in _subcommands(build_parser()):
        for action in parser._actions:
            assert (action.help or "").count("(default:") <= 1, (name, action.dest, action.help)
        flags = {option for action in parser._actions for option in action.option_strings}
        if name not in ("weights", "list", "fetch", "serve"):  # they write nothing the user names
            assert {"-o", "-q"} <= flags, name
    stylize, apply = (dict(_subcommands(build_parser()))[n] for n in ("stylize", "apply"))
    choices = {n: next(a.choices for a in p._actions if a.dest == "preserve_colors") for n, p in
               (("stylize", stylize), ("apply", apply))}
    assert choices["stylize"] == choices["apply"] == ("none", "luminance", "histogram")


def test_ctrl_c_in_a_command_without_steps_ends_in_one_line(capsys) -> None:
    def export(args: argparse.Namespace, cancel: CancelToken) -> int:  # as `brushwork export` meets Ctrl-C
        raise KeyboardInterrupt

    assert run_command(export, argparse.Namespace(), cancellable=False) == 130
    assert capsys.readouterr().err == "brushwork: interrupted; nothing written\n"
