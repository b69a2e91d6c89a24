"""What the benchmarks share: their images, the machine description, the report writer and the stacking of
picture rows."""

from __future__ import annotations

import datetime
import json
import platform
from importlib.metadata import version
from pathlib import Path

import torch
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "images"


def bench_images() -> tuple[torch.Tensor, torch.Tensor]:
    """(content, style) RGB [1,3,H,W] in [0,1] at full size: Tübingen and The Starry Night from
    ../shared/images, or the bundled examples where that folder is missing."""
    from brushwork.image import load_image

    pair = (SHARED / "content" / "tubingen.jpg", SHARED / "style" / "starry_night.jpg")
    if not all(path.is_file() for path in pair):
        pair = (ROOT / "examples" / "content.jpg", ROOT / "examples" / "style.jpg")
    return load_image(pair[0], 10**8)[0], load_image(pair[1], 10**8)[0]


def machine(device: str) -> dict[str, object]:
    """What the numbers were measured on."""
    cpuinfo = Path("/proc/cpuinfo")
    cpu = next((line.split(":", 1)[1].strip() for line in cpuinfo.read_text().splitlines()
                if line.startswith("model name")), "") if cpuinfo.is_file() else platform.processor()
    info: dict[str, object] = {"cpu": cpu, "cpu_threads": torch.get_num_threads(), "python": platform.python_version(),
                               "torch": torch.__version__, "brushwork": version("brushwork"),
                               "platform": platform.platform()}
    if device == "cuda":
        info["gpu"] = torch.cuda.get_device_name()
        info["cuda"] = torch.version.cuda
    return info


def write_report(name: str, report: dict[str, object], device: str = "cpu", path: Path | None = None) -> Path:
    """Write ``report`` with today's date to ``path`` (default bench/results/NAME-DEVICE.json) and
    return the path."""
    path = path or ROOT / "bench" / "results" / f"{name}-{device}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"date": datetime.date.today().isoformat(), **report}, indent=2) + "\n")
    print(f"wrote {path}")
    return path


def stack_images(rows: list[Image.Image], gap: int) -> Image.Image:
    """``rows`` one above the other, left-aligned on white, ``gap`` px apart; as wide as the widest."""
    sheet = Image.new("RGB", (max(r.width for r in rows), sum(r.height for r in rows) + gap * (len(rows) - 1)),
                      "white")
    y = 0
    for row in rows:
        sheet.paste(row, (0, y))
        y += row.height + gap
    return sheet
