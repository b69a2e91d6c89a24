"""brushwork's defaults against the textbook loop of issue 15 (bench/textbook.py), side by side in one run.

For each size, each contender runs in a fresh process on the same images and machine: wall time from
full-size images in memory to the finished image (targets included, weight loading not), seconds per
loss evaluation, and peak memory (ru_maxrss on the CPU, max_memory_allocated on CUDA). Both results
are then judged by the independent scorer (bench/quality.py, a network neither optimises; lower is
better on both axes), so the time ratio is one at a known quality. The default run also keeps its
image every ``--snapshot-every`` iterations of its last scale with the time it was reached (the copy is
not timed), and these are judged afterwards: ``reaches_textbook`` is the first moment the default's
image is at least as good as the textbook's finished one on both axes. Also times ``brushwork stylize
--quality draft`` end to end, as a user runs it. Writes ``bench/results/compare-<device>.json``.

    python bench/compare.py [--sizes 512] [--pair tubingen_starry] [--evaluations 300]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import ROOT, SHARED, machine, write_report  # noqa: E402

#: Each contender and the settings it runs brushwork with (the textbook loop takes none): the defaults,
#: and the defaults on a shorter schedule, to see how soon brushwork passes the textbook's scores.
CONTENDERS: dict[str, dict[str, object]] = {"textbook": {}, "brushwork": {}, "brushwork-short": {"scale_iterations": (100, 50)}}


def pair_images(pair: str) -> tuple[torch.Tensor, torch.Tensor]:
    """(photo, painting) RGB [1,3,H,W] in [0,1] at full size for a reference pair name such as
    ``tubingen_starry``."""
    from quality import pair_of

    from brushwork.image import load_image

    content, style, _ = pair_of(pair, SHARED)
    return load_image(content, 10**8)[0], load_image(style, 10**8)[0]


def _synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def run_one(kind: str, size: int, pair: str, device_name: str, evaluations: int, output: Path,
            snapshot_every: int) -> dict[str, object]:
    """Run one contender at ``size`` px in this process; save its image (and, for the defaults, the snapshots
    of its last scale with their times) to ``output``; return its timings."""
    from textbook import textbook

    from brushwork.api import backbone_for
    from brushwork.config import StyleConfig
    from brushwork.hardware import resolve_device
    from brushwork.image import resize_long_side
    from brushwork.nets.weights import load_backbone
    from brushwork.progress import ProgressEvent
    from brushwork.transfer import paint

    device = resolve_device(device_name)
    config = StyleConfig(size=size, device=device_name, **CONTENDERS[kind])  # type: ignore[arg-type]
    backbone = load_backbone("vgg16-hed", pooling="avg").to(device) if kind == "textbook" else \
        backbone_for(config, device)
    content, style = (image.to(device) for image in pair_images(pair))
    count, snapshots, untimed = 0, [], 0.0
    last_stage = f"scale {len(config.plan_scales())}/{len(config.plan_scales())}"

    def counted(*event: object) -> None:
        nonlocal count, untimed
        count += 1
        if kind == "brushwork" and event and isinstance(event[0], ProgressEvent) and event[0].stage == last_stage \
                and event[0].step % snapshot_every == 0:
            copied = time.perf_counter()
            image = event[0].preview()
            snapshots.append((copied - began - untimed, image))
            untimed += time.perf_counter() - copied

    _synchronize(device)
    began = time.perf_counter()
    if kind == "textbook":
        image = textbook(backbone, resize_long_side(content, size), resize_long_side(style, size), evaluations,
                         counted)
    else:
        image = paint(backbone, content, [style], config, callbacks=[counted])
    _synchronize(device)
    wall = time.perf_counter() - began - untimed
    torch.save({"image": image.cpu(), "snapshots": snapshots}, output)
    peak = torch.cuda.max_memory_allocated() if device.type == "cuda" else \
        resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # KiB on Linux
    result: dict[str, object] = {"wall_s": round(wall, 2), "evaluations": count,
                                 "seconds_per_evaluation": round(wall / count, 4), "peak_mib": round(peak / 2**20)}
    if kind != "textbook":
        result["plan"] = config.plan_scales()
    return result


def judge(images: dict[str, torch.Tensor], pair: str) -> dict[str, dict[str, float]]:
    """The independent scores ({"style", "content"}, lower is better) of each image."""
    from quality import Scorer

    scorer = Scorer(*pair_images(pair))
    return {name: {axis: round(value, 4) for axis, value in scorer(image).items()} for name, image in images.items()}


def reaches(snapshots: list[tuple[float, torch.Tensor]], target: dict[str, float], pair: str,
            textbook_s: float) -> dict[str, object]:
    """When the default run's image first scored at least as well as ``target`` on both axes: the seconds
    into the run, the fraction of the textbook loop's wall time, and the scores then (None if never)."""
    scored = judge({f"{i}": image for i, (_, image) in enumerate(snapshots)}, pair)
    for i, (seconds, _) in enumerate(snapshots):
        if all(scored[f"{i}"][axis] <= target[axis] for axis in ("style", "content")):
            return {"seconds": round(seconds, 1), "of_textbook_time": round(seconds / textbook_s, 3),
                    "scores": scored[f"{i}"], "snapshots": len(snapshots)}
    return {"seconds": None, "snapshots": len(snapshots),
            "best_style": min(s["style"] for s in scored.values()) if scored else None}


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
    parser.add_argument("--sizes", type=int, nargs="+", default=[512])
    parser.add_argument("--pair", default="tubingen_starry", help="a reference pair of ../shared/images")
    parser.add_argument("--evaluations", type=int, default=300, help="the textbook loop's L-BFGS evaluations")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--snapshot-every", type=int, default=10,
                        help="keep the default run's image every N iterations of its last scale")
    parser.add_argument("--save", type=Path, help="also write each result as SAVE/CONTENDER-SIZE.png")
    parser.add_argument("--one", nargs=3, help=argparse.SUPPRESS)  # internal: KIND SIZE OUTPUT
    args = parser.parse_args()
    if args.one:
        kind, size, output = args.one
        print(json.dumps(run_one(kind, int(size), args.pair, args.device, args.evaluations, Path(output),
                                 args.snapshot_every)))
        return
    from brushwork.hardware import resolve_device
    from brushwork.image import save_image, to_pil

    device = resolve_device(args.device).type
    load = os.getloadavg()  # other work on the machine skews the times (not the scores)
    results = []
    with tempfile.TemporaryDirectory() as folder:
        for size in args.sizes:
            entry: dict[str, object] = {"size": size}
            images, snapshots = {}, []
            for kind in CONTENDERS:
                output = Path(folder) / f"{kind}-{size}.pt"
                out = subprocess.run([sys.executable, __file__, "--one", kind, str(size), str(output), "--device",
                                      args.device, "--pair", args.pair, "--evaluations", str(args.evaluations),
                                      "--snapshot-every", str(args.snapshot_every)],
                                     check=True, capture_output=True, text=True).stdout
                entry[kind] = json.loads(out.strip().splitlines()[-1])
                saved = torch.load(output)
                images[kind] = saved["image"]
                if kind == "brushwork":  # only the defaults' run keeps snapshots
                    snapshots = saved["snapshots"]
                if args.save:
                    args.save.mkdir(parents=True, exist_ok=True)
                    save_image(to_pil(images[kind]), args.save / f"{kind}-{size}.png")
            scores = judge(images, args.pair)
            for kind in images:
                entry[kind]["scores"] = scores[kind]  # type: ignore[index]
            for kind in CONTENDERS:
                if kind != "textbook":
                    entry[kind]["time_ratio"] = round(entry["textbook"]["wall_s"] / entry[kind]["wall_s"], 2)  # type: ignore[index]
                    entry[kind]["better_on_both_axes"] = all(  # type: ignore[index]
                        scores[kind][axis] <= scores["textbook"][axis] for axis in ("style", "content"))
            entry["brushwork"]["reaches_textbook"] = reaches(snapshots, scores["textbook"], args.pair,  # type: ignore[index]
                                                             entry["textbook"]["wall_s"])  # type: ignore[index]
            results.append(entry)
            print(json.dumps(entry), flush=True)
    report = {"benchmark": f"brushwork defaults vs the textbook loop of issue 15 (bench/textbook.py), {args.pair}, "
                           "judged by the independent scorer (bench/quality.py; lower is better)",
              "device": device, "machine": machine(device), "load_average_at_start": [round(x, 2) for x in load],
              "results": results}
    if device == "cpu":
        report["draft"] = time_draft()
        print(report["draft"])
    write_report("compare", report, device)


if __name__ == "__main__":
    main()
