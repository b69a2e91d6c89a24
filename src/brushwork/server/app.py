"""The FastAPI application of ``brushwork serve``: the API under ``/v1``, the web page at ``/``.

The API only reads and writes the job store; the work runs in the worker processes that the app
starts with itself (``worker.py``). Errors of the client's making answer with
``{"detail": message, "field": name}``, where ``field`` names the form field or setting at fault.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
import shutil
import statistics
from collections.abc import AsyncIterator
from dataclasses import replace
from importlib.metadata import version
from importlib.resources import files
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from sse_starlette.sse import EventSourceResponse
from starlette.datastructures import UploadFile
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from brushwork.config import QUALITY_PRESETS, StyleConfig
from brushwork.errors import BrushworkError, SettingError
from brushwork.server import forms
from brushwork.server.config import ServerConfig
from brushwork.server.store import FINAL, RESULTS, Job, JobStore, new_id
from brushwork.server.uploads import check_image, check_sound_upload, store_upload
from brushwork.server.worker import cuda_devices, replace_dead, start_workers, stop_workers, worker_devices

STATIC = files("brushwork.server") / "static"
#: Seconds between the event stream's looks at a job's files and row.
EVENT_POLL = 0.25
#: Seconds between looks for dead workers.
WATCH_EVERY = 2.0


class ClientError(Exception):
    """An answer of the client's making: ``status``, a one-line ``detail`` and the ``field`` at fault."""

    def __init__(self, status: int, detail: str, field: str | None = None, headers: dict[str, str] | None = None):
        super().__init__(detail)
        self.status, self.detail, self.field, self.headers = status, detail, field, headers or {}


def _answer(error: ClientError) -> JSONResponse:
    body = {"detail": error.detail, **({"field": error.field} if error.field else {})}
    return JSONResponse(body, status_code=error.status, headers=error.headers)


class Guard:
    """ASGI middleware in front of everything: the bearer token on ``/v1`` (when the server has one),
    and the request body limit (413 from the Content-Length, or as soon as a streamed body passes it)."""

    def __init__(self, app: ASGIApp, token: str | None, max_bytes: int) -> None:
        self.app, self.token, self.max_bytes = app, token, max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        if self.token is not None and scope["path"].startswith("/v1/"):
            given = headers.get("authorization", "")
            if not secrets.compare_digest(given.encode(), f"Bearer {self.token}".encode()):
                await _answer(ClientError(401, "missing or wrong bearer token (send 'Authorization: Bearer TOKEN')",
                                          headers={"WWW-Authenticate": "Bearer"}))(scope, receive, send)
                return
        length = headers.get("content-length", "")
        too_big = ClientError(413, f"request body over the limit of {self.max_bytes / 1e6:g} MB "
                              "(the server's max_upload_mb)")
        if length.isdigit() and int(length) > self.max_bytes:
            await _answer(too_big)(scope, receive, send)
            return
        seen, started = 0, False

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.max_bytes:
                raise _TooBig
            return message

        async def watched(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted, watched)
        except _TooBig:
            if not started:
                await _answer(too_big)(scope, receive, send)


class _TooBig(Exception):
    """A streamed request body passed the limit."""


def job_json(job: Job) -> dict[str, Any]:
    """What the API says of a job: state, settings, progress, timings, error, and its URLs."""
    base = f"/v1/jobs/{job.id}"
    names = {"content": job.inputs["content"]["name"],
             **({"styles": [s["name"] for s in job.inputs["styles"]]} if "styles" in job.inputs else {}),
             **({"model": job.inputs["model"]} if "model" in job.inputs else {})}
    progress = job.progress or {}
    return {
        "id": job.id, "kind": job.kind, "state": job.state, "settings": job.settings, "inputs": names,
        "progress": progress or None, "error": job.error,
        "created": job.created, "started": job.started, "finished": job.finished,
        "cancel_requested": job.cancel and job.state == "running", "snapshot_step": job.snapshot_step,
        "urls": {"self": base, "events": f"{base}/events", "content": f"{base}/content",
                 "preview": f"{base}/preview" if progress.get("preview_step") else None,
                 "result": f"{base}/result" if job.state == "done" else None},
    }


