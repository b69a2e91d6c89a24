"""What the machine offers: the device to run on, its fast arithmetic, and its free memory."""

from __future__ import annotations

import os
from pathlib import Path

import torch

from brushwork.errors import BrushworkError


def resolve_device(name: str) -> torch.device:
    """``auto`` picks CUDA, then Apple's MPS, then the CPU; other names must be available."""
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise BrushworkError(f"--device {name}: not a device name (use auto, cpu, cuda, cuda:N or mps)") from None
    available = {"cpu": True, "cuda": torch.cuda.is_available(), "mps": torch.backends.mps.is_available()}
    if not available.get(device.type, False):
        raise BrushworkError(f"--device {name}: not available on this machine")
    return device


def has_fast_bfloat16(device: torch.device) -> bool:
    """True where bfloat16 convolutions run natively: CUDA GPUs from Ampere on, CPUs with AVX-512 BF16 or AMX.

    Elsewhere bfloat16 is emulated and slower than float32.
    """
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported(including_emulation=False)
    if device.type == "cpu":
        return bool(torch.backends.mkldnn.is_available() and torch.ops.mkldnn._is_mkldnn_bf16_supported())
    return False


def compute_dtype(precision: str, device: torch.device) -> torch.dtype:
    """The dtype of the network's arithmetic for a ``precision`` setting (auto, float32, bfloat16)."""
    if precision == "auto":
        return torch.bfloat16 if has_fast_bfloat16(device) else torch.float32
    return torch.bfloat16 if precision == "bfloat16" else torch.float32


def available_memory(device: torch.device) -> int:
    """Bytes a new allocation can still get: free GPU memory, or the system's (and cgroup's) available RAM."""
    if device.type == "cuda":
        free, _ = torch.cuda.mem_get_info(device)
        return free
    meminfo = Path("/proc/meminfo")
    if not meminfo.is_file():  # not Linux: assume the physical memory
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    fields = dict(line.split(":", 1) for line in meminfo.read_text().splitlines() if ":" in line)
    available = int(fields["MemAvailable"].split()[0]) * 1024
    limit, usage = Path("/sys/fs/cgroup/memory.max"), Path("/sys/fs/cgroup/memory.current")
    if limit.is_file() and usage.is_file() and limit.read_text().strip() != "max":
        available = min(available, int(limit.read_text()) - int(usage.read_text()))
    return available
