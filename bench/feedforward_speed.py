"""Seconds per image of a style network at several sizes, PyTorch and onnxruntime side by side.

The network is a trained model file or, without one, Johnson et al.'s network with random weights
(the time does not depend on the weights). The photo is the bundled example resized to each size on
its long side. Both engines get the same number of threads. Writes
``bench/results/feedforward-speed-<device>.json`` with the machine, date and versions.

    python bench/feedforward_speed.py [--model MODEL] [--sizes 512 1024] [--repeats 5]
"""

from __future__ import annotations

import argparse
import datetime
import json
import tempfile
import time
from collections.abc import Callable
from importlib.metadata import version
from pathlib import Path

import torch
from speed import CONTENT, ROOT, machine  # bench/speed.py

from brushwork.feedforward.apply import TorchEngine, run_padded
from brushwork.feedforward.model_file import load_style_network, save_style_network
from brushwork.feedforward.network import TransformerNet
from brushwork.feedforward.onnx_export import OnnxEngine, export_onnx
from brushwork.image import load_image, resize_long_side


def seconds(run: Callable[[], object], repeats: int) -> float:
    """The median of ``repeats`` timed runs after one warm-up."""
    run()
    times = []
    for _ in range(repeats):
        began = time.perf_counter()
        run()
        times.append(time.perf_counter() - began)
    return sorted(times)[len(times) // 2]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=None)
    parser.add_argument("--sizes", type=int, nargs="+", default=[512, 1024])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--device", default="cpu", help="of the PyTorch engine (onnxruntime runs on the CPU)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        model_path = args.model or Path(tmp) / "random.safetensors"
        if args.model is None:
            torch.manual_seed(0)
            save_style_network(TransformerNet(), model_path, {"style": "random weights"})
        onnx_path = Path(tmp) / "model.onnx"
        export_onnx(model_path, onnx_path)
        engines = {"torch": TorchEngine(load_style_network(model_path), torch.device(args.device)),
                   "onnxruntime": OnnxEngine(onnx_path)}
        photo = load_image(CONTENT, 10**9)[0]
        results = []
        for size in args.sizes:
            image = resize_long_side(photo, size)
            row: dict[str, object] = {"size": size, "height_width": list(image.shape[-2:])}
            for name, engine in engines.items():
                with torch.no_grad():
                    row[f"{name}_seconds"] = round(seconds(lambda: run_padded(engine, image), args.repeats), 4)
            results.append(row)
            print(row, flush=True)
    report = {"benchmark": "seconds per image of a feed-forward style network (Johnson et al., width 32, "
                           "5 residual blocks), median of --repeats",
              "date": datetime.date.today().isoformat(), "device": args.device,
              "machine": {**machine(args.device), "onnxruntime": version("onnxruntime"),
                          "brushwork": version("brushwork")},
              "model": args.model.name if args.model else "random weights", "results": results}
    out = ROOT / "bench" / "results" / f"feedforward-speed-{args.device}.json"
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
