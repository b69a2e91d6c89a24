"""Helpers of the server tests: small images as bytes, the tiny backbone as a weights file for the
workers (separate processes, so it goes by file), an app in a TestClient, waiting for a job, and
a real ``brushwork serve`` process on a free loopback port.

Import the fixtures into a test module (``from server_fixtures import ...``) for pytest to find them.
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
import torch
from conftest import tiny_trunk
from fastapi.testclient import TestClient
from PIL import Image

from brushwork.server.app import create_app
from brushwork.server.config import ServerConfig

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
import load  # noqa: E402  (bench/load.py: the one way to start a server process)

free_port = load.free_port


def image_bytes(width: int = 48, height: int = 40, seed: int = 0, fmt: str = "PNG") -> bytes:
    """A noisy colour image, encoded."""
    pixels = np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, fmt)
    return buffer.getvalue()


def job_files(content: bytes | None = None, style: bytes | None = None) -> list[tuple[str, tuple[str, bytes]]]:
    """The multipart files of a stylize job: a content photo and one style."""
    return [("content", ("photo.png", content or image_bytes(seed=1))),
            ("style", ("painting.png", style or image_bytes(seed=2)))]


@pytest.fixture(scope="session")
def tiny_weights(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny random VGG as a checkpoint file in this project's layer names."""
    path = tmp_path_factory.mktemp("weights") / "tiny.pth"
    torch.save({k.removeprefix("layers."): v for k, v in tiny_trunk().state_dict().items()}, path)
    return path


def client_for(data_dir: Path, weights: Path, workers: bool = True, **settings: Any) -> TestClient:
    """A TestClient of an app on ``data_dir`` with the tiny backbone (enter it to start the workers)."""
    config = ServerConfig(data_dir=str(data_dir), weights=str(weights), preview_seconds=0.2,
                          snapshot_seconds=0.3, **settings)
    return TestClient(create_app(config, workers=workers))


def wait_for(client: TestClient | httpx.Client, job_id: str, states: tuple[str, ...] = ("done", "failed", "cancelled"),
             timeout: float = 300.0, step: int = 0) -> dict[str, Any]:
    """Poll the job until its state is one of ``states`` (and its progress reached ``step``)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = client.get(f"/v1/jobs/{job_id}").json()
        if job["state"] in states and (job["progress"] or {}).get("step", 0) >= step:
            return job
        time.sleep(0.1)
    raise AssertionError(f"job {job_id} still {job['state']} after {timeout} s: {job}")


def parse_sse(lines: Iterator[str]) -> list[tuple[str, dict[str, Any]]]:
    """The (event name, data) pairs of a server-sent event stream's lines."""
    events, name = [], "message"
    for line in lines:
        if line.startswith("event:"):
            name = line.split(":", 1)[1].strip()
        elif line.startswith("data:"):
            events.append((name, json.loads(line.split(":", 1)[1])))
    return events


def start_server(data_dir: Path, weights: Path, port: int, *extra: str) -> subprocess.Popen[bytes]:
    """``brushwork serve`` on 127.0.0.1:``port`` (bench/load.py's), with previews and snapshots often."""
    return load.start_server(data_dir, weights, port, "--preview-seconds", "0.2", "--snapshot-seconds", "0.3",
                             *extra, log=data_dir.parent / f"server-{port}.log")


@pytest.fixture
def server_process() -> Iterator[list[subprocess.Popen[bytes]]]:
    """A list for a test to put its server processes in; each is killed at the end if still running."""
    processes: list[subprocess.Popen[bytes]] = []
    yield processes
    for process in processes:
        if process.poll() is None:
            process.kill()
            process.wait()