def create_app(config: ServerConfig | None = None, *, workers: bool = True) -> FastAPI:
    """The application over the data folder of ``config``; with ``workers``, it starts and stops its
    worker processes with itself (its lifespan)."""
    config = config or ServerConfig()
    devices = worker_devices(config.workers, cuda_devices())
    config = replace(config, workers=len(devices))  # a number from here on, for the queue's estimates
    store = JobStore(config.folder())

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        lock = store.open()
        store.recover()
        app.state.workers = start_workers(store.root, config, devices) if workers else []
        watch = asyncio.create_task(_supervise(app.state.workers, devices, store, config))
        try:
            yield
        finally:
            watch.cancel()
            await asyncio.to_thread(stop_workers, app.state.workers)
            lock.close()

    app = FastAPI(title="brushwork", version=version("brushwork"), lifespan=lifespan,
                  description="Neural style transfer as a service: submit a job, follow its progress, fetch "
                  "the painting. Settings are the fields of the same settings classes as the command line.")
    app.state.workers = []

    @app.exception_handler(ClientError)
    async def client_error(request: Request, error: ClientError) -> JSONResponse:
        return _answer(error)

    def find(job_id: str) -> Job:
        job = store.get(job_id) if _valid_id(job_id) else None
        if job is None:
            raise ClientError(404, f"no job {job_id}")
        return job

    @app.get("/v1/health", tags=["server"])
    def health() -> dict[str, Any]:
        """Whether the server and its workers are alive, and the queue."""
        alive = sum(p.is_alive() for p in app.state.workers)
        return {"status": "ok" if alive == config.workers else "degraded", "version": version("brushwork"),
                "workers": alive, "devices": devices, "jobs": store.counts()}

    @app.get("/v1/models", tags=["server"])
    def models() -> dict[str, Any]:
        """The kinds of job this server runs (audio only with the [audio] extra), the feed-forward
        models that apply jobs may name, the bundled example styles, and the settings with their
        defaults and help (from the settings classes; ``settings_by_kind`` has each kind's own)."""
        return {"kinds": forms.available_kinds(), "models": _models(config), "examples": _examples(),
                "quality_presets": {k: {n: list(v) if isinstance(v, tuple) else v for n, v in p.items()}
                                    for k, p in QUALITY_PRESETS.items()},
                "settings": forms.request_schema(_models(config), _examples())["properties"],
                "settings_by_kind": {kind: forms.kind_schema(kind) for kind in forms.available_kinds()},
                "limits": {"max_upload_mb": config.max_upload_mb, "max_pixels": config.max_pixels,
                           "max_audio_seconds": config.max_audio_seconds,
                           "max_size": config.max_size, "max_queue": config.max_queue}}

    @app.post("/v1/jobs", status_code=201, tags=["jobs"], openapi_extra={"requestBody": {
        "required": True, "content": {"multipart/form-data": {"schema": forms.request_schema(_models(config), _examples())}}}},
        responses={413: {"description": "request body too large"}, 422: {"description": "a bad field"},
                   429: {"description": "queue full; see Retry-After"}})
    async def submit(request: Request) -> JSONResponse:
        """Queue a job: ``content`` and for stylize one or more ``style`` images (or ``style_example``,
        a name from GET /v1/models), optional ``style_masks`` and ``content_mask``, and settings as
        form fields. Answers 201 with the job and its URLs."""
        try:
            form = await request.form(max_files=32, max_fields=128)
        except _TooBig:
            raise
        except Exception as error:  # a malformed multipart body
            raise ClientError(422, f"body: not a readable multipart form ({error})", "body") from None
        try:
            job = await asyncio.to_thread(_submit, store, config, form)
        finally:
            await form.close()
        return JSONResponse(job_json(job), status_code=201, headers={"Location": f"/v1/jobs/{job.id}"})

    @app.get("/v1/jobs", tags=["jobs"])
    def list_jobs(limit: int = 100, state: str | None = None) -> dict[str, Any]:
        """The newest jobs first (at most ``limit``, 1 to 1000), of one ``state`` if given."""
        if not 1 <= limit <= 1000:
            raise ClientError(422, f"limit {limit}: must be 1 to 1000", "limit")
        if state is not None and state not in ("queued", "running", *FINAL):
            raise ClientError(422, f"state {state}: must be one of queued, running, {', '.join(FINAL)}", "state")
        return {"jobs": [job_json(job) for job in store.list(limit, state)]}

    @app.get("/v1/jobs/{job_id}", tags=["jobs"])
    def get_job(job_id: str) -> dict[str, Any]:
        """A job's state, settings, progress, timings and error."""
        return job_json(find(job_id))

    @app.get("/v1/jobs/{job_id}/events", tags=["jobs"])
    async def events(job_id: str, request: Request) -> EventSourceResponse:
        """Server-sent events: ``progress`` (every iteration: step, total, stage, losses, elapsed, eta),
        ``preview`` ({"url", "step"}, every few seconds) and ``state`` (the job, at the start and at
        each change; the stream ends after a final state)."""
        job = await asyncio.to_thread(find, job_id)
        return EventSourceResponse(_follow(store, job, request), ping=15)

    @app.get("/v1/jobs/{job_id}/preview", tags=["jobs"], response_class=FileResponse)
    def preview(job_id: str) -> FileResponse:
        """The latest iterate as a JPEG (404 before the first)."""
        return _file(store, find(job_id), "preview.jpg", "image/jpeg")

    @app.get("/v1/jobs/{job_id}/result", tags=["jobs"], response_class=FileResponse)
    def result(job_id: str) -> FileResponse:
        """The finished painting as a PNG with its settings embedded, or an audio job's sound as a
        16-bit WAV (404 until the job is done)."""
        job = find(job_id)
        if job.state != "done":
            raise ClientError(404, f"job {job_id} is {job.state}: no result")
        name, media_type = RESULTS[job.kind]
        return _file(store, job, name, media_type, f"brushwork-{job_id}{Path(name).suffix}")

    @app.get("/v1/jobs/{job_id}/content", tags=["jobs"], response_class=FileResponse)
    def content(job_id: str) -> FileResponse:
        """The photo the job repaints, as uploaded (for before/after comparisons)."""
        job = find(job_id)
        return _file(store, job, job.inputs["content"]["file"], None)

    @app.delete("/v1/jobs/{job_id}", tags=["jobs"], status_code=204, responses={202: {"description": "cancelling"}})
    def delete(job_id: str) -> Response:
        """Cancel a queued or running job (202 with the job; a running one stops within one
        iteration); delete a finished one and its files (204)."""
        what = store.cancel_or_delete(job_id) if _valid_id(job_id) else "missing"
        if what == "missing":
            raise ClientError(404, f"no job {job_id}")
        if what == "deleted":
            return Response(status_code=204)
        return JSONResponse(job_json(find(job_id)), status_code=202)

    @app.get("/", include_in_schema=False)
    def page() -> FileResponse:
        return FileResponse(str(STATIC / "index.html"), media_type="text/html")

    app.mount("/static", StaticFiles(directory=str(STATIC)), name="static")
    app.add_middleware(Guard, token=config.token, max_bytes=int(config.max_upload_mb * 1e6))
    return app


