"""The job store: one SQLite database (``jobs.sqlite``) and one folder per job under ``jobs/``.

The database and the files never disagree, whatever moment the process is killed at: a job's folder
is filled under ``incoming/`` and renamed into ``jobs/`` before its row is inserted, and its row is
deleted before its folder; :meth:`JobStore.recover` removes the folders left without a row. Every
file inside a folder is written to a temporary name and renamed. A worker's writes name the claim
(``run``) it holds, so that a worker left over from a killed server cannot touch a requeued job.

States: queued -> running -> done | failed | cancelled (a running job goes back to queued when the
server stops or is killed; it resumes from its last snapshot).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import secrets
import shutil
import sqlite3
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from brushwork.errors import BrushworkError

FINAL = ("done", "failed", "cancelled")
STATES = ("queued", "running", *FINAL)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    state TEXT NOT NULL,
    settings TEXT NOT NULL,
    inputs TEXT NOT NULL,
    progress TEXT,
    error TEXT,
    created REAL NOT NULL,
    started REAL,
    finished REAL,
    cancel INTEGER NOT NULL DEFAULT 0,
    run TEXT,
    snapshot_step INTEGER NOT NULL DEFAULT 0,
    bytes INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS jobs_by_state ON jobs (state, created);
"""


def new_id() -> str:
    """A random, unguessable job id: 128 bits as 22 URL-safe characters."""
    return secrets.token_urlsafe(16)


@dataclass(frozen=True)
class Job:
    """One row of the store. ``settings`` is the JSON form of the job's settings dataclass; ``inputs``
    names its files in the job's folder ({"content": {"file", "name"}, "styles": [...], ...}, where
    "name" is the client's file name, for display only); ``progress`` the latest progress event
    (``ProgressEvent.to_dict()`` with "preview_step" added) or None."""

    id: str
    kind: str
    state: str
    settings: dict[str, Any]
    inputs: dict[str, Any]
    progress: dict[str, Any] | None
    error: str | None
    created: float
    started: float | None
    finished: float | None
    cancel: bool
    run: str | None
    snapshot_step: int
    bytes: int

    @classmethod
    def of(cls, row: sqlite3.Row) -> Job:
        return cls(row["id"], row["kind"], row["state"], json.loads(row["settings"]), json.loads(row["inputs"]),
                   None if row["progress"] is None else json.loads(row["progress"]), row["error"], row["created"],
                   row["started"], row["finished"], bool(row["cancel"]), row["run"], row["snapshot_step"],
                   row["bytes"])


def folder_bytes(folder: Path) -> int:
    """The total size in bytes of the files in ``folder`` (0 where it is gone)."""
    return sum(p.stat().st_size for p in folder.glob("*") if p.is_file())


