"""The HTTP API of ``brushwork serve`` on the tiny VGG: every endpoint, every error code, the token
rule, and the settings schema being the settings dataclass's."""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterator
from dataclasses import fields
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from feedforward_fixtures import photo_dir, session_backbone, style_file, tiny_model  # noqa: F401
from server_fixtures import client_for, image_bytes, job_files, parse_sse, tiny_weights, wait_for  # noqa: F401

from brushwork.cli import main
from brushwork.config import StyleConfig
from brushwork.errors import BrushworkError, SettingError
from brushwork.recording import settings_from
from brushwork.server.config import ServerConfig
from brushwork.server.forms import KINDS, settable
from brushwork.server.store import JobStore

pytestmark = pytest.mark.timeout(900)  # generous: a loaded machine starts worker processes slowly
FAST = {"size": "32", "iterations": "3"}


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("serve")


@pytest.fixture(scope="module")
def client(data_dir: Path, tiny_weights: Path, tiny_model: Path) -> Iterator[TestClient]:  # noqa: F811
    """One server with one worker for the module; the tiny model file in its model folder."""
    models = tiny_model.parent
    with client_for(data_dir, tiny_weights, models=str(models), max_queue=50, max_upload_mb=1.0,
                    max_pixels=200_000) as test_client:
        yield test_client


@pytest.fixture
def idle(tmp_path: Path, tiny_weights: Path) -> Iterator[TestClient]:  # noqa: F811
    """A server without workers: what is queued stays queued."""
    with client_for(tmp_path, tiny_weights, workers=False, max_queue=2) as test_client:
        yield test_client


def test_a_job_runs_and_every_endpoint_answers(client: TestClient, data_dir: Path, tmp_path: Path) -> None:
    answer = client.post("/v1/jobs", files=job_files(), data={**FAST, "style_weight": "100"})
    assert answer.status_code == 201, answer.text
    job = answer.json()
    assert answer.headers["location"] == job["urls"]["self"] == f"/v1/jobs/{job['id']}"
    assert job["settings"]["style_weight"] == 100 and job["settings"]["size"] == 32
    done = wait_for(client, job["id"])
    assert done["state"] == "done", done
    assert done["progress"]["step"] == done["progress"]["total"] == 3
    assert done["started"] <= done["finished"] and done["urls"]["result"]
    result = client.get(done["urls"]["result"])
    assert result.headers["content-type"] == "image/png"
    assert f"brushwork-{job['id']}.png" in result.headers["content-disposition"]
    (tmp_path / "out.png").write_bytes(result.content)
    settings, inputs = settings_from(tmp_path / "out.png")
    assert (settings.size, settings.style_weight, inputs["content"]) == (32, 100.0, "photo.png")
    assert client.get(done["urls"]["preview"]).headers["content-type"] == "image/jpeg"
    assert client.get(done["urls"]["content"]).content == job_files()[0][1][1]
    assert job["id"] in [j["id"] for j in client.get("/v1/jobs").json()["jobs"]]
    assert [j["state"] for j in client.get("/v1/jobs", params={"state": "done", "limit": 1}).json()["jobs"]] == ["done"]
    with client.stream("GET", done["urls"]["events"]) as stream:
        events = parse_sse(stream.iter_lines())
    steps = [data["step"] for name, data in events if name == "progress" and "state" not in data]
    assert steps == [1, 2, 3], "every iteration's losses are sent"
    assert all("style" in data["losses"] for name, data in events if name == "progress" and data.get("losses"))
    assert any(name == "preview" for name, _ in events)
    assert events[-1][0] == "state" and events[-1][1]["state"] == "done"
    assert client.delete(f"/v1/jobs/{job['id']}").status_code == 204
    assert client.get(f"/v1/jobs/{job['id']}").status_code == 404
    assert not (data_dir / "jobs" / job["id"]).exists()


def test_cancel_stops_a_running_job(client: TestClient) -> None:
    job = client.post("/v1/jobs", files=job_files(), data={"size": "32", "iterations": "5000"}).json()
    wait_for(client, job["id"], ("running",), step=2)
    answer = client.delete(f"/v1/jobs/{job['id']}")
    assert answer.status_code == 202 and answer.json()["cancel_requested"]
    ended = wait_for(client, job["id"], timeout=120)
    assert ended["state"] == "cancelled" and ended["progress"]["step"] < 5000
    assert client.get(f"/v1/jobs/{job['id']}/result").status_code == 404
    assert client.get(f"/v1/jobs/{job['id']}/preview").status_code == 200  # the last iterate is kept


