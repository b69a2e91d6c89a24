"""Throughput of ``brushwork batch`` on the fast path: photos per second with a pool of style networks,
embedded (worker processes) and on a local Ray cluster, 1 and 2 workers, at 256 and 512 px.

Each configuration paints the same subset of the photos (the first --count, sorted by name) with a
style network drawn per photo from --networks networks, into a fresh folder. Reported per run: the
whole call (start-up of the workers included), the steady rate between the first and the last image
(what a long run sees), and the mean seconds a worker spent per image (read, network, write); and,
measured in this process on 4 photos (one thread), how a task's time splits between reading, resizing and writing
a JPEG (which a GPU does not speed up) and the network. Without
--models the networks are Johnson et al.'s architecture (width 32, 5 residual blocks) with random
weights: the time does not depend on the weights. Also the rate at which the driver alone hands out
images (``dispatch``, see bench/batch_dispatch.py). Writes bench/results/batch-<device>.json.

    python bench/batch.py [--photos DIR] [--count 48] [--sizes 256 512] [--workers 1 2] [--executors embedded ray]
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import sys
import tempfile
import time
from importlib.metadata import version
from pathlib import Path

import torch

from brushwork.batch.api import stylize_batch
from brushwork.batch.config import BatchConfig
from brushwork.batch.manifest import read_manifest
from brushwork.feedforward.apply import open_engine, run_padded
from brushwork.feedforward.config import ApplyConfig
from brushwork.feedforward.model_file import save_style_network
from brushwork.feedforward.network import seeded_network
from brushwork.image import load_image, resize_long_side, save_image, to_pil

sys.path.insert(0, str(Path(__file__).resolve().parent))
from batch_dispatch import local_ray, measure  # noqa: E402
from common import SHARED, machine, write_report  # noqa: E402

#: No-op images of each dispatch measurement.
DISPATCH_IMAGES = 2000


def random_networks(folder: Path, count: int) -> Path:
    """``count`` networks of the real architecture with seeded random weights, in ``folder``."""
    for k in range(count):
        save_style_network(seeded_network(32, 5, k), folder / f"random{k}.safetensors", {"style": f"random{k}"})
    return folder


def stages(photos: list[Path], model: Path, size: int, work: Path) -> dict[str, float]:
    """Median seconds per photo of the two halves of a worker's task, in this process on one thread:
    reading, resizing and writing a JPEG (what a GPU does not speed up), and the network alone; wall
    and CPU time (on one thread the CPU time does not grow when other programs share the cores, as
    waiting threads spinning would make it with several)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    engine, _ = open_engine(model, ApplyConfig(size=size, device="cpu"))
    times: dict[str, list[float]] = {"io": [], "io_cpu": [], "network": [], "network_cpu": []}
    for photo in photos:
        wall, cpu = time.perf_counter(), time.process_time()
        rgb = resize_long_side(load_image(photo, 10**8)[0], size)
        save_image(to_pil(rgb), work / "io.jpg")
        times["io"].append(time.perf_counter() - wall)
        times["io_cpu"].append(time.process_time() - cpu)
        wall, cpu = time.perf_counter(), time.process_time()
        run_padded(engine, rgb)
        times["network"].append(time.perf_counter() - wall)
        times["network_cpu"].append(time.process_time() - cpu)
    torch.set_num_threads(threads)
    return {"size": size, "threads": 1,
            **{f"{name}_seconds": round(statistics.median(values[1:]), 4) for name, values in times.items()}}


