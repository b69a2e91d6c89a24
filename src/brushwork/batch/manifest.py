"""``manifest.jsonl`` in the output folder: one JSON line per image that a run finished or gave up on
(input, output, style, seconds, worker, status, error, attempts, finished), appended by the driver
alone as results arrive, so that it tells what happened to every image even after a crash."""

from __future__ import annotations

import json
import time
from pathlib import Path
from types import TracebackType
from typing import IO, Any

from brushwork.batch.worker import TaskResult
from brushwork.errors import BrushworkError
from brushwork.image import one_line

#: The manifest's name in the output folder.
MANIFEST = "manifest.jsonl"


class Manifest:
    """Appends :class:`TaskResult` records to ``folder/manifest.jsonl`` (a context manager)."""

    def __init__(self, folder: Path) -> None:
        self.path = Path(folder) / MANIFEST
        self.file: IO[str] | None = None

    def __enter__(self) -> Manifest:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.file = self.path.open("a+", encoding="utf-8")
            self.file.seek(0, 2)
            if self.file.tell():  # a run killed mid-line left a partial record: start on a new line
                self.file.seek(self.file.tell() - 1)
                if self.file.read(1) != "\n":
                    self.file.write("\n")
        except OSError as exc:
            raise BrushworkError(f"{self.path}: cannot write the manifest ({one_line(exc)})") from None
        return self

    def write(self, result: TaskResult, attempts: int) -> None:
        """Record ``result`` (its task was tried ``attempts`` times); flushed at once."""
        task = result.task
        record: dict[str, Any] = {"input": str(task.input), "output": str(task.output), "style": str(task.style),
                                  "seconds": round(result.seconds, 3), "worker": result.worker,
                                  "status": result.status, "error": result.error, "attempts": attempts,
                                  "finished": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
        assert self.file is not None
        self.file.write(json.dumps(record) + "\n")
        self.file.flush()

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        if self.file is not None:
            self.file.close()


def read_manifest(path: Path) -> list[dict[str, Any]]:
    """The records of a manifest (the file, or the folder that holds it); a damaged line is skipped."""
    path = Path(path)
    path = path / MANIFEST if path.is_dir() else path
    records = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            records.append(json.loads(line))
        except ValueError:
            continue
    return records