async def _supervise(processes: list[Any], devices: list[str], store: JobStore, config: ServerConfig) -> None:
    """Every few seconds, replace the workers that died and requeue their jobs."""
    while True:
        await asyncio.sleep(WATCH_EVERY)
        await asyncio.to_thread(replace_dead, processes, devices, store, config)


def _valid_id(job_id: str) -> bool:
    """Whether ``job_id`` looks like new_id's (anything else is answered 404 before any look-up)."""
    return len(job_id) == 22 and all(c.isalnum() and c.isascii() or c in "-_" for c in job_id)


def _models(config: ServerConfig) -> list[str]:
    """The model files (.safetensors, .onnx) in the server's model folder, by name."""
    if config.models is None or not Path(config.models).is_dir():
        return []
    return sorted(p.name for p in Path(config.models).iterdir() if p.suffix.lower() in (".safetensors", ".onnx"))


def _examples() -> list[str]:
    """The bundled example styles (``static/examples/styles/*.jpg``), by name."""
    return sorted(p.name for p in (STATIC / "examples" / "styles").iterdir() if p.name.endswith(".jpg"))


def _file(store: JobStore, job: Job, name: str, media_type: str | None, download: str | None = None) -> FileResponse:
    path = store.folder(job.id) / name
    if not path.is_file():
        raise ClientError(404, f"job {job.id} has no {name.split('.')[0]} yet")
    return FileResponse(path, media_type=media_type, filename=download,
                        headers={"Cache-Control": "no-store"} if download is None else None)


