"""Device choice, the one decision about bfloat16 (never where it is emulated), and free memory."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from feedforward_fixtures import TINY, photo_dir, session_backbone, style_file, tiny_model  # noqa: F401

from brushwork import hardware
from brushwork.errors import SettingError
from brushwork.feedforward.apply import open_engine
from brushwork.feedforward.config import ApplyConfig
from brushwork.feedforward.trainer import train_style_network
from brushwork.hardware import available_memory, compute_dtype, resolve_device
from brushwork.nets.vgg import Backbone

CPU, CUDA = torch.device("cpu"), torch.device("cuda")


def test_resolve_device() -> None:
    assert resolve_device("cpu") == CPU
    assert resolve_device("auto").type in {"cpu", "cuda", "mps"}
    with pytest.raises(SettingError, match="^device gpu9: not a device name") as info:
        resolve_device("gpu9")
    assert info.value.field == "device"
    if not torch.cuda.is_available():
        with pytest.raises(SettingError, match="^device cuda: not available on this machine"):
            resolve_device("cuda")


def _gpu(monkeypatch: pytest.MonkeyPatch, native: bool) -> None:
    """A GPU that runs bfloat16 natively, or one (before Ampere) where CUDA only emulates it."""
    monkeypatch.setattr(torch.cuda, "is_bf16_supported",
                        lambda including_emulation=True: native or including_emulation)


def _cpu(monkeypatch: pytest.MonkeyPatch, flags: set[str]) -> None:
    """A CPU with these /proc/cpuinfo flags, on which oneDNN offers bfloat16 (emulated on plain AVX-512)."""
    monkeypatch.setattr(hardware, "_cpu_flags", lambda: flags)
    monkeypatch.setattr(hardware, "_onednn_bf16", lambda: True)


@pytest.mark.parametrize("native", [True, False])
def test_auto_takes_bfloat16_only_where_a_gpu_has_it_natively(monkeypatch: pytest.MonkeyPatch, native: bool) -> None:
    _gpu(monkeypatch, native)
    assert compute_dtype("auto", CUDA) == (torch.bfloat16 if native else torch.float32)
    assert compute_dtype("bfloat16", CUDA) == torch.bfloat16, "asked for explicitly, it is given"


@pytest.mark.parametrize("flags, dtype", [({"avx512f", "avx512bw", "avx512_bf16"}, torch.bfloat16),
                                          ({"amx_bf16", "amx_tile"}, torch.bfloat16),
                                          ({"avx512f", "avx512bw"}, torch.float32),  # oneDNN would emulate it
                                          (set(), torch.float32)])
def test_auto_takes_bfloat16_only_where_a_cpu_has_it_natively(monkeypatch: pytest.MonkeyPatch, flags: set[str],
                                                              dtype: torch.dtype) -> None:
    _cpu(monkeypatch, flags)
    assert compute_dtype("auto", CPU) == dtype
    assert compute_dtype("float32", CPU) == torch.float32
    assert compute_dtype("auto", torch.device("meta")) == torch.float32


@pytest.mark.parametrize("native", [True, False])
def test_train_and_apply_follow_the_same_decision(monkeypatch: pytest.MonkeyPatch, native: bool, photo_dir: Path,
                                                  style_file: Path, session_backbone: Backbone, tiny_model: Path,
                                                  tmp_path: Path) -> None:
    _cpu(monkeypatch, {"avx512f", "avx512bw"} | ({"avx512_bf16"} if native else set()))
    notes: list[str] = []
    train_style_network(style_file, photo_dir, tmp_path / "m.safetensors", backbone=session_backbone, log=notes.append,
                        **{**TINY, "steps": 1, "validation_count": 0, "device": "cpu"})
    assert ("bf16 autocast" if native else "float32") in notes[1]
    engine, _ = open_engine(tiny_model, ApplyConfig(device="cpu"))
    assert engine.dtype == (torch.bfloat16 if native else torch.float32)


def test_available_memory_is_plausible() -> None:
    free = available_memory(CPU)
    assert 2**26 < free < 2**44
