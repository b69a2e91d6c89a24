"""brushwork's defaults against the textbook loop (bench/baseline.py), side by side in one run.

For each size, each contender runs in a fresh process on the same images, backbone and machine:
wall time from full-size images in memory to the finished image (targets included, weight loading
not), seconds per loss evaluation, and peak memory (ru_maxrss on the CPU, max_memory_allocated on
CUDA). Both results are then scored by one common evaluation: brushwork's objective in float32 at
the output size with the default weights. Also times ``brushwork stylize --quality draft`` end to
end, as a user runs it. Writes ``bench/results/compare-<device>.json``.

    python bench/compare.py [--sizes 256 512 1024] [--baseline-max-seconds 1000 1024=120]

The baseline stops at its next L-BFGS step boundary after its time budget (one for every size, or
SIZE=SECONDS for one size: by default the 1024 px baseline, which would need about an hour on two
CPU cores, is cut at 120 s); a baseline cut short is marked ``"completed": false``, its wall time for
500 evaluations is extrapolated, and its losses are those it had reached.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import ROOT, bench_images, machine, write_report  # noqa: E402

EVALUATIONS = 500


def _synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def run_one(kind: str, size: int, device_name: str, max_seconds: float, output: Path) -> dict[str, object]:
    """Run one contender at ``size`` px in this process; save its image to ``output``; return its timings."""
    from baseline import run_baseline

    from brushwork.api import backbone_for
    from brushwork.config import StyleConfig
    from brushwork.hardware import resolve_device
    from brushwork.image import resize_long_side
    from brushwork.transfer import paint

    device = resolve_device(device_name)
    config = StyleConfig(size=size, device=device_name)
    backbone = backbone_for(config, device)
    content, style = (image.to(device) for image in bench_images())
    count = 0

    def counted(_: object) -> None:
        nonlocal count
        count += 1

    _synchronize(device)
    began = time.perf_counter()
    if kind == "baseline":
        target = resize_long_side(content, size)
        image, count = run_baseline(backbone, target, resize_long_side(style, size), config, EVALUATIONS, max_seconds)
    else:
        image = paint(backbone, content, [style], config, callbacks=[counted])
    _synchronize(device)
    wall = time.perf_counter() - began
    torch.save(image.cpu(), output)
    peak = torch.cuda.max_memory_allocated() if device.type == "cuda" else \
        resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # KiB on Linux
    result: dict[str, object] = {"wall_s": round(wall, 2), "evaluations": count,
                                 "seconds_per_evaluation": round(wall / count, 4), "peak_mib": round(peak / 2**20)}
    if kind == "baseline":
        result["completed"] = count >= EVALUATIONS
        result["wall_s_for_500"] = round(wall / count * EVALUATIONS, 1)
    else:
        result["plan"] = config.plan_scales()
    return result


def score(images: dict[str, torch.Tensor], size: int) -> dict[str, dict[str, float]]:
    """The common evaluation: each image's weighted loss terms under the float32 default objective."""
    from brushwork.api import backbone_for
    from brushwork.config import StyleConfig
    from brushwork.image import resize_long_side
    from brushwork.transfer import Objective

    config = StyleConfig(size=size, precision="float32", device="cpu")
    content, style = (resize_long_side(image, size) for image in bench_images())
    objective = Objective(backbone_for(config, torch.device("cpu")), content, [style], config)
    with torch.no_grad():
        return {name: {term: round(float(v), 5) for term, v in objective(image).items()}
                for name, image in images.items()}


def time_draft() -> dict[str, object]:
    """Wall time of the whole ``brushwork stylize --quality draft`` command on the bundled examples."""
    with tempfile.TemporaryDirectory() as folder:
        command = [sys.executable, "-m", "brushwork", "stylize", str(ROOT / "examples" / "content.jpg"),
                   str(ROOT / "examples" / "style.jpg"), "-o", str(Path(folder) / "draft.png"), "--quality", "draft", "-q"]
        began = time.perf_counter()
        subprocess.run(command, check=True)
        return {"command": "brushwork stylize examples/content.jpg examples/style.jpg -o draft.png --quality draft",
                "wall_s": round(time.perf_counter() - began, 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[256, 512, 1024])
    parser.add_argument("--baseline-max-seconds", nargs="+", default=["1000", "1024=120"])
    parser.add_argument("--device", default="auto")
    parser.add_argument("--one", nargs=3, help=argparse.SUPPRESS)  # internal: KIND SIZE OUTPUT
    args = parser.parse_args()
    if args.one:
        kind, size, output = args.one
        print(json.dumps(run_one(kind, int(size), args.device, float(args.baseline_max_seconds[0]), Path(output))))
        return
    from brushwork.hardware import resolve_device

    device = resolve_device(args.device).type
    budgets = dict(item.split("=") if "=" in item else ("*", item) for item in args.baseline_max_seconds)
    results = []
    with tempfile.TemporaryDirectory() as folder:
        for size in args.sizes:
            entry: dict[str, object] = {"size": size}
            images = {}
            for kind in ("baseline", "brushwork"):
                output = Path(folder) / f"{kind}-{size}.pt"
                out = subprocess.run([sys.executable, __file__, "--one", kind, str(size), str(output), "--device",
                                      args.device, "--baseline-max-seconds",
                                      budgets.get(str(size), budgets.get("*", "inf"))],
                                     check=True, capture_output=True, text=True).stdout
                entry[kind] = json.loads(out.strip().splitlines()[-1])
                images[kind] = torch.load(output)
            losses = score(images, size)
            for kind in images:
                entry[kind]["losses"] = losses[kind]  # type: ignore[index]
            base, ours = entry["baseline"], entry["brushwork"]
            entry["time_ratio"] = round(base["wall_s_for_500"] / ours["wall_s"], 2)  # type: ignore[index]
            entry["equal_or_lower_losses"] = all(losses["brushwork"][t] <= losses["baseline"][t]
                                                 for t in ("content", "style")) if base["completed"] else None
            results.append(entry)
            print(json.dumps(entry), flush=True)
    report = {"benchmark": "brushwork defaults vs the textbook loop (bench/baseline.py), vgg16-hed, "
                           "Tubingen + The Starry Night", "device": device, "machine": machine(device),
              "results": results}
    if device == "cpu":
        report["draft"] = time_draft()
        print(report["draft"])
    write_report("compare", report, device)


if __name__ == "__main__":
    main()