def _retry_after(store: JobStore, config: ServerConfig, queued: int) -> int:
    """Seconds until a place in the queue is likely free: the median duration of recent jobs times
    the queue ahead, spread over the workers (30 s when there is no history yet)."""
    durations = store.recent_durations()
    if not durations:
        return 30
    return max(1, min(3600, round(statistics.median(durations) * (queued - config.max_queue + 1) / config.workers)))


def _text(form: Any, name: str) -> str | None:
    value = form.get(name)
    if value is not None and not isinstance(value, str):
        raise ClientError(422, f"{name}: must be a text field, not a file", name)
    return value


def _submit(store: JobStore, config: ServerConfig, form: Any) -> Job:
    """Check a POST /v1/jobs form, stage its files and queue the job (runs in a thread)."""
    kind = _text(form, "kind") or "stylize"
    if kind not in forms.KINDS:
        raise ClientError(422, f"kind {kind}: must be one of {', '.join(forms.KINDS)}", "kind")
    if forms.missing(kind) is not None:
        raise ClientError(422, forms.missing(kind), "kind")
    texts: dict[str, str] = {}
    for name, value in form.multi_items():
        if name in forms.INPUT_FIELDS:
            continue
        if not isinstance(value, str):
            raise ClientError(422, f"{name}: must be a text field, not a file", name)
        if name in texts:
            raise ClientError(422, f"{name}: given more than once", name)
        texts[name] = value
    try:
        settings = forms.settings_from_form(kind, texts)
        if isinstance(settings, StyleConfig):
            forms.check_layers(settings, config.weights)
    except SettingError as error:
        raise ClientError(422, str(error), error.field) from None
    except BrushworkError as error:
        raise ClientError(422, str(error), "settings") from None
    size = getattr(settings, "size", None)
    if size is not None and size > config.max_size:
        raise ClientError(422, f"size {size}: must be at most {config.max_size} px on this server", "size")
    queued = store.counts()["queued"]
    if queued >= config.max_queue:
        raise ClientError(429, f"the queue is full ({queued} jobs waiting); try again later", "queue",
                          {"Retry-After": str(_retry_after(store, config, queued))})
    job_id = new_id()
    folder = store.staging(job_id)
    try:
        inputs = _stage_files(folder, config, form, kind, settings)
        return store.add(job_id, kind, settings.to_dict(), inputs)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise


def _uploads(form: Any, name: str) -> list[UploadFile]:
    values = form.getlist(name)
    for value in values:
        if not isinstance(value, UploadFile):
            raise ClientError(422, f"{name}: must be a file upload", name)
    return values


