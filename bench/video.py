"""Video benchmark: flicker (the warping error of Lai et al. 2018) of per-frame and temporally
consistent stylisation on both paths, beside the input's own (the floor); the style and content
losses of their frames; fast-path frames per second and optimisation seconds per frame.

    python bench/video.py --model starry.onnx --style starry_night.jpg [--seconds 3] [--size 640]
        [--optim-size 256 --optim-frames 8 --optim-iterations 150 --optim-later 75] [--blends 0.3,0.4,0.5,0.6]

Writes bench/results/video-cpu.json. The losses are those of ``brushwork stylize``'s defaults
(the default backbone, Gatys layers; vgg16-hed until settings version 3), each frame against its own input frame and the style image, averaged over
the frames. On a loaded machine wall times mislead: ``cpu_seconds_whole_call`` is the process's CPU
time (all its threads) for the whole call, ``load_average_*`` says what else ran.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from common import ROOT, machine, write_report
from PIL import Image

from brushwork.config import StyleConfig
from brushwork.image import load_image, resize_long_side
from brushwork.nets.weights import load_backbone
from brushwork.progress import ProgressEvent
from brushwork.losses import ContentLoss, StyleLoss, gram_matrix
from brushwork.video.api import input_frames, stylize_video
from brushwork.video.config import VideoConfig
from brushwork.video.io import probe
from brushwork.video.metric import warping_error
from brushwork.video.temporal import to_tensor
from brushwork.video.work import frame_name

VIDEO = ROOT.parent / "shared" / "videos" / "bigbuckbunny.mp4"


class Losses:
    """Content and style loss of output frames (StyleConfig defaults, float32): the style's Gram
    matrices and each input frame's content features computed once, for every run."""

    def __init__(self, style: torch.Tensor, long_side: int) -> None:
        self.config = StyleConfig(size=long_side, precision="float32")
        self.backbone = load_backbone(self.config.weights, pooling=self.config.pooling)
        with torch.no_grad():
            features = self.backbone.features(resize_long_side(style, long_side), self.config.style_layers)
        self.style = [StyleLoss(gram_matrix(features[layer]), self.config.style_weight * weight)
                      for layer, weight in self.config.layer_weights().items()]
        self.content: dict[int, list[ContentLoss]] = {}

    @torch.no_grad()
    def __call__(self, outputs: list[np.ndarray], inputs: list[np.ndarray], every: int) -> dict[str, float]:
        """Mean content and style loss of every ``every``-th output frame."""
        layers = [*self.config.content_layers, *self.config.style_layers]
        terms: dict[str, list[float]] = {"content": [], "style": []}
        for t in range(0, len(outputs), every):
            if t not in self.content:
                target = self.backbone.features(to_tensor(inputs[t]), self.config.content_layers)
                self.content[t] = [ContentLoss(target[layer], self.config.content_weight / len(target))
                                   for layer in self.config.content_layers]
            features = self.backbone.features(to_tensor(outputs[t]), layers)
            terms["content"].append(sum(float(loss(features[layer]))
                                        for layer, loss in zip(self.config.content_layers, self.content[t])))
            terms["style"].append(sum(float(loss(features[layer]))
                                      for layer, loss in zip(self.config.style_layers, self.style)))
        return {name: round(float(np.mean(v)), 5) for name, v in terms.items()}


def run(video: Path, style: Path, config: VideoConfig, folder: Path) -> tuple[list[np.ndarray], dict[str, float]]:
    """Stylise into PNG frames; returns them and the timing (frame loop and whole call, seconds)."""
    events: list[ProgressEvent] = []
    began, cpu = time.perf_counter(), time.process_time()
    out = stylize_video(video, style, f"{folder}/", config, callbacks=[events.append])
    whole, cpu = time.perf_counter() - began, time.process_time() - cpu
    frames = [np.asarray(Image.open(p).convert("RGB")) for p in sorted(out.iterdir())]
    loop = events[-1].elapsed
    first = events[0].elapsed
    later = (loop - first) / max(1, len(events) - 1)
    return frames, {"frames": len(frames), "seconds_frame_loop": round(loop, 2), "seconds_whole_call": round(whole, 2),
                    "cpu_seconds_whole_call": round(cpu, 2),
                    "frames_per_second": round(len(frames) / loop, 3), "seconds_per_frame": round(loop / len(frames), 3),
                    "seconds_first_frame": round(first, 3), "seconds_per_later_frame": round(later, 3)}