def run(photos: Path, models: Path, out: Path, size: int, workers: int, ray: str | None, device: str
        ) -> dict[str, object]:
    """One configuration, timed; returns its numbers."""
    stamps: list[float] = []
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    began = time.perf_counter()
    summary = stylize_batch(photos, out, models=models, config=BatchConfig(workers=workers, ray=ray),
                            apply_config=ApplyConfig(size=size, device=device),
                            callbacks=[lambda event: stamps.append(time.perf_counter())])
    wall = time.perf_counter() - began
    if summary.failed:
        raise SystemExit(f"{len(summary.failed)} failed: {summary.failed[0]}")
    used = resource.getrusage(resource.RUSAGE_CHILDREN)  # the embedded workers, once they have ended
    cpu = used.ru_utime + used.ru_stime - children.ru_utime - children.ru_stime
    per_image = [r["seconds"] for r in read_manifest(out) if r["status"] == "done"]
    # The events of a chunk come together when its call ends: over a few images this is rough.
    steady = (len(stamps) - 1) / (stamps[-1] - stamps[0]) if len(stamps) > 1 else None
    return {"executor": "ray" if ray else "embedded", "size": size, "workers": workers, "images": summary.done,
            "wall_seconds": round(wall, 2), "first_image_seconds": round(stamps[0] - began, 2),
            "images_per_second": round(summary.done / wall, 3),
            "steady_images_per_second": round(steady, 3) if steady else None,
            "worker_seconds_per_image": round(statistics.mean(per_image), 4),
            "worker_cpu_seconds_per_image": round(cpu / summary.done, 4) if not ray else None,
            "load_average_after": round(os.getloadavg()[0], 2)}  # the machine is shared: how busy it was


def ray_against_embedded(results: list[dict[str, object]]) -> list[dict[str, object]]:
    """For each Ray run with an embedded twin (same size and workers): the ratio of their steady rates."""
    overhead = []
    for ray_run in (r for r in results if r["executor"] == "ray"):
        twin = next((r for r in results if r["executor"] == "embedded" and r["size"] == ray_run["size"]
                     and r["workers"] == ray_run["workers"]), None)
        if twin is not None and twin["steady_images_per_second"] and ray_run["steady_images_per_second"]:
            overhead.append({"size": ray_run["size"], "workers": ray_run["workers"],
                             "steady_rate_ray_over_embedded": round(ray_run["steady_images_per_second"]
                                                                    / twin["steady_images_per_second"], 3),
                             "wall_ray_minus_embedded_seconds": round(ray_run["wall_seconds"] - twin["wall_seconds"], 2)})
    return overhead


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--photos", type=Path, default=SHARED / "photos")
    parser.add_argument("--count", type=int, default=48, help="photos per configuration (the first, by name)")
    parser.add_argument("--models", type=Path, default=None, help="a folder of trained networks (default: random)")
    parser.add_argument("--networks", type=int, default=4)
    parser.add_argument("--sizes", type=int, nargs="+", default=[256, 512])
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--executors", nargs="+", default=["embedded", "ray"], choices=("embedded", "ray"))
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--output", type=Path, default=None, help="the JSON to write")
    args = parser.parse_args()
    info = machine(args.device)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        chosen = sorted(p for p in args.photos.iterdir() if p.suffix.lower() in (".jpg", ".png"))[:args.count]
        listing = work / "photos.txt"
        listing.write_text("\n".join(map(str, chosen)) + "\n")
        models = args.models or random_networks(work, args.networks)
        if "ray" in args.executors:
            local_ray()
            info["ray"] = version("ray")
        report: dict[str, object] = {
            "benchmark": "brushwork batch, fast path: photos per second with a style network drawn per photo",
            "device": args.device, "machine": info,
            "photos": f"the first {len(chosen)} of the {len(list(args.photos.iterdir()))} files in {args.photos.name}/ "
                      "(BSDS500, 481x321 or 321x481), resized to --size on the long side",
            "chunk_seconds": BatchConfig().chunk_seconds,  # the seconds of images a call, as a user's run
            "networks": str(args.models) if args.models else
            f"{args.networks} networks of Johnson et al.'s architecture (width 32, 5 residual blocks) with random "
            "weights: no trained .safetensors model was on this machine; the time does not depend on the weights",
            "per_image_stages": [stages(chosen[:4], next(models.glob("*.safetensors")), size, work)
                                 for size in args.sizes],
            # What the driver itself can hand out (bench/batch_dispatch.py): one image a call, and chunks.
            "dispatch": measure(args.executors, args.workers, DISPATCH_IMAGES, work / "dispatch")}
        results: list[dict[str, object]] = []
        for executor in args.executors:
            for size in args.sizes:
                for workers in args.workers:
                    out = work / f"{executor}-{size}-{workers}"
                    results.append(run(listing, models, out, size, workers, "auto" if executor == "ray" else None,
                                       args.device))
                    # Written after every run, so that a run cut short keeps what it measured.
                    write_report("batch", {**report, "results": results,
                                           "ray_against_embedded": ray_against_embedded(results)},
                                 args.device, args.output)

if __name__ == "__main__":
    main()
