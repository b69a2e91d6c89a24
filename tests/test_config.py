"""Settings: every bad value is a one-line error naming its field; every settings dataclass has an
exact JSON round trip with a format version."""

from __future__ import annotations

import json

import pytest

from brushwork.audio.config import AudioConfig
from brushwork.config import QUALITY_PRESETS, SETTINGS_VERSION, StyleConfig
from brushwork.errors import BrushworkError, SettingError
from brushwork.feedforward.config import ApplyConfig, TrainConfig
from brushwork.video.config import VideoConfig


@pytest.mark.parametrize("options, message", [
    ({"size": 0}, "^size 0: must be 32 to 8192 px"),
    ({"size": 100000}, "^size 100000: must be 32 to 8192 px"),
    ({"iterations": 0}, "^iterations 0"),
    ({"style_weight": -1.0}, "^style_weight -1.0: must be zero or positive"),
    ({"tv_weight": float("inf")}, "^tv_weight inf"),
    ({"learning_rate": 0.0}, "^learning_rate"),
    ({"style_layer_weights": (1.0, 2.0)}, "^style_layer_weights .*one weight per style layer \\(5\\)"),
    ({"style_layer_weights": (0.0,) * 5}, "not all zero"),
    ({"content_layers": ()}, "^content_layers"),
    ({"optimizer": "sgd"}, "^optimizer sgd: must be one of lbfgs, adam"),
    ({"max_pixels": 0}, "^max_pixels"),
    ({"tolerance": 1.5}, "^tolerance 1.5: must be 0 to 1"),
    ({"precision": "float16"}, "^precision float16: must be one of auto, float32, bfloat16"),
    ({"checkpointing": "yes"}, "^checkpointing yes"),
])
def test_bad_values(options: dict, message: str) -> None:
    with pytest.raises(SettingError, match=message) as info:
        StyleConfig(**options)
    assert "\n" not in str(info.value) and info.value.field == next(iter(options))


@pytest.mark.parametrize("options, message", [
    ({"base_blur": 3}, "^base_blur 3: must be one of 1, 2, 4"),
    ({"base_blur": 2, "residual": "none"}, "^base_blur 2: above 1 needs residual palette"),
    ({"photo_size": 8}, "^photo_size 8: must be 16 to 8192 px"),
])
def test_bad_training_values(options: dict, message: str) -> None:
    with pytest.raises(SettingError, match=message) as info:
        TrainConfig(**options)
    assert "\n" not in str(info.value) and info.value.field == next(iter(options))


def test_a_network_that_paints_the_whole_image_is_told_to_keep_the_base_sharp() -> None:
    """The soft base is the default; --residual none has no base, and the error says what to give."""
    with pytest.raises(SettingError, match=r"^base_blur 4: above 1 needs residual palette \(residual none has no "
                       r"base to soften: give 1\)$"):
        TrainConfig(residual="none")
    assert TrainConfig(residual="none", base_blur=1).residual == "none"


@pytest.mark.parametrize("kind", [ApplyConfig, VideoConfig])
@pytest.mark.parametrize("value", [0.5, 4.5])
def test_stroke_scale_is_1_to_4_or_as_trained(kind: type[ApplyConfig | VideoConfig], value: float) -> None:
    with pytest.raises(SettingError, match=f"^stroke_scale {value}: must be 1 to 4"):
        kind(stroke_scale=value)
    assert kind().stroke_scale is None and kind(stroke_scale=4).stroke_scale == 4


def test_layer_weights_sum_to_one() -> None:
    assert StyleConfig().layer_weights() == {f"relu{i}_1": 0.2 for i in range(1, 6)}
    weights = StyleConfig(style_layers=("relu1_1", "relu2_1"), style_layer_weights=(1.0, 3.0)).layer_weights()
    assert weights == {"relu1_1": 0.25, "relu2_1": 0.75}


EXAMPLES = [
    StyleConfig(),
    StyleConfig(size=300, scale_iterations=(20, 10), style_blend=(3.0, 7.0), style_masks=("a.png", "b.png"),
                style_layer_weights=(1.0, 2.0, 3.0, 4.0, 0.5), learning_rate=0.1 + 0.2, init="earlier.png",
                preprocessing="imagenet", content_mask="sky.png"),
    AudioConfig(),
    AudioConfig(filters=64, duration=1.25, init="noise", chunk_seconds=1 / 3, chunk_overlap=0.1),
    TrainConfig(),
    TrainConfig(epochs=3, time_limit=0.5, style_layers=("relu1_2", "relu2_2"), precision="float32", base_blur=4,
                photo_size=512),
    ApplyConfig(),
    ApplyConfig(strength=0.3, preserve_colors="histogram", size=640, overwrite=True, stroke_scale=1.6),
]


