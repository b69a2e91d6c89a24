"""VGG trunks: layer names, shapes, early stop, pooling, preprocessing."""

from __future__ import annotations

import pytest
import torch
from conftest import tiny_trunk

from brushwork.errors import BrushworkError
from brushwork.nets.vgg import Backbone, VGGTrunk, arch_for_conv_count, conv_names, layer_names


def test_layer_names_follow_the_paper() -> None:
    names = layer_names("vgg19")
    assert names[:5] == ["conv1_1", "relu1_1", "conv1_2", "relu1_2", "pool1"]
    assert "relu5_4" in names and "relu5_4" not in layer_names("vgg16")
    assert len(conv_names("vgg16")) == 13 and len(conv_names("vgg19")) == 16
    assert arch_for_conv_count(16) == "vgg19"
    with pytest.raises(ValueError):
        arch_for_conv_count(12)


def test_features_have_the_expected_shapes() -> None:
    trunk = tiny_trunk("vgg19")
    out = trunk(torch.rand(1, 3, 64, 48), ["relu1_1", "relu3_4", "pool5"])
    assert out["relu1_1"].shape == (1, 4, 64, 48)
    assert out["relu3_4"].shape == (1, 8, 16, 12)
    assert out["pool5"].shape == (1, 16, 2, 1)


def test_forward_stops_at_the_deepest_wanted_layer() -> None:
    trunk = tiny_trunk()
    ran: list[str] = []
    for name, module in trunk.layers.named_children():
        module.register_forward_hook(lambda *_, name=name: ran.append(name))
    trunk(torch.rand(1, 3, 32, 32), ["relu2_1"])
    assert ran[-1] == "relu2_1" and "conv2_2" not in ran


def test_pooling_choice() -> None:
    assert isinstance(VGGTrunk("vgg16", "avg").layers.pool1, torch.nn.AvgPool2d)
    assert isinstance(VGGTrunk("vgg16", "max").layers.pool1, torch.nn.MaxPool2d)


def test_unknown_layer_is_a_one_line_error(tiny_backbone: Backbone) -> None:
    with pytest.raises(BrushworkError, match="^style_layers: unknown layer 'relu3_4' for vgg16") as info:
        tiny_backbone.check_layers(["relu1_1", "relu3_4"], "style_layers")
    assert info.value.field == "style_layers"


def test_moving_a_backbone_copies_it_and_leaves_the_shared_one_alone(tiny_backbone: Backbone) -> None:
    assert tiny_backbone.to("cpu") is tiny_backbone, "already there: no copy"
    moved = tiny_backbone.to("meta")
    assert moved is not tiny_backbone and moved.device.type == "meta"
    assert tiny_backbone.device.type == "cpu", "the caller's backbone stays where it was"


class _Identity(VGGTrunk):
    """A trunk that returns its (preprocessed) input, to see the preprocessing."""

    def forward(self, x, wanted, checkpoint=False):  # type: ignore[override]
        return {"input": x}


@pytest.mark.parametrize("convention, expected", [
    # RGB (1, 0.5, 0) -> BGR 0-255 minus the Caffe mean, and -> ImageNet-normalised RGB.
    ("caffe", [0 - 104.00699, 127.5 - 116.66877, 255 - 122.67892]),
    ("imagenet", [(1 - 0.485) / 0.229, (0.5 - 0.456) / 0.224, (0 - 0.406) / 0.225]),
])
def test_backbone_applies_its_own_preprocessing(convention: str, expected: list[float]) -> None:
    backbone = Backbone(_Identity("vgg16", "avg", (4, 4, 4, 4, 4)), convention, name="t")  # type: ignore[arg-type]
    pixel = torch.tensor([1.0, 0.5, 0.0]).view(1, 3, 1, 1)
    assert backbone.features(pixel, [])["input"].flatten().tolist() == pytest.approx(expected, rel=1e-5)


def test_backbone_is_frozen(tiny_backbone: Backbone) -> None:
    assert not any(p.requires_grad for p in tiny_backbone.trunk.parameters())
    assert not tiny_backbone.trunk.training


def test_too_small_an_image_is_a_clear_error(tiny_backbone: Backbone) -> None:
    tiny_backbone.features(torch.rand(1, 3, 16, 40), ["relu5_1"])  # 16 px: four poolings fit
    with pytest.raises(BrushworkError, match="an image of 40x12 px is too small for layer relu5_1: .*16 px"):
        tiny_backbone.features(torch.rand(1, 3, 12, 40), ["relu1_1", "relu5_1"])


def test_checkpointing_gives_the_same_features_and_gradients(tiny_backbone: Backbone) -> None:
    layers = ["relu1_1", "relu3_1", "relu4_2"]
    grads = []
    for checkpoint in (False, True):
        image = torch.rand(1, 3, 40, 48, generator=torch.Generator().manual_seed(0)).requires_grad_(True)
        features = tiny_backbone.features(image, layers, checkpoint)
        sum(f.pow(2).sum() for f in features.values()).backward()
        grads.append((image.grad, features))
    (plain, plain_features), (saved, saved_features) = grads
    assert torch.allclose(plain, saved, atol=1e-6) and plain.abs().sum() > 0
    assert all(torch.equal(plain_features[k], saved_features[k]) for k in layers)