def test_apply_job_with_a_model_of_the_server(client: TestClient, tiny_model: Path) -> None:  # noqa: F811
    listed = client.get("/v1/models").json()
    assert tiny_model.name in listed["models"] and "swirls.jpg" in listed["examples"]
    answer = client.post("/v1/jobs", files=job_files()[:1], data={"kind": "apply", "model": tiny_model.name,
                                                                  "strength": "0.5"})
    assert answer.status_code == 201, answer.text
    done = wait_for(client, answer.json()["id"])
    assert done["state"] == "done" and done["settings"]["strength"] == 0.5
    bad = client.post("/v1/jobs", files=job_files()[:1], data={"kind": "apply", "model": "../../etc/passwd"})
    assert (bad.status_code, bad.json()["field"]) == (422, "model")


def test_a_bundled_example_style_takes_the_place_of_an_upload(idle: TestClient) -> None:
    answer = idle.post("/v1/jobs", files=job_files()[:1], data={"style_example": "swirls.jpg"})
    assert answer.status_code == 201, answer.text
    assert answer.json()["inputs"]["styles"] == ["swirls.jpg"]
    bad = idle.post("/v1/jobs", files=job_files()[:1], data={"style_example": "../config.py"})
    assert (bad.status_code, bad.json()["field"]) == (422, "style_example")


@pytest.mark.parametrize(("form", "field"), [
    ({"size": "10"}, "size"), ({"size": "big"}, "size"), ({"size": "4096"}, "size"),
    ({"optimizer": "sgd"}, "optimizer"), ({"style_weight": "-1"}, "style_weight"),
    ({"content_layers": "relu9_9,"}, "content_layers"), ({"style_blend": "1,2"}, "style_blend"),
    ({"weights": "/etc/passwd"}, "weights"), ({"device": "cuda"}, "device"), ({"init": "/etc/passwd"}, "init"),
    ({"colour": "red"}, "colour"), ({"kind": "video"}, "kind"), ({"quality": "ultra"}, "quality"),
])
def test_a_bad_setting_is_422_naming_its_field(idle: TestClient, form: dict[str, str], field: str) -> None:
    answer = idle.post("/v1/jobs", files=job_files(), data=form)
    assert answer.status_code == 422, answer.text
    assert answer.json()["field"] == field and answer.json()["detail"].startswith(field)


