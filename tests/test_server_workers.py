"""Which device each worker process of ``brushwork serve`` runs on: one worker per CUDA device by
default, each pinned to its own and passing it to its jobs; ``--workers N`` on the CPU. The device
counts are mocked (no GPU is needed): nothing here starts a process."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from server_fixtures import client_for, job_files, tiny_weights  # noqa: F401

from brushwork.errors import BrushworkError
from brushwork.server import app as app_module
from brushwork.server.app import create_app
from brushwork.server import worker as worker_module
from brushwork.server.config import ServerConfig
from brushwork.server.store import JobStore
from brushwork.server.worker import Worker, worker_devices


@pytest.mark.parametrize(("workers", "gpus", "devices"), [
    (None, 0, ["cpu"]),
    (3, 0, ["cpu", "cpu", "cpu"]),
    (None, 1, ["cuda:0"]),
    (None, 4, ["cuda:0", "cuda:1", "cuda:2", "cuda:3"]),
    (1, 4, ["cuda:0"]),
    (3, 2, ["cuda:0", "cuda:1", "cuda:0"]),  # more workers than GPUs share them in turn
])
def test_worker_devices(workers: int | None, gpus: int, devices: list[str]) -> None:
    assert worker_devices(workers, gpus) == devices


class FakeProcess:
    """What the app keeps of a worker process, without a process."""

    pid = 1

    def is_alive(self) -> bool:
        return True

    def terminate(self) -> None:
        pass

    def join(self, timeout: float | None = None) -> None:
        pass

    def kill(self) -> None:
        pass


@pytest.fixture
def started(monkeypatch: pytest.MonkeyPatch) -> list[tuple[int, str]]:
    """The (index, device) of each worker that the app starts, in place of starting it."""
    calls: list[tuple[int, str]] = []

    def start_worker(root: Path, server: ServerConfig, index: int, device: str) -> FakeProcess:
        calls.append((index, device))
        return FakeProcess()
    monkeypatch.setattr(worker_module, "start_worker", start_worker)
    return calls


@pytest.mark.parametrize(("gpus", "workers", "devices"), [
    (2, None, ["cuda:0", "cuda:1"]), (0, None, ["cpu"]), (0, 3, ["cpu"] * 3), (2, 1, ["cuda:0"])])
def test_the_server_starts_a_worker_per_device(tmp_path: Path, tiny_weights: Path,  # noqa: F811
                                               monkeypatch: pytest.MonkeyPatch, started: list[tuple[int, str]],
                                               gpus: int, workers: int | None, devices: list[str]) -> None:
    monkeypatch.setattr(app_module, "cuda_devices", lambda: gpus)
    config = ServerConfig(data_dir=str(tmp_path), weights=str(tiny_weights), workers=workers)
    with TestClient(create_app(config)) as client:
        assert started == list(enumerate(devices))
        health = client.get("/v1/health").json()
        assert (health["status"], health["workers"], health["devices"]) == ("ok", len(devices), devices)


@pytest.fixture
def idle(tmp_path: Path, tiny_weights: Path) -> Iterator[TestClient]:  # noqa: F811
    with client_for(tmp_path, tiny_weights, workers=False) as test_client:
        yield test_client


@pytest.mark.parametrize("kind", ["stylize", "apply"])
def test_a_worker_passes_its_device_to_each_job(idle: TestClient, tmp_path: Path, tiny_weights: Path,  # noqa: F811
                                                 monkeypatch: pytest.MonkeyPatch, kind: str) -> None:
    (tmp_path / "models").mkdir()
    seen: list[str] = []

    def run(*args: Any, **options: Any) -> None:
        config = next(a for a in (*args, *options.values()) if hasattr(a, "device"))
        seen.append(config.device)
        raise BrushworkError("stopped by the test")
    monkeypatch.setattr(worker_module, "stylize", run)
    monkeypatch.setattr(worker_module, "backbone_for", lambda config, device: None)
    monkeypatch.setattr(worker_module, "apply_style_network", run)
    form = {"kind": "apply", "model": "m.safetensors"} if kind == "apply" else {"size": "32"}
    monkeypatch.setattr(app_module, "_models", lambda config: ["m.safetensors"])
    job_id = idle.post("/v1/jobs", files=job_files(), data=form).json()["id"]
    store = JobStore(tmp_path)
    server = ServerConfig(data_dir=str(tmp_path), models=str(tmp_path / "models"), weights=str(tiny_weights))
    Worker(tmp_path, server, "cuda:1", threading.Event(), os.getppid()).run(store.claim("test"))
    assert seen == ["cuda:1"]
    assert store.get(job_id).error == "stopped by the test"
