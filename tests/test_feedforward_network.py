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