def _png_header_only(width: int, height: int) -> bytes:
    """A PNG whose header claims ``width`` x ``height`` pixels but holds almost no data."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(b"\0" * 16)) + chunk(b"IEND", b""))


@pytest.mark.parametrize(("files", "field", "words"), [
    ([("content", ("a.png", b"hello"))], "content", "not an image"),
    ([("content", ("a.png", image_bytes()[:200]))], "content", "damaged image"),
    ([("content", ("bomb.png", _png_header_only(60000, 60000)))], "content", "pixels is over the limit"),
    ([("content", ("a.png", image_bytes(width=600, height=400)))], "content", "pixels is over the limit"),
    ([("content", ("a.png", image_bytes())), ("style", ("b.gif", b"GIF89a"))], "style", "image"),
    ([("content", ("a.png", image_bytes()))], "style", "needs at least one style image"),
    ([], "content", "exactly one photo"),
])
def test_a_bad_upload_is_422_naming_its_field(client: TestClient, files: list, field: str, words: str) -> None:
    answer = client.post("/v1/jobs", files=files, data={"size": "32"})
    assert answer.status_code == 422, answer.text
    assert answer.json()["field"] == field and words in answer.json()["detail"]


def test_an_oversized_upload_is_413(client: TestClient) -> None:
    big = image_bytes(width=700, height=700)  # ~1.5 MB of noise, over the 1 MB limit
    assert client.post("/v1/jobs", files=job_files(content=big)).status_code == 413

    def chunks() -> Iterator[bytes]:  # no Content-Length: counted as it streams
        for _ in range(30):
            yield b"x" * 65536
    streamed = client.post("/v1/jobs", content=chunks(), headers={"content-type": "multipart/form-data; boundary=b"})
    assert streamed.status_code == 413


def test_a_full_queue_is_429_with_retry_after(idle: TestClient) -> None:
    for _ in range(2):
        assert idle.post("/v1/jobs", files=job_files(), data=FAST).status_code == 201
    full = idle.post("/v1/jobs", files=job_files(), data=FAST)
    assert full.status_code == 429 and int(full.headers["retry-after"]) >= 1


def test_delete_cancels_a_queued_job_then_deletes_it(idle: TestClient) -> None:
    job = idle.post("/v1/jobs", files=job_files(), data=FAST).json()
    answer = idle.delete(f"/v1/jobs/{job['id']}")
    assert answer.status_code == 202 and answer.json()["state"] == "cancelled"
    assert idle.delete(f"/v1/jobs/{job['id']}").status_code == 204
    assert idle.delete(f"/v1/jobs/{job['id']}").status_code == 404


def test_job_ids_are_random_and_client_names_never_paths(idle: TestClient, tmp_path: Path) -> None:
    files = [("content", ("../../evil.png", image_bytes())), ("style", ("/etc/cron.d/x.png", image_bytes(seed=3)))]
    ids = [idle.post("/v1/jobs", files=files, data=FAST).json()["id"] for _ in range(2)]
    assert ids[0] != ids[1] and all(len(i) == 22 for i in ids)
    assert sorted(p.name for p in (tmp_path / "jobs" / ids[0]).iterdir()) == ["content.png", "style-0.png"]
    assert idle.get(f"/v1/jobs/{ids[0]}").json()["inputs"] == {"content": "evil.png", "styles": ["x.png"]}
    assert not (tmp_path.parent / "evil.png").exists()
    for bad in ("..%2F..%2Fetc", "x" * 22, ids[0][:-1]):
        assert idle.get(f"/v1/jobs/{bad}").status_code == 404


def test_the_token_guards_the_api(tmp_path: Path, tiny_weights: Path) -> None:  # noqa: F811
    with client_for(tmp_path, tiny_weights, workers=False, token="s3cret-token") as guarded:
        assert guarded.get("/v1/health").status_code == 401
        assert guarded.get("/v1/health", headers={"Authorization": "Bearer wrong-token"}).status_code == 401
        assert guarded.get("/v1/health", headers={"Authorization": "Bearer s3cret-token"}).status_code == 200
        assert guarded.get("/").status_code == 200  # the page itself holds nothing; it asks for the token


def test_one_server_per_data_folder(idle: TestClient, tmp_path: Path, tiny_weights: Path) -> None:  # noqa: F811
    with pytest.raises(BrushworkError, match="another brushwork server"):
        with client_for(tmp_path, tiny_weights, workers=False):
            pass


def test_binding_beyond_loopback_needs_a_token(capsys: pytest.CaptureFixture[str],
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(SettingError) as refused:
        ServerConfig(host="0.0.0.0")
    assert refused.value.field == "token"
    assert ServerConfig(host="0.0.0.0", token="long-enough").token == "long-enough"
    assert ServerConfig(host="::1").token is None
    monkeypatch.delenv("BRUSHWORK_TOKEN", raising=False)
    assert main(["serve", "--host", "0.0.0.0", "--port", "1"]) == 2
    assert "--token" in capsys.readouterr().err


def test_the_settings_schema_is_the_dataclass(idle: TestClient) -> None:
    schema = idle.get("/openapi.json").json()
    body = schema["paths"]["/v1/jobs"]["post"]["requestBody"]["content"]["multipart/form-data"]["schema"]
    stylize_fields = {f.name: f for f in settable("stylize")}
    assert set(stylize_fields) <= set(body["properties"])
    assert not {"weights", "device", "max_pixels"} & set(body["properties"])
    for name, f in stylize_fields.items():
        if f.default is not None and not isinstance(f.default, tuple):
            assert body["properties"][name]["default"] == f.default, name
        assert f.metadata["help"] in body["properties"][name]["description"]
    assert set(stylize_fields) == {f.name for f in fields(StyleConfig)} - KINDS["stylize"][1]
    assert idle.get("/v1/models").json()["settings"]["size"]["default"] == StyleConfig.size


def test_health_and_docs(client: TestClient) -> None:
    health = client.get("/v1/health").json()
    assert health["status"] == "ok" and health["workers"] == 1 and set(health["jobs"]) >= {"queued", "done"}
    assert client.get("/docs").status_code == 200
    page = client.get("/")
    assert page.status_code == 200 and "<html" in page.text


def test_prune_deletes_old_and_excess_finished_jobs(idle: TestClient, tmp_path: Path) -> None:
    store = JobStore(tmp_path)
    ids = [idle.post("/v1/jobs", files=job_files(), data=FAST).json()["id"] for _ in range(2)]
    idle.delete(f"/v1/jobs/{ids[0]}")  # cancelled: finished
    assert store.prune(keep_days=30, keep_bytes=1e12) == []
    assert store.prune(keep_days=30, keep_bytes=0) == [ids[0]]  # the queued one stays
    assert [job.id for job in store.list()] == [ids[1]] and not (tmp_path / "jobs" / ids[0]).exists()
