"""Load test of ``brushwork serve``: many concurrent clients on loopback for a fixed time, polling,
submitting and fetching while a stylization runs, then a check that no job was lost.

    python bench/load.py [--clients 50] [--seconds 60] [--weights FILE]

A server is started in its own process on a free port with a fresh data folder (and, unless
--weights is given, a tiny random VGG so that the workers' jobs are short). One long stylization
keeps a worker busy the whole time. Each client loops: GET /v1/health, /v1/jobs, /v1/jobs/{id},
/v1/jobs/{id}/preview and /result, /v1/models, and now and then POST /v1/jobs (a 429 from the full
queue counts as an answer, not an error). Writes bench/results/load.json: p50/p99 latency in ms
per endpoint, the status codes, the 5xx count and the jobs lost (answered 201 but missing at the end).
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import os
import platform
import random
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path

import httpx
import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"


def _png(seed: int, width: int = 48, height: int = 40) -> bytes:
    pixels = np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, "PNG")
    return buffer.getvalue()


def tiny_weights(folder: Path) -> Path:
    """A random VGG-16 with narrow layers, as a checkpoint file (what the tests use)."""
    import torch  # noqa: PLC0415

    from brushwork.nets.vgg import VGGTrunk  # noqa: PLC0415
    torch.manual_seed(0)
    trunk = VGGTrunk("vgg16", "avg", (4, 8, 8, 16, 16))
    path = folder / "tiny.pth"
    torch.save({k.removeprefix("layers."): v for k, v in trunk.state_dict().items()}, path)
    return path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_server(data: Path, weights: Path, port: int, *extra: str, log: Path | None = None
                 ) -> subprocess.Popen[bytes]:
    """``brushwork serve`` on 127.0.0.1:``port`` in its own process (its stderr to ``log``, if given);
    returns once it answers. Starting takes a while on a loaded machine: PyTorch is imported twice."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), os.environ.get("PYTHONPATH", "")])}
    process = subprocess.Popen([sys.executable, "-m", "brushwork", "serve", "--host", "127.0.0.1", "--port",
                                str(port), "--data-dir", str(data), "--weights", str(weights), "-q", *extra],
                               env=env, stdout=subprocess.DEVNULL, stderr=None if log is None else log.open("wb"))
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and process.poll() is None:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/v1/health", timeout=2).status_code == 200:
                return process
        except httpx.HTTPError:
            time.sleep(0.3)
    process.kill()
    said = log.read_text() if log is not None else "see its output above"
    raise RuntimeError(f"the server did not start within 300 s: {said}")


class Recorder:
    """Latencies (s) and status codes by endpoint template, and the ids of the jobs accepted."""

    def __init__(self) -> None:
        self.latency: dict[str, list[float]] = defaultdict(list)
        self.status: dict[str, Counter[int]] = defaultdict(Counter)
        self.accepted: list[str] = []
        self.failures: Counter[str] = Counter()
        self.long_job_state = ""  # the long stylization's state when the clients stopped: "running"

    async def call(self, client: httpx.AsyncClient, name: str, method: str, url: str, **kwargs: object
                   ) -> httpx.Response | None:
        began = time.perf_counter()
        try:
            answer = await client.request(method, url, **kwargs)
        except httpx.HTTPError as error:
            self.failures[f"{name}: {type(error).__name__}"] += 1
            return None
        self.latency[name].append(time.perf_counter() - began)
        self.status[name][answer.status_code] += 1
        return answer


