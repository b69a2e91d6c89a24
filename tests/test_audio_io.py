"""Reading, resampling, loudness and writing of sound; the audio command line and its one-line errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile
from audio_signals import FAST, bursts, melody, sound

from brushwork.audio.config import AudioConfig
from brushwork.audio.io import PEAK, Sound, match_loudness, read_audio, resample, save_audio
from brushwork.cli import main
from brushwork.errors import BrushworkError, SettingError

FAST_FLAGS = [f"--{k.replace('_', '-')}={v}" for k, v in {**FAST, "iterations": 5}.items()]


@pytest.mark.parametrize("suffix, subtype", [(".wav", "PCM_16"), (".flac", "PCM_24"), (".ogg", "VORBIS")])
def test_reads_common_formats_mono_and_stereo(tmp_path: Path, suffix: str, subtype: str) -> None:
    stereo = np.stack([melody(0.5, 44100), bursts(0.5, 44100)], axis=1)
    path = tmp_path / f"x{suffix}"
    soundfile.write(path, stereo, 44100, subtype=subtype)
    got = read_audio(path)
    assert got.sample_rate == 44100 and got.channels == 2 and got.samples.dtype == np.float32
    assert abs(got.samples.shape[1] - 22050) <= 2048  # Vorbis may pad its last packet


def test_reads_mp3_where_libsndfile_can(tmp_path: Path) -> None:
    path = tmp_path / "x.mp3"
    try:
        soundfile.write(path, melody(0.5, 22050), 22050, format="MP3")
    except (soundfile.LibsndfileError, TypeError, ValueError):
        pytest.skip("this libsndfile has no MP3 support")
    got = read_audio(path)
    assert got.sample_rate == 22050 and got.channels == 1


@pytest.mark.parametrize("suffix", [".wav", ".flac"])
def test_write_and_read_back_keep_length_channels_and_rate(tmp_path: Path, suffix: str) -> None:
    original = sound(melody(0.3, 44100), bursts(0.3, 44100), rate=44100)
    save_audio(original, tmp_path / f"out{suffix}")
    again = read_audio(tmp_path / f"out{suffix}")
    assert again.samples.shape == original.samples.shape and again.sample_rate == 44100
    assert np.abs(again.samples - original.samples).max() < 1e-3  # 16-bit
    assert [p.name for p in tmp_path.iterdir()] == [f"out{suffix}"]  # no temporary file left


def test_resampling_round_trip_keeps_length_and_signal() -> None:
    original = sound(melody(1.0, 44100), rate=44100)
    there = resample(original, 22050)
    back = resample(there, 44100)
    assert there.samples.shape == (1, 22050) and back.samples.shape == original.samples.shape
    assert np.corrcoef(back.samples[0], original.samples[0])[0, 1] > 0.99


def test_loudness_is_matched_without_clipping() -> None:
    quiet, loud = 0.01 * melody(0.5), bursts(0.5)
    assert np.sqrt(np.mean(match_loudness(quiet, 0.5 * melody(0.5)) ** 2)) == pytest.approx(
        np.sqrt(np.mean((0.5 * melody(0.5)) ** 2)), rel=1e-4)
    spiky = np.zeros(4000, dtype=np.float32)
    spiky[100] = 0.01  # matching the loud bursts' RMS would put this spike far above full scale
    assert np.abs(match_loudness(spiky, loud)).max() == pytest.approx(PEAK)


def _cli(capsys: pytest.CaptureFixture, *argv: str) -> tuple[int, str]:
    code = main(list(argv))
    return code, capsys.readouterr().err


@pytest.fixture
def wavs(tmp_path: Path) -> tuple[Path, Path]:
    content, style = tmp_path / "content.wav", tmp_path / "style.flac"
    soundfile.write(content, np.stack([melody(1.0, 16000)] * 2, axis=1), 16000)
    soundfile.write(style, bursts(0.8), 8000)
    return content, style


def test_cli_audio_and_texture_write_sound(wavs: tuple[Path, Path], tmp_path: Path,
                                           capsys: pytest.CaptureFixture) -> None:
    content, style = wavs
    code, err = _cli(capsys, "audio", str(content), str(style), "-o", str(tmp_path / "out.wav"), *FAST_FLAGS)
    assert code == 0 and "wrote" in err
    out = read_audio(tmp_path / "out.wav")
    assert out.samples.shape == (2, 16000) and out.sample_rate == 16000
    code, err = _cli(capsys, "texture", str(style), "-o", str(tmp_path / "tex.flac"), "--duration", "0.5",
                     "-q", *FAST_FLAGS)
    assert code == 0 and err == ""
    tex = read_audio(tmp_path / "tex.flac")
    assert tex.samples.shape == (1, 4000) and tex.sample_rate == 8000


def _write_bad(tmp_path: Path, kind: str) -> Path:
    if kind == "missing":
        return tmp_path / "nothing.wav"
    if kind == "empty":
        (tmp_path / "empty.wav").write_bytes(b"")
        return tmp_path / "empty.wav"
    if kind == "not audio":
        (tmp_path / "notes.txt").write_text("la la la\n")
        return tmp_path / "notes.txt"
    if kind == "silent":
        soundfile.write(tmp_path / "silent.wav", np.zeros(8000, dtype=np.float32), 8000)
        return tmp_path / "silent.wav"
    if kind == "too short":
        soundfile.write(tmp_path / "short.wav", melody(0.01), 8000)  # 80 samples < n_fft 256
        return tmp_path / "short.wav"
    soundfile.write(tmp_path / "nosamples.wav", np.zeros((0, 1), dtype=np.float32), 8000)
    return tmp_path / "nosamples.wav"


@pytest.mark.parametrize("kind, message", [
    ("missing", "file not found"),
    ("empty", "empty file"),
    ("not audio", "unsupported or unreadable sound file"),
    ("silent", "silent"),
    ("too short", "too short"),
    ("no samples", "contains no samples"),
])
@pytest.mark.parametrize("role", ["content", "style"])
def test_cli_bad_input_is_one_line_and_writes_nothing(wavs: tuple[Path, Path], tmp_path: Path, kind: str,
                                                      message: str, role: str, capsys: pytest.CaptureFixture) -> None:
    content, style = wavs
    bad = _write_bad(tmp_path, kind)
    args = (bad, style) if role == "content" else (content, bad)
    before = set(tmp_path.iterdir())
    code, err = _cli(capsys, "audio", *map(str, args), "-o", str(tmp_path / "out.wav"), *FAST_FLAGS)
    assert code == 2
    assert err.count("\n") == 1 and err.startswith(f"brushwork: error: {bad}: ") and message in err
    assert set(tmp_path.iterdir()) == before


@pytest.mark.parametrize("output, message", [("out.mp3", "unsupported output format '.mp3' (use .wav or .flac)"),
                                             ("missing/out.wav", "does not exist")])
def test_cli_bad_output_fails_before_work(wavs: tuple[Path, Path], tmp_path: Path, output: str, message: str,
                                          capsys: pytest.CaptureFixture) -> None:
    code, err = _cli(capsys, "audio", *map(str, wavs), "-o", str(tmp_path / output), *FAST_FLAGS)
    assert code == 2 and message in err and err.count("\n") == 1


@pytest.mark.parametrize("options, message", [
    ({"n_fft": 8}, "n_fft 8: must be 16 to 16384"),
    ({"hop_length": 4096}, "hop_length 4096: must be 1 to n_fft (2048)"),
    ({"filter_width": 10}, "filter_width 10: must be odd"),
    ({"style_weight": -1.0}, "style_weight -1.0: must be zero or positive"),
    ({"chunk_seconds": 3.0}, "chunk_seconds 3.0: must be positive and at least twice chunk_overlap"),
    ({"init": "style"}, "init style: must be one of content, noise"),
    ({"duration": 0.0}, "duration 0.0"),
])
def test_audio_config_errors_name_the_field(options: dict, message: str) -> None:
    with pytest.raises(SettingError) as info:
        AudioConfig(**options)
    assert str(info.value).startswith(message) and info.value.field == next(iter(options))
    assert "\n" not in str(info.value)


def test_sound_objects_are_checked_too() -> None:
    from brushwork.audio.api import stylize_audio
    with pytest.raises(BrushworkError, match="^content: silent"):
        stylize_audio(Sound(np.zeros((1, 8000), np.float32), 8000), sound(bursts()), AudioConfig(**FAST))
