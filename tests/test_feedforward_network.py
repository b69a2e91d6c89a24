"""The image transformation network: shapes, ranges, layers, any input size."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from brushwork.feedforward.apply import run_padded
from brushwork.feedforward.network import StyleNorm, TransformerNet, pad_to_multiple, seeded_network, style_vector


def test_output_is_an_image_of_the_input_size() -> None:
    net = TransformerNet(width=4, blocks=1)
    x = torch.rand(2, 3, 32, 48)
    with torch.no_grad():
        y = net(x)
    assert y.shape == x.shape
    assert 0 <= float(y.min()) and float(y.max()) <= 1


def test_layers_are_johnsons_with_instance_norm_reflection_and_upsampling() -> None:
    net = TransformerNet()  # the paper's widths: 32, 64, 128, and 5 residual blocks
    kinds = [type(m) for m in net.modules()]
    assert nn.BatchNorm2d not in kinds and kinds.count(StyleNorm) == 5 + 2 * 5
    assert nn.ConvTranspose2d not in kinds and kinds.count(nn.Upsample) == 2
    assert all(m.mode == "nearest" for m in net.modules() if isinstance(m, nn.Upsample))
    convs = [m for m in net.modules() if isinstance(m, nn.Conv2d)]
    assert all(c.padding == (0, 0) for c in convs), "padding is by reflection, before each conv"
    assert [c.out_channels for c in convs[:3]] == [32, 64, 128] and convs[0].kernel_size == (9, 9)


@pytest.mark.parametrize("height,width", [(30, 45), (33, 17), (64, 64), (3, 2)])
def test_any_size_goes_through_padded(height: int, width: int) -> None:
    net = TransformerNet(width=4, blocks=1)
    x = torch.rand(1, 3, height, width)
    assert run_padded(net, x).shape == x.shape
    padded, size = pad_to_multiple(x)
    assert size == (height, width) and padded.shape[-2] % 4 == 0 and padded.shape[-1] % 4 == 0
    assert torch.equal(padded[..., :height, :width], x)


def test_scale_normalisation_keeps_each_channels_mean_and_divides_by_its_root_mean_square() -> None:
    means = torch.tensor([0.0, 1.0, 5.0])[:, None, None]  # channels of rising mean
    x = torch.rand(2, 3, 8, 8, generator=torch.Generator().manual_seed(0)) + means
    instance, scale = StyleNorm(3).requires_grad_(False), StyleNorm(3, normalisation="scale").requires_grad_(False)
    assert float(instance(x).mean(dim=(-2, -1)).abs().max()) < 1e-5
    y = scale(x)
    assert torch.allclose(y.pow(2).mean(dim=(-2, -1)), torch.ones(2, 3), atol=1e-3)
    assert bool((y.mean(dim=(-2, -1)) > 0.5).all()), "the mean is kept, not taken out"
    # (not exactly: the 1e-5 added to the mean square weighs 49 times less at 7 times the scale)
    assert torch.allclose(scale(7 * x), y, rtol=1e-4, atol=1e-6), "the scale of the input is normalised away"


def test_a_network_normalises_as_it_is_told_and_refuses_other_names() -> None:
    net = seeded_network(4, 1, 0, normalisation="scale")
    norms = {m.normalisation for m in net.modules() if isinstance(m, StyleNorm)}
    assert net.normalisation == "scale" and norms == {"scale"}
    x = torch.rand(1, 3, 16, 16)
    with torch.no_grad():
        assert not torch.allclose(net(x), seeded_network(4, 1, 0)(x)), "the same weights, another normalisation"
    with pytest.raises(ValueError, match="normalisation 'group'"):
        TransformerNet(4, 1, normalisation="group")