class JobStore:
    """The jobs of one data folder. Each call opens its own short connection, so that the API's
    threads and the worker processes may share the store."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.database = self.root / "jobs.sqlite"
        self.jobs = self.root / "jobs"
        self.incoming = self.root / "incoming"

    def open(self) -> IO[bytes]:
        """Make the folders and the database where they are missing, and lock the data folder for
        this server (the API process, at start); returns the lock, held until it is closed. Raises
        BrushworkError if another server holds it (two would requeue each other's jobs)."""
        for folder in (self.jobs, self.incoming):
            folder.mkdir(parents=True, exist_ok=True)
        lock = (self.root / "server.lock").open("wb")
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            lock.close()
            raise BrushworkError(f"{self.root}: another brushwork server uses this data folder; stop it "
                                 "or give another --data-dir") from None
        with self._connect() as db:
            db.execute("PRAGMA journal_mode=WAL")  # readers never wait for the workers' writes
            db.executescript(_SCHEMA)
        return lock

    @contextlib.contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        db = sqlite3.connect(self.database, timeout=30, isolation_level=None)
        db.row_factory = sqlite3.Row
        try:
            yield db
        finally:
            db.close()

    def folder(self, job_id: str) -> Path:
        """The folder of the job ``job_id`` (the id is ours, never a client's name)."""
        return self.jobs / job_id

    # -- the API's side ----------------------------------------------------------------------------

    def staging(self, job_id: str) -> Path:
        """A fresh folder under ``incoming/`` to fill with a new job's files before :meth:`add`."""
        folder = self.incoming / job_id
        folder.mkdir(parents=True)
        return folder

    def add(self, job_id: str, kind: str, settings: dict[str, Any], inputs: dict[str, Any]) -> Job:
        """Move the staged folder of ``job_id`` into place, then insert its row as queued."""
        os.replace(self.incoming / job_id, self.folder(job_id))
        with self._connect() as db:
            db.execute("INSERT INTO jobs (id, kind, state, settings, inputs, created, bytes) VALUES (?,?,?,?,?,?,?)",
                       (job_id, kind, "queued", json.dumps(settings), json.dumps(inputs), time.time(),
                        folder_bytes(self.folder(job_id))))
        job = self.get(job_id)
        assert job is not None
        return job

    def get(self, job_id: str) -> Job | None:
        with self._connect() as db:
            row = db.execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone()
        return None if row is None else Job.of(row)

    def list(self, limit: int = 100, state: str | None = None) -> list[Job]:
        """The newest ``limit`` jobs (of ``state``, if given), newest first."""
        query = "SELECT * FROM jobs" + (" WHERE state = ?" if state else "") + " ORDER BY created DESC LIMIT ?"
        with self._connect() as db:
            rows = db.execute(query, (*([state] if state else []), limit)).fetchall()
        return [Job.of(row) for row in rows]

    def counts(self) -> dict[str, int]:
        """{state: number of jobs} for every state."""
        with self._connect() as db:
            rows = db.execute("SELECT state, COUNT(*) FROM jobs GROUP BY state").fetchall()
        return {state: 0 for state in STATES} | {state: count for state, count in rows}

    def recent_durations(self, count: int = 20) -> list[float]:
        """Seconds from start to finish of the latest ``count`` finished jobs."""
        with self._connect() as db:
            rows = db.execute("SELECT finished - started FROM jobs WHERE state = 'done' AND started IS NOT NULL "
                              "ORDER BY finished DESC LIMIT ?", (count,)).fetchall()
        return [row[0] for row in rows]

    def cancel_or_delete(self, job_id: str) -> str:
        """DELETE's meaning: a queued job becomes cancelled, a running one is asked to stop (its worker
        cancels it within one iteration), a finished one is deleted with its files. Returns what was
        done: "cancelled", "cancelling", "deleted" or "missing"."""
        with self._connect() as db:
            db.execute("BEGIN IMMEDIATE")
            row = db.execute("SELECT state FROM jobs WHERE id = ?", (job_id,)).fetchone()
            if row is None:
                db.execute("ROLLBACK")
                return "missing"
            if row["state"] == "queued":
                db.execute("UPDATE jobs SET state = 'cancelled', finished = ? WHERE id = ?", (time.time(), job_id))
                done = "cancelled"
            elif row["state"] == "running":
                db.execute("UPDATE jobs SET cancel = 1 WHERE id = ?", (job_id,))
                done = "cancelling"
            else:
                db.execute("DELETE FROM jobs WHERE id = ?", (job_id,))
                done = "deleted"
            db.execute("COMMIT")
        if done == "deleted":  # the row goes first: a folder without a row is removed by recover()
            shutil.rmtree(self.folder(job_id), ignore_errors=True)
        return done

    def recover(self) -> int:
        """At start, before any worker: requeue the jobs that were running when the server stopped,
        and remove folders that have no row (a job half added or half deleted). Returns the number
        of jobs requeued."""
        with self._connect() as db:
            requeued = db.execute("UPDATE jobs SET state = 'queued', run = NULL, cancel = 0 "
                                  "WHERE state = 'running' AND cancel = 0").rowcount
            db.execute("UPDATE jobs SET state = 'cancelled', run = NULL, finished = ? "
                       "WHERE state = 'running' AND cancel = 1", (time.time(),))
            known = {row[0] for row in db.execute("SELECT id FROM jobs")}
        for folder in [*self.jobs.iterdir(), *self.incoming.iterdir()]:
            if folder.parent == self.incoming or folder.name not in known:
                shutil.rmtree(folder, ignore_errors=True)
        return requeued

    def prune(self, keep_days: float, keep_bytes: float) -> list[str]:
        """Delete finished jobs older than ``keep_days``, then the oldest finished ones while all jobs'
        files take more than ``keep_bytes``. Returns the ids deleted."""
        with self._connect() as db:
            finished = db.execute("SELECT id, finished, bytes FROM jobs WHERE state IN ('done', 'failed', "
                                  "'cancelled') ORDER BY finished").fetchall()
            total = db.execute("SELECT COALESCE(SUM(bytes), 0) FROM jobs").fetchone()[0]
        cutoff, doomed = time.time() - keep_days * 86400, []
        for row in finished:
            if row["finished"] < cutoff or total > keep_bytes:
                doomed.append(row["id"])
                total -= row["bytes"]
        for job_id in doomed:
            self.cancel_or_delete(job_id)
        return doomed

    # -- the workers' side -------------------------------------------------------------------------

    def claim(self, run: str) -> Job | None:
        """Take the oldest queued job for the worker claim ``run``; None when none is waiting."""
        with self._connect() as db:
            row = db.execute(
                "UPDATE jobs SET state = 'running', run = ?, started = COALESCE(started, ?) WHERE id = "
                "(SELECT id FROM jobs WHERE state = 'queued' ORDER BY created LIMIT 1) AND state = 'queued' "
                "RETURNING *", (run, time.time())).fetchone()
        return None if row is None else Job.of(row)

    def _update(self, job: Job, assignments: str, values: tuple[Any, ...]) -> bool:
        """``UPDATE jobs SET {assignments}`` where ``job`` is still held by its claim; False if it is not."""
        with self._connect() as db:
            return db.execute(f"UPDATE jobs SET {assignments} WHERE id = ? AND run = ?",
                              (*values, job.id, job.run)).rowcount == 1

    def report(self, job: Job, progress: dict[str, Any]) -> bool:
        """Record the latest progress of a running job; False if the claim was lost."""
        return self._update(job, "progress = ?", (json.dumps(progress),))

    def cancel_requested(self, job: Job) -> bool:
        """True once DELETE asked the running ``job`` to stop, or its claim was lost."""
        with self._connect() as db:
            row = db.execute("SELECT cancel, run FROM jobs WHERE id = ?", (job.id,)).fetchone()
        return row is None or bool(row["cancel"]) or row["run"] != job.run

    def snapshot(self, job: Job, step: int) -> bool:
        """Record that the snapshot of ``step`` is on disk (:func:`snapshot_name`)."""
        return self._update(job, "snapshot_step = ?", (step,))

    def finish(self, job: Job, state: str, error: str | None = None) -> bool:
        """End ``job`` as done, failed or cancelled, counting its files' bytes."""
        assert state in FINAL
        return self._update(job, "state = ?, error = ?, finished = ?, run = NULL, bytes = ?",
                            (state, error, time.time(), folder_bytes(self.folder(job.id))))

    def requeue_claims_of(self, pid: int) -> int:
        """Requeue the running jobs claimed by the worker process ``pid`` (which died); returns how many."""
        with self._connect() as db:
            return db.execute("UPDATE jobs SET state = 'queued', run = NULL WHERE state = 'running' AND run LIKE ?",
                              (f"{pid}-%",)).rowcount

    def requeue(self, job: Job) -> bool:
        """Put a running ``job`` back in the queue (its worker is stopping); it resumes from its snapshot."""
        return self._update(job, "state = 'queued', run = NULL", ())


def snapshot_name(step: int) -> str:
    """The file name in a job's folder of the snapshot taken after ``step``."""
    return f"snapshot-{step:06d}.png"


#: The file name of each kind of job's result in its folder (and its media type).
RESULTS = {"stylize": ("result.png", "image/png"), "apply": ("result.png", "image/png"),
           "audio": ("result.wav", "audio/wav")}


def result_name(kind: str) -> str:
    """The file name of a ``kind`` job's result in its folder."""
    return RESULTS[kind][0]
