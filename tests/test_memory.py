"""The memory plan: estimates grow with the image, checkpointing when short, a clear error when hopeless."""

from __future__ import annotations

import pytest
import torch

from brushwork import memory
from brushwork.config import StyleConfig
from brushwork.errors import BrushworkError
from brushwork.memory import choose_checkpointing, lbfgs_history, peak_bytes

CPU = torch.device("cpu")


def test_estimates_grow_with_pixels_and_shrink_with_savings() -> None:
    small, large = (peak_bytes(n, torch.float32, False) for n in (512 * 384, 2048 * 1536))
    assert small < large
    assert peak_bytes(10**6, torch.bfloat16, False) < peak_bytes(10**6, torch.float32, False)
    assert peak_bytes(10**6, torch.float32, True) < peak_bytes(10**6, torch.float32, False)


def test_each_octave_adds_the_activations_of_a_quarter_of_the_pixels() -> None:
    one, two, three = (peak_bytes(10**6, torch.bfloat16, False, octaves=k) for k in (1, 2, 3))
    activations = memory.ACTIVATION_BYTES[(True, False)] * 10**6
    assert two - one == pytest.approx(activations / 4, rel=1e-3)
    assert three - two == pytest.approx(activations / 16, rel=1e-3)


def test_lbfgs_history_is_capped_for_huge_images() -> None:
    assert lbfgs_history(512 * 512) == 50
    assert 5 <= lbfgs_history(4096 * 4096) < 50
    assert 2 * lbfgs_history(2048 * 1536) * 3 * 2048 * 1536 * 4 <= memory.LBFGS_HISTORY_BYTES


def _free(monkeypatch: pytest.MonkeyPatch, gib: float) -> None:
    monkeypatch.setattr(memory, "available_memory", lambda device: int(gib * 2**30))


def test_checkpointing_turns_on_only_when_needed(monkeypatch: pytest.MonkeyPatch) -> None:
    config = StyleConfig(size=2048, precision="float32")
    plain, saving = (peak_bytes(2048 * 1536, torch.float32, c, octaves=len(config.style_octaves)) for c in (False, True))
    _free(monkeypatch, (plain + 2**20) / 2**30)
    assert choose_checkpointing(config, 1536, 2048, CPU) is False
    _free(monkeypatch, (saving + plain) / 2 / 2**30)
    assert choose_checkpointing(config, 1536, 2048, CPU) is True
    assert choose_checkpointing(StyleConfig(checkpointing="on"), 384, 512, CPU) is True


def test_a_run_that_cannot_fit_fails_before_it_starts(monkeypatch: pytest.MonkeyPatch) -> None:
    _free(monkeypatch, 2.0)
    with pytest.raises(BrushworkError, match=r"^size 8192: a 8192x6144 px output needs about [\d.]+ GiB of memory "
                                             r"and cpu has 2.0 GiB free: (\d+) px or less fits$") as info:
        choose_checkpointing(StyleConfig(size=8192), 6144, 8192, CPU)
    assert info.value.field == "size"
    suggested = int(str(info.value).split("free: ")[1].split()[0])
    fits = peak_bytes(suggested * suggested * 3 // 4, torch.bfloat16, True, octaves=len(StyleConfig().style_octaves))
    assert fits <= 2 * 2**30 and suggested > 256


def test_checkpointing_off_suggests_turning_it_on(monkeypatch: pytest.MonkeyPatch) -> None:
    octaves = len(StyleConfig().style_octaves)
    plain, saving = (peak_bytes(2048 * 1536, torch.float32, c, octaves=octaves) for c in (False, True))
    _free(monkeypatch, (saving + plain) / 2 / 2**30)
    with pytest.raises(BrushworkError, match="with checkpointing on"):
        choose_checkpointing(StyleConfig(size=2048, precision="float32", checkpointing="off"), 1536, 2048, CPU)


def test_concurrent_plans_count_each_others_reservations(monkeypatch: pytest.MonkeyPatch) -> None:
    # Room for one plain 2048 px run but not two: the second plan, made while the first runs, must
    # checkpoint (or refuse) instead of counting the same free memory again.
    config = StyleConfig(size=2048, precision="float32")
    plain = peak_bytes(2048 * 1536, torch.float32, False, octaves=len(config.style_octaves))
    _free(monkeypatch, (plain + 2**20) / 2**30)
    with memory.memory_plan(config, [(768, 1024), (1536, 2048)], CPU) as first:
        assert first == [False, False]
        with pytest.raises(BrushworkError, match="^size 2048: "):
            with memory.memory_plan(config, [(1536, 2048)], CPU):
                pass
    with memory.memory_plan(config, [(1536, 2048)], CPU) as again:
        assert again == [False], "the first plan's reservation ended with it"
