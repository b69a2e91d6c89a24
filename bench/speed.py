"""Seconds per iteration and peak memory of brushwork's default settings at several sizes.

Each size runs in a fresh subprocess so that its peak memory (the process's maximum resident set on
the CPU, ``torch.cuda.max_memory_allocated`` on a GPU) is its own. Images are the bundled examples,
so the benchmark runs from a fresh clone. Writes ``bench/results/speed-<device>.json``.

    python bench/speed.py [--sizes 256 512] [--iterations 20] [--device auto]
"""

from __future__ import annotations

import argparse
import datetime
import json
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
CONTENT, STYLE = ROOT / "examples" / "content.jpg", ROOT / "examples" / "style.jpg"


def measure(size: int, iterations: int, device: str) -> dict[str, float]:
    """Time ``iterations`` steps (after 3 warm-up steps) of the default optimisation at ``size`` px."""
    from brushwork.api import backbone_for
    from brushwork.config import StyleConfig
    from brushwork.image import load_image, resize_long_side
    from brushwork.transfer import Objective, initial_image, optimise, resolve_device

    config = StyleConfig(size=size, iterations=iterations, device=device)
    dev = resolve_device(device)
    content = resize_long_side(load_image(CONTENT, config.max_pixels)[0], size).to(dev)
    style = resize_long_side(load_image(STYLE, config.max_pixels)[0], size).to(dev)
    objective = Objective(backbone_for(config, dev), content, [style], config)
    start = initial_image(content, style, config.init, config.seed)
    optimise(objective, start, StyleConfig(iterations=3), [])  # warm-up: allocator, kernels
    stamps: list[float] = []
    optimise(objective, start, config, [lambda p: stamps.append(time.perf_counter())])
    if dev.type == "cuda":
        torch.cuda.synchronize()
        peak_mib = torch.cuda.max_memory_allocated() / 2**20
    else:  # ru_maxrss is in KiB on Linux
        peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    per_iteration = (stamps[-1] - stamps[0]) / (len(stamps) - 1)
    return {"size": size, "height_width": list(content.shape[-2:]), "seconds_per_iteration": round(per_iteration, 4),
            "peak_memory_mib": round(peak_mib, 1), "iterations_timed": len(stamps) - 1}


def machine(device: str) -> dict[str, object]:
    """What the numbers were measured on."""
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor()) if Path("/proc/cpuinfo").exists() else ""
    info: dict[str, object] = {"cpu": cpu, "cpu_threads": torch.get_num_threads(), "python": platform.python_version(),
                               "torch": torch.__version__, "platform": platform.platform()}
    if torch.cuda.is_available() and device != "cpu":
        info["gpu"] = torch.cuda.get_device_name()
    return info


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[256, 512])
    parser.add_argument("--iterations", type=int, default=20)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)  # internal: measure one size, print JSON
    args = parser.parse_args()
    if args.one:
        print(json.dumps(measure(args.one, args.iterations, args.device)))
        return
    results = []
    for size in args.sizes:
        out = subprocess.run([sys.executable, __file__, "--one", str(size), "--iterations", str(args.iterations),
                              "--device", args.device], check=True, capture_output=True, text=True).stdout
        results.append(json.loads(out.strip().splitlines()[-1]))
        print(results[-1], flush=True)
    from brushwork.transfer import resolve_device
    device = resolve_device(args.device).type
    report = {"benchmark": "seconds per iteration of brushwork's default stylize settings (L-BFGS, vgg16-hed)",
              "date": datetime.date.today().isoformat(), "device": device, "machine": machine(args.device),
              "results": results}
    path = ROOT / "bench" / "results" / f"speed-{device}.json"
    path.parent.mkdir(exist_ok=True)
    path.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