@pytest.mark.parametrize("config", EXAMPLES, ids=lambda c: type(c).__name__)
def test_settings_round_trip_exactly_through_json(config) -> None:
    data = json.loads(json.dumps(config.to_dict(), allow_nan=False))
    assert data["settings"] == type(config).__name__ and data["version"] == SETTINGS_VERSION
    again = type(config).from_dict(data)
    assert again == config
    assert all(type(getattr(again, name)) is type(getattr(config, name)) for name in vars(config)), \
        "tuples come back as tuples, floats as floats"


@pytest.mark.parametrize("kind", [StyleConfig, VideoConfig])
def test_version_1_settings_keep_their_absolute_total_variation(kind) -> None:
    """Before version 2 the TV weight was absolute (5 by default); read back, it must mean the same."""
    old = {key: value for key, value in kind().to_dict().items() if key not in ("tv_weight", "tv_relative_to")}
    assert kind.from_dict({**old, "version": 1}).tv_relative_to == "none"
    assert kind.from_dict({**old, "version": 1}).tv_weight == 5.0
    assert kind.from_dict({**old, "version": 1, "tv_weight": 0.5}).tv_weight == 0.5
    assert kind.from_dict(old).tv_relative_to == "painting" and kind.from_dict(old).tv_weight == kind().tv_weight


@pytest.mark.parametrize("kind", [StyleConfig, VideoConfig, TrainConfig])
def test_settings_before_version_3_keep_the_hed_backbone_they_meant(kind) -> None:
    """Until version 3 the default backbone was vgg16-hed: settings that did not name one meant it."""
    old = {key: value for key, value in kind().to_dict().items() if key != "weights"}
    assert kind.from_dict({**old, "version": 2}).weights == "vgg16-hed"
    assert kind.from_dict({**old, "version": 1}).weights == "vgg16-hed"
    assert kind.from_dict({**old, "version": 2, "weights": "vgg19"}).weights == "vgg19"
    assert kind.from_dict(old).weights == kind().weights == "vgg19-caffe-q8"


@pytest.mark.parametrize("kind", [ApplyConfig, VideoConfig])
def test_settings_before_version_4_keep_the_network_at_the_images_own_size(kind) -> None:
    """Until version 4 a network ran at each image's size (stroke scale 1) unless the settings said otherwise."""
    old = {key: value for key, value in kind().to_dict().items() if key != "stroke_scale"}
    assert kind.from_dict({**old, "version": 3}).stroke_scale == 1.0
    assert kind.from_dict({**old, "version": 3, "stroke_scale": 2.5}).stroke_scale == 2.5
    assert kind.from_dict(old).stroke_scale is None, "now: as trained"


def test_from_dict_refuses_what_it_cannot_read() -> None:
    data = StyleConfig().to_dict()
    with pytest.raises(SettingError, match="^sizes: not a setting of StyleConfig") as info:
        StyleConfig.from_dict({**data, "sizes": 3})
    assert info.value.field == "sizes"
    with pytest.raises(BrushworkError, match=f"version {SETTINGS_VERSION + 1} is newer .*upgrade brushwork"):
        StyleConfig.from_dict({**data, "version": SETTINGS_VERSION + 1})
    with pytest.raises(BrushworkError, match="settings of TrainConfig, not of StyleConfig"):
        StyleConfig.from_dict(TrainConfig().to_dict())
    with pytest.raises(SettingError, match="^size '512': must be a whole number, not str"):
        StyleConfig.from_dict({**data, "size": "512"})
    with pytest.raises(SettingError, match="^size 0: must be 32 to 8192 px"):
        StyleConfig.from_dict({**data, "size": 0})
    assert StyleConfig.from_dict({"size": 300}) == StyleConfig(size=300), "keys left out take their defaults"


def test_quality_presets_fill_in_what_is_not_given() -> None:
    draft = StyleConfig.for_quality("draft")
    assert draft.size < StyleConfig().size and draft == StyleConfig(**QUALITY_PRESETS["draft"])
    assert StyleConfig.for_quality("draft", size=400).size == 400, "explicit options win"
    assert StyleConfig.for_quality() == StyleConfig()
    assert StyleConfig.for_quality("high").iterations > StyleConfig().iterations
    with pytest.raises(BrushworkError, match="^quality best: must be one of draft, normal, high"):
        StyleConfig.for_quality("best")


def test_layout_term_is_on_by_default_only_from_noise() -> None:
    assert StyleConfig(init="noise").effective_layout_weight() == 1.0
    assert StyleConfig().effective_layout_weight() == 0.0
    assert StyleConfig(init="content", layout_weight=2.5).effective_layout_weight() == 2.5
    assert StyleConfig(init="noise", layout_weight=0.0).effective_layout_weight() == 0.0
    with pytest.raises(SettingError, match="layout_weight -1"):
        StyleConfig(layout_weight=-1.0)