async def _client(base: str, recorder: Recorder, until: float, seed: int) -> None:
    rng = random.Random(seed)
    async with httpx.AsyncClient(base_url=base, timeout=30) as client:
        while time.monotonic() < until:
            roll = rng.random()
            ids = recorder.accepted
            if roll < 0.04:
                answer = await recorder.call(client, "POST /v1/jobs", "POST", "/v1/jobs", data={
                    "size": "32", "iterations": "2"}, files=[("content", ("c.png", _png(seed))),
                                                             ("style", ("s.png", _png(seed + 1)))])
                if answer is not None and answer.status_code == 201:
                    ids.append(answer.json()["id"])
            elif roll < 0.25:
                await recorder.call(client, "GET /v1/jobs", "GET", "/v1/jobs", params={"limit": 20})
            elif roll < 0.55 and ids:
                await recorder.call(client, "GET /v1/jobs/{id}", "GET", f"/v1/jobs/{rng.choice(ids)}")
            elif roll < 0.70 and ids:
                await recorder.call(client, "GET /v1/jobs/{id}/preview", "GET", f"/v1/jobs/{rng.choice(ids)}/preview")
            elif roll < 0.80 and ids:
                await recorder.call(client, "GET /v1/jobs/{id}/result", "GET", f"/v1/jobs/{rng.choice(ids)}/result")
            elif roll < 0.90:
                await recorder.call(client, "GET /v1/health", "GET", "/v1/health")
            else:
                await recorder.call(client, "GET /v1/models", "GET", "/v1/models")
            await asyncio.sleep(rng.uniform(0.0, 0.05))


async def _run(base: str, clients: int, seconds: float) -> Recorder:
    recorder = Recorder()
    async with httpx.AsyncClient(base_url=base, timeout=30) as client:
        # tolerance 0: it never stops early, so that it runs the whole time (it is cancelled at the end)
        long = await recorder.call(client, "POST /v1/jobs", "POST", "/v1/jobs", data={
            "size": "64", "iterations": "100000", "tolerance": "0"},
            files=[("content", ("c.png", _png(0))), ("style", ("s.png", _png(1)))])
        assert long is not None and long.status_code == 201, long and long.text
        recorder.accepted.append(long.json()["id"])
        until = time.monotonic() + seconds
        await asyncio.gather(*(_client(base, recorder, until, seed) for seed in range(clients)))
        recorder.long_job_state = (await client.get(f"/v1/jobs/{long.json()['id']}")).json()["state"]
        cancel = await client.delete(f"/v1/jobs/{long.json()['id']}")
        assert cancel.status_code == 202, f"cancelling the long job: {cancel.status_code} {cancel.text}"
    return recorder


def _percentile(values: list[float], q: float) -> float:
    return float(np.percentile(np.array(values) * 1000, q)) if values else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--weights", type=Path, default=None, help="backbone of the server (default: a tiny random VGG)")
    parser.add_argument("--output", type=Path, default=RESULTS / "load.json")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        weights = args.weights or tiny_weights(Path(scratch))
        port = free_port()
        # two workers: one keeps the long stylization running, the other paints the short jobs (results fetched)
        server = start_server(Path(scratch) / "data", weights, port, "--max-queue", "30", "--workers", "2")
        base = f"http://127.0.0.1:{port}"
        try:
            load_before = os.getloadavg()[0]
            began = time.monotonic()
            recorder = asyncio.run(_run(base, args.clients, args.seconds))
            wall = time.monotonic() - began
            listed = {job["id"] for job in httpx.get(f"{base}/v1/jobs", params={"limit": 1000}, timeout=30).json()["jobs"]}
        finally:
            server.terminate()
            server.wait(30)
    lost = [job_id for job_id in recorder.accepted if job_id not in listed]
    server_errors = sum(n for codes in recorder.status.values() for code, n in codes.items() if code >= 500)
    report = {
        "clients": args.clients, "seconds": round(wall, 1), "weights": "tiny random VGG" if args.weights is None
        else str(args.weights), "machine": f"{platform.machine()}, {os.cpu_count()} CPUs",
        "load_average_1min": {"before": round(load_before, 1), "after": round(os.getloadavg()[0], 1)},
        "requests": sum(len(v) for v in recorder.latency.values()),
        "server_errors_5xx": server_errors, "transport_failures": dict(recorder.failures),
        "jobs_accepted": len(recorder.accepted), "jobs_lost": len(lost),
        "long_job_state_at_end": recorder.long_job_state,
        "endpoints": {name: {"requests": len(values), "p50_ms": round(_percentile(values, 50), 1),
                             "p99_ms": round(_percentile(values, 99), 1),
                             "status": {str(k): v for k, v in sorted(recorder.status[name].items())}}
                      for name, values in sorted(recorder.latency.items())},
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))
    if server_errors or lost or recorder.failures or recorder.long_job_state != "running":
        raise SystemExit(1)


if __name__ == "__main__":
    main()
