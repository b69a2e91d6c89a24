"""Peak memory of style transfer on the CPU, and the fit behind brushwork.memory's estimate.

For each arithmetic (float32, bfloat16) and with checkpointing off and on, a fresh process runs a
few L-BFGS steps at two sizes; the peak resident set (ru_maxrss) gives bytes per output pixel for the
activations once L-BFGS's own state (known exactly) is taken off. Then the default run's peak at
``--large`` px is measured and compared with the estimate. Writes ``bench/results/memory-cpu.json``.

    python bench/memory.py [--sizes 512 1024] [--large 2048]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import bench_images, machine, write_report  # noqa: E402

MODES = [("float32", "off"), ("bfloat16", "off"), ("float32", "on"), ("bfloat16", "on")]


def measure(size: int, precision: str, checkpointing: str, steps: int) -> dict[str, object]:
    """Peak RSS in bytes of ``steps`` L-BFGS steps at ``size`` px in this fresh process."""
    from brushwork.api import backbone_for
    from brushwork.config import StyleConfig
    from brushwork.hardware import compute_dtype
    from brushwork.image import resize_long_side
    from brushwork.memory import lbfgs_history
    from brushwork.optim import optimise
    from brushwork.transfer import Objective

    config = StyleConfig(size=size, iterations=steps, precision=precision, checkpointing=checkpointing,
                         tolerance=0.0, device="cpu")
    content, style = (resize_long_side(image, size) for image in bench_images())
    objective = Objective(backbone_for(config, torch.device("cpu")), content, [style], config,
                          checkpoint=checkpointing == "on")
    optimise(objective, content, config)
    pixels = content.shape[-2] * content.shape[-1]
    return {"size": size, "pixels": pixels, "precision": str(compute_dtype(precision, torch.device("cpu"))),
            "checkpointing": checkpointing, "peak_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
            "lbfgs_state_bytes": 2 * lbfgs_history(pixels) * 3 * pixels * 4}


def run_one(size: int, precision: str, checkpointing: str, steps: int) -> dict[str, object]:
    """``measure`` in a fresh process, so that the peak is that run's alone."""
    out = subprocess.run([sys.executable, __file__, "--one", str(size), precision, checkpointing, str(steps)],
                         check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs=2, default=[512, 1024])
    parser.add_argument("--large", type=int, default=2048)
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--one", nargs=4, help=argparse.SUPPRESS)  # internal: size precision checkpointing steps
    args = parser.parse_args()
    if args.one:
        size, precision, checkpointing, steps = args.one
        print(json.dumps(measure(int(size), precision, checkpointing, int(steps))))
        return
    from brushwork.config import StyleConfig
    from brushwork.memory import FIXED_BYTES, peak_bytes

    fits, runs = [], []
    for precision, checkpointing in MODES:
        small, large = (run_one(size, precision, checkpointing, args.steps) for size in args.sizes)
        runs += [small, large]
        per_pixel = ((large["peak_bytes"] - large["lbfgs_state_bytes"]) - (small["peak_bytes"] - small["lbfgs_state_bytes"])) \
            / (large["pixels"] - small["pixels"])
        fixed = small["peak_bytes"] - small["lbfgs_state_bytes"] - per_pixel * small["pixels"]
        fits.append({"precision": small["precision"], "checkpointing": checkpointing,
                     "activation_bytes_per_pixel": round(per_pixel), "fixed_mib": round(fixed / 2**20)})
        print(fits[-1], flush=True)
    checks = []
    for precision, checkpointing in [("auto", "off"), ("auto", "on")]:
        measured = run_one(args.large, precision, checkpointing, args.steps)
        dtype = torch.bfloat16 if measured["precision"] == "torch.bfloat16" else torch.float32
        measured["estimate_bytes"] = peak_bytes(measured["pixels"], dtype, checkpointing == "on")
        checks.append(measured)
        print(measured, flush=True)
    write_report("memory", {"benchmark": f"peak resident memory of L-BFGS style transfer ({StyleConfig.weights}, CPU)",
                            "machine": machine("cpu"), "fixed_bytes_in_use": FIXED_BYTES, "fits": fits,
                            "runs": runs, "large": checks})


if __name__ == "__main__":
    main()
