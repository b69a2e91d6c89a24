"""``stylize_batch``: a whole folder or manifest of images painted into a mirrored output tree, on
this machine's processes or a Ray cluster, resumable (outputs that exist are skipped)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

from brushwork.batch.config import BatchConfig
from brushwork.batch.embedded import ProcessPool, default_workers
from brushwork.batch.manifest import MANIFEST, Manifest
from brushwork.batch.plan import Task, make_plan, style_pool
from brushwork.batch.scheduler import Pool, Summary, schedule
from brushwork.batch.worker import WorkerSettings
from brushwork.config import StyleConfig
from brushwork.errors import BrushworkError, SettingError
from brushwork.feedforward.config import ApplyConfig
from brushwork.feedforward.model_file import read_header
from brushwork.image import PathLike
from brushwork.nets.weights import SOURCES
from brushwork.outputs import Input, check_not_inputs, check_writable_folder
from brushwork.progress import Callback, Cancelled, CancelToken

StyleSource = PathLike | Sequence[PathLike]


def _check_styles(tasks: Sequence[Task], style: StyleConfig) -> None:
    """Before any work: every network file is one (its header read), every style image exists, and the
    backbone that the optimisation needs is known."""
    for path in sorted({task.style for task in tasks}):
        if not path.is_file():
            raise BrushworkError(f"{path}: style not found")
        if path.suffix.lower() == ".safetensors":
            read_header(path)
    if not all(task.network for task in tasks):
        style.check_styles(1)
        if style.weights not in SOURCES and not Path(style.weights).expanduser().is_file():
            raise SettingError.of("weights", style.weights, f"neither a file nor a known source ({', '.join(SOURCES)})")


def _pool(settings: WorkerSettings, config: BatchConfig) -> Pool:
    """The workers: a Ray cluster's actors with ``config.ray``, else processes on this machine."""
    if config.ray is not None:
        from brushwork.batch.ray_pool import RayPool  # Ray is an extra

        return RayPool(settings, config.ray, config.workers, config.threads, config.gpus_per_worker)
    return ProcessPool(settings, config.workers or default_workers(), config.threads)


def stylize_batch(inputs: PathLike, output: PathLike, *, styles: StyleSource | None = None,
                  models: StyleSource | None = None, config: BatchConfig | None = None,
                  style_config: StyleConfig | None = None, apply_config: ApplyConfig | None = None,
                  callbacks: Iterable[Callback] = (), cancel: CancelToken | None = None) -> Summary:
    """Paint every image of ``inputs`` (a folder, recursively; an image; or a text/CSV manifest of paths,
    optionally with a style per row) into ``output``, mirroring the input tree.

    Each image's style is drawn from ``styles`` (style images: the optimisation with ``style_config``) or
    ``models`` (network files: the feed-forward path with ``apply_config``), each a file, a folder or a
    list of files, by ``config.seed`` and the image's relative path. Outputs that exist are skipped
    (unless ``config.overwrite``); every image finished or given up on is appended to
    ``output/manifest.jsonl``. Each output embeds its input, style and settings (key ``brushwork``).

    ``callbacks`` get a "batch" ProgressEvent for each image (``checkpoint``: the output written, or
    None when it failed); a worker is handed about ``config.chunk_seconds`` of images a call, and the
    events of a call's images come together when it ends. After ``cancel`` no new image starts and the
    work in flight ends (an optimisation within one iteration); then :class:`Cancelled` is raised with
    the :class:`Summary` as its ``result``. Returns the Summary; failed images are listed in it, not raised.
    """
    config = config or BatchConfig()
    style_config = style_config or StyleConfig(seed=config.seed)
    apply_config = apply_config or ApplyConfig()
    if styles is not None and models is not None:
        raise BrushworkError("give style images or networks, not both")
    pool = (style_pool(models, networks=True) if models is not None else
            style_pool(styles, networks=False) if styles is not None else [])  # a manifest may name every style
    output = Path(output)
    tasks = make_plan(inputs, output, pool, config.seed)
    _check_styles(tasks, style_config)
    check_writable_folder(output, "-o")
    sources: list[Input] = [*(("input", t.input) for t in tasks), *(("style", p) for p in {t.style for t in tasks})]
    check_not_inputs([*(t.output for t in tasks), output / MANIFEST], "-o", sources)
    todo = [t for t in tasks if config.overwrite or not t.output.exists()]
    summary = Summary(skipped=len(tasks) - len(todo))
    if todo:
        settings = WorkerSettings(style_config, apply_config, config.seed, config.overwrite)
        with Manifest(output) as manifest:
            workers = _pool(settings, config)
            try:
                schedule(todo, workers, manifest, summary, config.retries, callbacks, cancel,
                         config.chunk_seconds)
            finally:
                workers.close()
    if cancel is not None and cancel.cancelled:
        raise Cancelled(summary.done, summary, output)
    return summary
