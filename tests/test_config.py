"""StyleConfig validation: every bad value is a one-line error naming its option."""

from __future__ import annotations

import pytest

from brushwork.config import QUALITY_PRESETS, StyleConfig
from brushwork.errors import BrushworkError


@pytest.mark.parametrize("options, message", [
    ({"size": 0}, "--size 0: must be 32 to 8192 px"),
    ({"size": 100000}, "--size 100000: must be 32 to 8192 px"),
    ({"iterations": 0}, "--iterations 0"),
    ({"style_weight": -1.0}, "--style-weight -1.0: must be zero or positive"),
    ({"tv_weight": float("inf")}, "--tv-weight inf"),
    ({"learning_rate": 0.0}, "--learning-rate"),
    ({"style_layer_weights": (1.0, 2.0)}, "--style-layer-weights .*one weight per style layer \\(5\\)"),
    ({"style_layer_weights": (0.0,) * 5}, "not all zero"),
    ({"content_layers": ()}, "--content-layers"),
    ({"optimizer": "sgd"}, "--optimizer sgd: must be one of lbfgs, adam"),
    ({"max_pixels": 0}, "--max-pixels"),
    ({"tolerance": 1.5}, "--tolerance 1.5: must be 0 to 1"),
    ({"precision": "float16"}, "--precision float16: must be one of auto, float32, bfloat16"),
    ({"checkpointing": "yes"}, "--checkpointing yes"),
])
def test_bad_values(options: dict, message: str) -> None:
    with pytest.raises(BrushworkError, match=message) as info:
        StyleConfig(**options)
    assert "\n" not in str(info.value)


def test_layer_weights_sum_to_one() -> None:
    assert StyleConfig().layer_weights() == {f"relu{i}_1": 0.2 for i in range(1, 6)}
    weights = StyleConfig(style_layers=("relu1_1", "relu2_1"), style_layer_weights=(1.0, 3.0)).layer_weights()
    assert weights == {"relu1_1": 0.25, "relu2_1": 0.75}


def test_metadata_has_every_setting() -> None:
    meta = StyleConfig(size=300).as_metadata()
    assert meta["size"] == "300" and meta["weights"] == "vgg16-hed" and len(meta) >= 17


def test_quality_presets_fill_in_what_is_not_given() -> None:
    draft = StyleConfig.for_quality("draft")
    assert draft.size < StyleConfig().size and draft == StyleConfig(**QUALITY_PRESETS["draft"])
    assert StyleConfig.for_quality("draft", size=400).size == 400, "explicit options win"
    assert StyleConfig.for_quality() == StyleConfig()
    assert StyleConfig.for_quality("high").iterations > StyleConfig().iterations
    with pytest.raises(BrushworkError, match="--quality best: must be one of draft, normal, high"):
        StyleConfig.for_quality("best")
