"""Audio jobs through the HTTP API (``kind=audio``) on tiny generated sounds: the job runs with every
iteration's progress, its WAV downloads, a cancel stops it, bad uploads and settings get 422 naming
their field, and a server without the [audio] extra says so on the ``kind`` field."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from audio_signals import RATE, bursts, melody
from fastapi.testclient import TestClient
from server_fixtures import client_for, image_bytes, parse_sse, tiny_weights, wait_for  # noqa: F401

from brushwork.audio.config import AudioConfig
from brushwork.server import forms

soundfile = pytest.importorskip("soundfile")
pytestmark = pytest.mark.timeout(600)  # generous: a loaded machine starts worker processes slowly
#: Settings of a job of a second or less: 129 bins, 64 filters.
FAST = {"kind": "audio", "sample_rate": str(RATE), "n_fft": "256", "hop_length": "64", "filters": "64",
        "iterations": "8", "griffin_lim_iterations": "10"}


def wav(*channels: np.ndarray, rate: int = RATE) -> bytes:
    """``channels`` ([S] each) as a 16-bit WAV file."""
    buffer = io.BytesIO()
    soundfile.write(buffer, np.stack(channels).T, rate, format="WAV", subtype="PCM_16")
    return buffer.getvalue()


def sounds(content: bytes | None = None, style: bytes | None = None) -> list[tuple[str, tuple[str, bytes]]]:
    return [("content", ("tune.wav", content or wav(melody(1.0)))), ("style", ("rain.wav", style or wav(bursts(1.0))))]


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory, tiny_weights: Path) -> Iterator[TestClient]:  # noqa: F811
    with client_for(tmp_path_factory.mktemp("audio"), tiny_weights, max_audio_seconds=3.0) as test_client:
        yield test_client


def test_an_audio_job_runs_and_its_wav_downloads(client: TestClient) -> None:
    models = client.get("/v1/models").json()
    assert "audio" in models["kinds"]
    assert models["settings_by_kind"]["audio"]["n_fft"]["default"] == AudioConfig.n_fft
    assert models["settings_by_kind"]["audio"]["init"]["enum"] == ["content", "noise"]
    assert "duration" not in models["settings_by_kind"]["audio"], "a texture's setting, not a transfer's"
    stereo = wav(melody(1.0), 0.5 * melody(1.0))
    answer = client.post("/v1/jobs", files=sounds(content=stereo), data=FAST)
    assert answer.status_code == 201, answer.text
    job = answer.json()
    assert job["kind"] == "audio" and job["settings"]["n_fft"] == 256
    assert job["inputs"] == {"content": "tune.wav", "styles": ["rain.wav"]}
    done = wait_for(client, job["id"])
    assert done["state"] == "done", done
    assert done["progress"]["step"] == done["progress"]["total"] == 8
    result = client.get(done["urls"]["result"])
    assert result.headers["content-type"] == "audio/wav"
    assert f"brushwork-{job['id']}.wav" in result.headers["content-disposition"]
    samples, rate = soundfile.read(io.BytesIO(result.content), always_2d=True)
    assert rate == RATE and samples.shape == (RATE, 2), "the content's rate, length and channels"
    assert 0.01 < np.sqrt(np.mean(samples ** 2)) < 1.0, "a sound, not silence"
    with client.stream("GET", done["urls"]["events"]) as stream:
        events = parse_sse(stream.iter_lines())
    progress = [data for name, data in events if name == "progress" and "state" not in data]
    assert [p["step"] for p in progress] == list(range(1, 9)), "every iteration's losses are sent"
    assert all(p["task"] == "audio" and p["stage"] == "chunk 1/1" and "style" in p["losses"] for p in progress)
    assert any(name == "preview" for name, _ in events)
    preview = client.get(done["urls"]["preview"])  # the spectrogram being optimised, as a picture
    assert preview.headers["content-type"] == "image/jpeg" and preview.content.startswith(b"\xff\xd8")
    assert client.get(done["urls"]["content"]).content == stereo


def test_cancel_stops_a_running_audio_job(client: TestClient) -> None:
    job = client.post("/v1/jobs", files=sounds(), data={**FAST, "iterations": "100000"}).json()
    assert "id" in job, job
    wait_for(client, job["id"], ("running",), step=2)
    assert client.delete(f"/v1/jobs/{job['id']}").status_code == 202
    ended = wait_for(client, job["id"], timeout=120)
    assert ended["state"] == "cancelled" and ended["progress"]["step"] < 100000
    assert client.get(f"/v1/jobs/{job['id']}/result").status_code == 404


@pytest.fixture
def idle(tmp_path: Path, tiny_weights: Path) -> Iterator[TestClient]:  # noqa: F811
    with client_for(tmp_path, tiny_weights, workers=False, max_audio_seconds=3.0) as test_client:
        yield test_client


@pytest.mark.parametrize(("files", "form", "field", "words"), [
    (sounds(content=image_bytes()), {}, "content", "not a sound file"),
    (sounds(content=b"RIFF0000WAVEjunk"), {}, "content", "not a sound file"),
    (sounds(content=wav(np.zeros(RATE, np.float32))), {}, "content", "silent"),
    (sounds(content=wav(melody(4.0))), {}, "content", "over the limit of 3 s"),
    (sounds()[:1], {}, "style", "exactly one style sound"),
    (sounds() + sounds()[1:], {}, "style", "exactly one style sound"),
    (sounds(), {"n_fft": "8"}, "n_fft", "must be 16 to 16384"),
    (sounds(), {"hop_length": "x"}, "hop_length", "must be"),
    (sounds(), {"size": "64"}, "size", "not a setting of audio jobs"),
    (sounds(), {"device": "cuda"}, "device", "decided by the server"),
])
def test_a_bad_audio_job_is_422_naming_its_field(idle: TestClient, files: list, form: dict[str, str], field: str,
                                                 words: str) -> None:
    answer = idle.post("/v1/jobs", files=files, data={**FAST, **form})
    assert answer.status_code == 422, answer.text
    assert answer.json()["field"] == field and words in answer.json()["detail"], answer.json()


def test_without_the_audio_extra_the_kind_is_refused(idle: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(forms.NEEDS, "audio", (("brushwork_no_such_package",), "audio"))
    forms.missing.cache_clear()
    try:
        answer = idle.post("/v1/jobs", files=sounds(), data=FAST)
        assert answer.status_code == 422 and answer.json()["field"] == "kind"
        assert "[audio] extra" in answer.json()["detail"] and "brushwork_no_such_package" in answer.json()["detail"]
        assert "audio" not in idle.get("/v1/models").json()["kinds"]
    finally:
        forms.missing.cache_clear()
