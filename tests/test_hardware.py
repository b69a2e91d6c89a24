"""Device choice, the arithmetic each device does fast, and free memory."""

from __future__ import annotations

import pytest
import torch

from brushwork.errors import BrushworkError
from brushwork.hardware import available_memory, compute_dtype, has_fast_bfloat16, resolve_device


def test_resolve_device() -> None:
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device("auto").type in {"cpu", "cuda", "mps"}
    with pytest.raises(BrushworkError, match="--device gpu9: not a device name"):
        resolve_device("gpu9")
    if not torch.cuda.is_available():
        with pytest.raises(BrushworkError, match="--device cuda: not available on this machine"):
            resolve_device("cuda")


def test_precision_names_map_to_dtypes() -> None:
    cpu = torch.device("cpu")
    assert compute_dtype("float32", cpu) == torch.float32
    assert compute_dtype("bfloat16", cpu) == torch.bfloat16
    assert compute_dtype("auto", cpu) == (torch.bfloat16 if has_fast_bfloat16(cpu) else torch.float32)
    assert compute_dtype("auto", torch.device("meta")) == torch.float32


def test_available_memory_is_plausible() -> None:
    free = available_memory(torch.device("cpu"))
    assert 2**26 < free < 2**44