def _stage_files(folder: Path, config: ServerConfig, form: Any, kind: str, settings: Any) -> dict[str, Any]:
    """Check every uploaded image and copy it into ``folder`` under a name of ours; returns the job's
    ``inputs`` ({"content": {"file", "name"}, ...}; "name" is the client's, for display only)."""
    def take(upload: UploadFile, field: str, stem: str) -> dict[str, str]:
        try:
            suffix = (check_sound_upload(upload.file, field, config.max_audio_seconds) if kind == "audio"
                      else check_image(upload.file, field, config.max_pixels))
        except SettingError as error:
            raise ClientError(422, str(error), error.field) from None
        store_upload(upload.file, folder, stem + suffix)
        return {"file": stem + suffix, "name": _display_name(upload.filename)}

    contents = _uploads(form, "content")
    if len(contents) != 1:
        raise ClientError(422, f"content: needs exactly one {'sound' if kind == 'audio' else 'photo'}", "content")
    inputs: dict[str, Any] = {"content": take(contents[0], "content", "content")}
    if kind == "audio":
        styles = _uploads(form, "style")
        if len(styles) != 1:
            raise ClientError(422, f"style: an audio job needs exactly one style sound, not {len(styles)}", "style")
        inputs["styles"] = [take(styles[0], "style", "style-0")]
        return inputs
    if kind == "apply":
        model = _text(form, "model")
        if model not in _models(config):
            raise ClientError(422, f"model {model}: not one of this server's models (GET /v1/models)", "model")
        inputs["model"] = model
        return inputs
    styles = [take(u, "style", f"style-{k}") for k, u in enumerate(_uploads(form, "style"))]
    for k, name in enumerate(form.getlist("style_example")):
        if not isinstance(name, str) or name not in _examples():
            raise ClientError(422, f"style_example {name}: not one of {', '.join(_examples())}", "style_example")
        with (STATIC / "examples" / "styles" / name).open("rb") as file:
            store_upload(file, folder, f"example-{k}.jpg")
        styles.append({"file": f"example-{k}.jpg", "name": name})
    try:
        settings.check_styles(len(styles))
    except SettingError as error:
        raise ClientError(422, str(error), error.field) from None
    masks = _uploads(form, "style_masks")
    if masks and len(masks) != len(styles):
        raise ClientError(422, f"style_masks: needs one mask per style image ({len(styles)})", "style_masks")
    inputs["styles"] = styles
    inputs["style_masks"] = [take(u, "style_masks", f"style-mask-{k}") for k, u in enumerate(masks)]
    content_masks = _uploads(form, "content_mask")
    if len(content_masks) > 1:
        raise ClientError(422, "content_mask: at most one", "content_mask")
    if content_masks:
        inputs["content_mask"] = take(content_masks[0], "content_mask", "content-mask")
    return inputs


def _display_name(name: str | None) -> str:
    """The client's file name, for display only: its last part, printable, at most 100 characters."""
    last = (name or "").replace("\\", "/").rsplit("/", 1)[-1]
    return "".join(c for c in last if c.isprintable())[:100] or "upload"


async def _follow(store: JobStore, job: Job, request: Request) -> AsyncIterator[dict[str, str]]:
    """The event stream of ``job``: new lines of its events.jsonl as ``progress`` events, a ``preview``
    event when a newer preview is on disk, and ``state`` events; ends after a final state."""
    path = store.folder(job.id) / "events.jsonl"
    offset, preview_step, state = 0, 0, None
    while not await request.is_disconnected():
        current = await asyncio.to_thread(store.get, job.id)
        if current is None:
            yield {"event": "state", "data": json.dumps({"id": job.id, "state": "deleted"})}
            return
        lines, offset = await asyncio.to_thread(_read_from, path, offset)
        for line in lines:
            record = json.loads(line)
            yield {"event": "progress", "data": line}
            if record.get("preview_step", 0) > preview_step:
                preview_step = record["preview_step"]
                yield {"event": "preview", "data": json.dumps(
                    {"url": f"/v1/jobs/{job.id}/preview?step={preview_step}", "step": preview_step})}
        if current.state != state:
            state = current.state
            yield {"event": "state", "data": json.dumps(job_json(current))}
            if state in FINAL:
                return
        await asyncio.sleep(EVENT_POLL)


def _read_from(path: Path, offset: int) -> tuple[list[str], int]:
    """The complete lines of ``path`` from byte ``offset`` on, and the offset after them."""
    try:
        with path.open("rb") as file:
            file.seek(offset)
            data = file.read()
    except FileNotFoundError:
        return [], offset
    end = data.rfind(b"\n") + 1  # a line still being written waits for the next look
    return [line for line in data[:end].decode("utf-8").splitlines() if line], offset + end
