"""What the machine offers: the device to run on, its fast arithmetic, and its free memory."""

from __future__ import annotations

import functools
import os
from pathlib import Path

import torch

from brushwork.errors import SettingError


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
        raise SettingError.of("device", name, "not a device name (use auto, cpu, cuda, cuda:N or mps)") from None
    available = {"cpu": True, "cuda": torch.cuda.is_available(), "mps": torch.backends.mps.is_available()}
    if not available.get(device.type, False):
        raise SettingError.of("device", name, "not available on this machine")
    return device


@functools.cache
def _cpu_flags() -> frozenset[str]:
    """The CPU's feature flags from /proc/cpuinfo (Linux); empty elsewhere."""
    info = Path("/proc/cpuinfo")
    return frozenset(info.read_text().split() if info.is_file() else ())


def _onednn_bf16() -> bool:
    """Whether oneDNN runs bfloat16 convolutions here at all (natively or emulated)."""
    return bool(torch.backends.mkldnn.is_available() and torch.ops.mkldnn._is_mkldnn_bf16_supported())


def has_fast_bfloat16(device: torch.device) -> bool:
    """True where bfloat16 convolutions run natively: CUDA GPUs from Ampere on, x86 CPUs with AVX-512
    BF16 or AMX, ARM CPUs with the BF16 extension.

    Elsewhere bfloat16 is emulated (oneDNN does so on any AVX-512 CPU, CUDA on GPUs before Ampere) and
    slower than float32. Where it is native it pays: a training step of 4 x 256 px crops took 9.3 s
    against 13.5 s in float32 on an AVX-512 BF16 CPU (README).
    """
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported(including_emulation=False)
    if device.type == "cpu":
        native = {"avx512_bf16", "amx_bf16", "bf16"} & _cpu_flags()  # "bf16": the aarch64 flag
        return bool(native) and _onednn_bf16()
    return False


def compute_dtype(precision: str, device: torch.device) -> torch.dtype:
    """The dtype of the networks' arithmetic for a ``precision`` setting (auto, float32, bfloat16): the
    one decision for stylize, train and apply. auto is bfloat16 only where it is native."""
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
