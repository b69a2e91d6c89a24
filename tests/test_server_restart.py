"""A server killed with SIGKILL while a job runs loses nothing: started again, it resumes that job
from its last snapshot, runs the queued ones, and keeps the whole history."""

from __future__ import annotations

import json
import signal
from pathlib import Path

import httpx
import pytest
from server_fixtures import client_for, free_port, job_files, server_process, start_server, tiny_weights, wait_for  # noqa: F401,E501

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]  # generous: a loaded machine starts servers slowly


def test_sigkill_while_running_then_restart_finishes_every_job(tmp_path: Path, tiny_weights: Path,  # noqa: F811
                                                               server_process: list) -> None:  # noqa: F811
    port = free_port()
    server_process.append(start_server(tmp_path, tiny_weights, port))
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:
        # The first job is long enough (no early stopping) to be caught running on a quiet machine too.
        sizes = [("40", "1500"), ("32", "3"), ("32", "3")]
        ids = [client.post("/v1/jobs", files=job_files(),
                           data={"size": s, "iterations": n, "tolerance": "0"}).json()["id"] for s, n in sizes]
        running = wait_for(client, ids[0], ("running",), step=8)
        deadline_step = running["progress"]["step"]
        while client.get(f"/v1/jobs/{ids[0]}").json()["snapshot_step"] == 0:
            pass
        server_process[0].send_signal(signal.SIGKILL)
        server_process[0].wait()
    assert deadline_step < 1500, "the first job must still be running when the server is killed"

    port = free_port()
    server_process.append(start_server(tmp_path, tiny_weights, port))
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:
        finished = [wait_for(client, job_id) for job_id in ids]
        assert [job["state"] for job in finished] == ["done"] * 3, finished
        assert {job["id"] for job in client.get("/v1/jobs").json()["jobs"]} == set(ids)
        for job in finished:
            result = client.get(job["urls"]["result"])
            assert result.status_code == 200 and result.content.startswith(b"\x89PNG")
    events = [json.loads(line) for line in (tmp_path / "jobs" / ids[0] / "events.jsonl").read_text().splitlines()]
    resumed = [e["resumed_from"] for e in events if "resumed_from" in e]
    assert len(resumed) == 1 and resumed[0] > 0, "the killed job resumed from its snapshot, not from the start"
    after = [e["step"] for e in events[events.index(next(e for e in events if "resumed_from" in e)) + 1:]]
    assert after[0] == resumed[0] + 1 and after[-1] == 1500, "steps go on from the snapshot to the end"
    assert not list((tmp_path / "jobs" / ids[0]).glob("snapshot-*")), "snapshots are removed once done"


def test_a_killed_worker_is_replaced_and_its_job_requeued(tmp_path: Path, tiny_weights: Path) -> None:  # noqa: F811
    with client_for(tmp_path, tiny_weights) as client:
        job = client.post("/v1/jobs", files=job_files(),
                          data={"size": "32", "iterations": "1500", "tolerance": "0"}).json()
        wait_for(client, job["id"], ("running",), step=2)
        worker = client.app.state.workers[0]
        worker.kill()  # SIGKILL: no chance to requeue its own job
        worker.join()
        done = wait_for(client, job["id"], timeout=240)
        assert done["state"] == "done" and done["progress"]["step"] == 1500
        assert client.app.state.workers[0].pid != worker.pid
        assert client.get("/v1/health").json()["status"] == "ok"
