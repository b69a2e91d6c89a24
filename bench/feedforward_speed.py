"""Seconds per image of a style network at several sizes, PyTorch and onnxruntime side by side.

The network is a trained model file or, without one, two networks with random weights side by side (the
time does not depend on the weights): Johnson et al.'s (width 32, its own encoder) and one of the training
defaults' shape (width 16, the backbone's first layers as its encoder, root-mean-square normalisation, its change
added to the softened palette base). The photo is the benchmarks' content image (Tübingen, or
the bundled example) resized to each size on its long side. Both engines get the same number of
threads. Writes ``bench/results/feedforward-speed-<device>.json`` with the machine, date and versions.

    python bench/feedforward_speed.py [--model MODEL] [--sizes 512 1024] [--repeats 5]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable
from functools import partial
from importlib.metadata import version
from pathlib import Path

import torch

from brushwork.feedforward.apply import TorchEngine, run_padded
from brushwork.feedforward.model_file import load_style_network, save_style_network
from brushwork.feedforward.config import TrainConfig
from brushwork.feedforward.network import seeded_network
from brushwork.feedforward.onnx_export import OnnxEngine, export_onnx
from brushwork.image import resize_long_side
from brushwork.nets.vgg import Backbone, VGGTrunk

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import bench_images, machine, write_report  # noqa: E402


def seconds(run: Callable[[], object], repeats: int) -> float:
    """The median of ``repeats`` timed runs after one warm-up."""
    run()
    times = []
    for _ in range(repeats):
        began = time.perf_counter()
        run()
        times.append(time.perf_counter() - began)
    return sorted(times)[len(times) // 2]


def random_networks(folder: Path) -> dict[str, Path]:
    """Model files of random networks in ``folder``: {name: path}, Johnson et al.'s shape and the defaults'."""
    torch.manual_seed(0)
    defaults = TrainConfig()
    trunk = Backbone(VGGTrunk("vgg16", defaults.pooling), "caffe", name="random")
    shapes = {"johnson-width-32-own-encoder": seeded_network(32, 5, 0),
              f"width-{defaults.width}-backbone-encoder-soft-palette": seeded_network(
                  defaults.width, defaults.residual_blocks, 0, normalisation=defaults.normalisation,
                  residual=defaults.residual, backbone=trunk, base_blur=defaults.base_blur)}
    for name, net in shapes.items():
        save_style_network(net, folder / f"{name}.safetensors", {"style": "random weights"})
    return {name: folder / f"{name}.safetensors" for name in shapes}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=None)
    parser.add_argument("--sizes", type=int, nargs="+", default=[512, 1024])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--device", default="cpu", help="of the PyTorch engine (onnxruntime runs on the CPU)")
    args = parser.parse_args()
    kind = args.device.split(":")[0]
    with tempfile.TemporaryDirectory() as tmp:
        models = {args.model.name: args.model} if args.model else random_networks(Path(tmp))
        photo = bench_images()[0]
        results = []
        for network, model_path in models.items():
            onnx_path = Path(tmp) / f"{network}.onnx"
            export_onnx(model_path, onnx_path)
            engines = {"torch": TorchEngine(load_style_network(model_path), torch.device(args.device)),
                       "onnxruntime": OnnxEngine(onnx_path)}
            for size in args.sizes:
                image = resize_long_side(photo, size)
                row: dict[str, object] = {"network": network, "size": size, "height_width": list(image.shape[-2:])}
                for name, engine in engines.items():
                    with torch.no_grad():
                        row[f"{name}_seconds"] = round(seconds(partial(run_padded, engine, image), args.repeats), 4)
                results.append(row)
                print(row, flush=True)
    report = {"benchmark": "seconds per image of feed-forward style networks (5 residual blocks), median of --repeats",
              "device": args.device, "machine": {**machine(kind), "onnxruntime": version("onnxruntime")},
              "model": args.model.name if args.model else "random weights", "results": results}
    write_report("feedforward-speed", report, kind)


if __name__ == "__main__":
    main()
