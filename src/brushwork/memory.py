"""How much memory a run needs, decided before it starts: checkpointing when short, an error when hopeless.

The model is measured, not derived (bench/memory.py fits it): a fixed part for the process, the
weights and the images, plus bytes per output pixel for the network's activations (which depend on
the arithmetic and on checkpointing) and for L-BFGS's history of image-sized vectors.

Jobs running side by side in one process (threads of a server) plan under one lock, each counting
the memory that the others have reserved and not yet used, so that two plans never both count the
same free memory.
"""

from __future__ import annotations

import math
import threading
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import torch

from brushwork.config import StyleConfig
from brushwork.errors import SettingError
from brushwork.hardware import available_memory, compute_dtype

#: L-BFGS keeps two image-sized float32 vectors per remembered step; beyond this many bytes the
#: history is shortened (above about 1400 px it falls below 50 steps).
LBFGS_HISTORY_BYTES = 2**30
#: Measured peaks (bench/results/memory-cpu.json): the process before the first image, in bytes ...
FIXED_BYTES = 560 * 2**20
#: ... and the activations kept for the backward pass, in bytes per output pixel, by (bfloat16,
#: checkpointing): bfloat16 from the 2048 px peaks of the default VGG-19 (5.13 GiB plain, 3.46 GiB checkpointed,
#: with 1 GiB of L-BFGS history; HED's VGG-16 needed 4.81 and 3.31 GiB, so it is planned with room to spare);
#: float32 keeps every activation at twice the bytes. The 512 and 1024 px peaks are too close to the fixed part
#: to fit these well.
ACTIVATION_BYTES = {(False, False): 2460, (True, False): 1230, (False, True): 1320, (True, True): 660}

_lock = threading.Lock()
#: Bytes that running plans of this process hold, by device name (see :func:`memory_plan`).
_reserved: Counter[str] = Counter()


def lbfgs_history(pixels: int) -> int:
    """Steps of L-BFGS history for an image of ``pixels`` (H*W): 50, fewer for large images.

    50 rather than torch's 100: measured at 512 px, equal losses after equal iterations, 4% less time.
    """
    return max(5, min(50, LBFGS_HISTORY_BYTES // (2 * 3 * pixels * 4)))


def peak_bytes(pixels: int, dtype: torch.dtype, checkpoint: bool, optimizer: str = "lbfgs", octaves: int = 1) -> int:
    """Estimated peak memory of optimising an image of ``pixels`` (H*W) px, in bytes.

    With ``octaves`` > 1 the network also runs on the image halved (a quarter of the pixels), halved
    again, ..., and every pass keeps its activations until the backward pass.
    """
    state = 2 * lbfgs_history(pixels) if optimizer == "lbfgs" else 2  # Adam: two moments
    share = sum(4.0**-k for k in range(octaves))
    activations = ACTIVATION_BYTES[(dtype == torch.bfloat16, checkpoint)] * share
    return FIXED_BYTES + round(pixels * (activations + state * 3 * 4))


@contextmanager
def memory_plan(config: StyleConfig, shapes: Sequence[tuple[int, int]], device: torch.device) -> Iterator[list[bool]]:
    """Whether to checkpoint each scale of ``shapes`` [(height, width)], decided before any work.

    Raises a SettingError (size) when the finest scale cannot fit. The free memory is what the
    device reports less what other plans of this process reserved; this plan reserves its finest
    scale's need beyond the fixed part (which one process pays once) until the ``with`` block ends.
    Those reservations overlap the memory their jobs already use, so they err on the safe side.
    """
    key = str(device)
    with _lock:
        free = available_memory(device) - _reserved[key]
        # The finest scale first, so that a run that cannot fit fails on it.
        checkpoints = [choose_checkpointing(config, h, w, device, free) for h, w in reversed(shapes)][::-1]
        height, width = shapes[-1]
        need = peak_bytes(height * width, compute_dtype(config.precision, device), checkpoints[-1],
                          config.optimizer, len(config.style_octaves)) - FIXED_BYTES
        _reserved[key] += need
    try:
        yield checkpoints
    finally:
        with _lock:
            _reserved[key] -= need


def choose_checkpointing(config: StyleConfig, height: int, width: int, device: torch.device,
                         free: int | None = None) -> bool:
    """Whether to checkpoint a run whose finest scale is ``height`` x ``width`` px on ``device``.

    ``config.checkpointing`` auto turns it on only when the run would not fit in ``free`` bytes
    (default: what the device has free) without it. Raises a one-line BrushworkError, before any
    work, when the run cannot fit either way.
    """
    dtype = compute_dtype(config.precision, device)
    free = available_memory(device) if free is None else free
    plain, saving = (peak_bytes(height * width, dtype, c, config.optimizer, len(config.style_octaves)) for c in (False, True))
    checkpoint = config.checkpointing == "on" or (config.checkpointing == "auto" and plain > free)
    if (saving if checkpoint else plain) <= free:
        return checkpoint
    fits = _largest_size(config, height, width, dtype, free, checkpoint or config.checkpointing == "auto")
    hint = " with checkpointing on" if config.checkpointing == "off" and saving <= free else ""
    raise SettingError.of(
        "size", config.size, f"a {width}x{height} px output needs about {(saving if checkpoint else plain) / 2**30:.1f}"
        f" GiB of memory and {device.type} has {free / 2**30:.1f} GiB free: {fits} px or less fits{hint}")


def _largest_size(config: StyleConfig, height: int, width: int, dtype: torch.dtype, free: int,
                  checkpoint: bool) -> int:
    """The largest size whose run fits in ``free`` bytes, for an output of this aspect ratio."""
    ratio = height * width / max(height, width) ** 2
    size = config.size
    while size > 32 and peak_bytes(math.ceil(size * size * ratio), dtype, checkpoint, config.optimizer,
                                   len(config.style_octaves)) > free:
        size = int(size * 0.95)
    return size