def measure(name: str, video: Path, style: Path, configs: dict[str, VideoConfig], style_image: torch.Tensor,
            every: int, work: Path, results: dict[str, object], save: Callable[[], object]) -> None:
    """Every config of one path on the same segment into ``results``: warping errors, losses, timing;
    ``save`` after each (a loaded machine may not finish them all)."""
    base = next(iter(configs.values()))
    inputs = [frame.rgb for frame in input_frames(probe(video), base)]
    floor = warping_error(inputs)
    (work / f"{name}-input").mkdir(exist_ok=True)
    for k, rgb in enumerate(inputs):
        Image.fromarray(rgb).save(work / f"{name}-input" / frame_name(k))
    print(f"{name}: {len(inputs)} frames of {inputs[0].shape[1]}x{inputs[0].shape[0]}, input warping error {floor:.5f}",
          file=sys.stderr)
    results.update({"frames": len(inputs), "width": inputs[0].shape[1], "height": inputs[0].shape[0],
                    "warping_error_input": round(floor, 6), "runs": {}})
    score = Losses(style_image, max(inputs[0].shape[:2]))
    for label, config in configs.items():
        outputs, timing = run(video, style, config, work / f"{name}-{label}")
        error = warping_error(inputs, outputs)
        entry = {"settings": {k: v for k, v in config.to_dict().items() if k not in ("settings", "version")},
                 "warping_error": round(error, 6), **score(outputs, inputs, every),
                 **timing}
        results["runs"][label] = entry  # type: ignore[index]
        print(f"  {label}: warping error {error:.5f}, {entry}", file=sys.stderr)
        Image.fromarray(np.concatenate(outputs[: 4 * every: every], 1)).save(work / f"{name}-{label}.png")
        save()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--video", type=Path, default=VIDEO)
    parser.add_argument("--model", type=Path, required=True, help="a .onnx (or .safetensors) style network")
    parser.add_argument("--style", type=Path, required=True, help="the style image (the model's, for the losses)")
    parser.add_argument("--seconds", type=float, default=3.0, help="fast path: length of the segment from the start")
    parser.add_argument("--size", type=int, default=640, help="fast path: long side in px (640: 640x360)")
    parser.add_argument("--blends", default="0.3,0.4,0.5,0.6", help="fast path: blend weights to measure")
    parser.add_argument("--optim-size", type=int, default=256)
    parser.add_argument("--optim-frames", type=int, default=8)
    parser.add_argument("--optim-iterations", type=int, default=150)
    parser.add_argument("--optim-later", type=int, default=75)
    parser.add_argument("--temporal-weights", default="100", help="optimisation path: temporal weights to measure")
    parser.add_argument("--skip", choices=("fast", "optimisation"), default=None)
    parser.add_argument("--keep", type=Path, default=None, help="keep the frames and strips in this folder")
    parser.add_argument("-o", "--output", type=Path, default=None)
    args = parser.parse_args()
    style_image = load_image(args.style, 10**8)[0]
    report: dict[str, object] = {
        "benchmark": "temporal consistency of video stylisation: warping error (Lai et al. 2018, DIS flow, lower is "
                     "steadier) of per-frame and temporal results beside the input's own; content and style loss of the "
                     "frames (StyleConfig defaults, float32); speed", "machine": machine("cpu"),
        "load_average_at_start": os.getloadavg(), "video": args.video.name, "model": args.model.name,
        "style": args.style.name}

    def save() -> None:
        write_report("video", {**report, "load_average_now": os.getloadavg()}, path=args.output)

    with tempfile.TemporaryDirectory() as tmp:
        work = args.keep or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        if args.skip != "fast":
            # At the frames' own size, as measured before the network ran as trained by default: the flicker
            # of its finest strokes, which the blend is there to calm.
            fast = {"size": args.size, "duration": args.seconds, "stroke_scale": 1.0}
            configs = {"per_frame": VideoConfig(**fast, independent=True)}
            configs.update({f"blend_{b}": VideoConfig(**fast, blend=float(b)) for b in args.blends.split(",")})
            report["fast"] = {"segment_seconds": [0, args.seconds], "default_blend": VideoConfig.blend}
            measure("fast", args.video, args.model, configs, style_image, 10, work, report["fast"], save)
        if args.skip != "optimisation":
            seconds = args.optim_frames / float(probe(args.video).rate)
            common = {"size": args.optim_size, "duration": seconds, "iterations": args.optim_iterations}
            configs = {"per_frame": VideoConfig(**common, independent=True)}
            configs.update({f"temporal_{w}": VideoConfig(**common, later_iterations=args.optim_later,
                                                         temporal_weight=float(w))
                            for w in args.temporal_weights.split(",")})
            report["optimisation"] = {"segment_seconds": [0, round(seconds, 3)]}
            measure("optimisation", args.video, args.style, configs, style_image, 1, work, report["optimisation"],
                    save)


if __name__ == "__main__":
    main()
