"""The image transformation network of Johnson, Alahi and Fei-Fei (2016), "Perceptual Losses for
Real-Time Style Transfer and Super-Resolution", supplementary material, with the instance
normalisation of Ulyanov, Vedaldi and Lempitsky (2016), "Instance Normalization: The Missing
Ingredient for Fast Stylization".

Input and output are RGB [B,3,H,W] in [0,1]. The network is fully convolutional: any H and W that
are multiples of :data:`MULTIPLE` come out the same size (``pad_to_multiple`` makes any image one).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

#: Two stride-2 convolutions and two 2x upsamplings: H and W must be multiples of 4 to come back equal.
MULTIPLE = 4
#: The 9x9 convolution reflects 4 px, which needs more than 4 px: the smallest side the network takes.
MIN_SIDE = 8


class ConvLayer(nn.Sequential):
    """Reflection padding then a convolution: zero padding would give the borders a dark frame
    (Johnson et al. pad the input by 40 px reflected instead, and use unpadded convolutions)."""

    def __init__(self, channels_in: int, channels_out: int, kernel: int, stride: int = 1) -> None:
        super().__init__(nn.ReflectionPad2d(kernel // 2), nn.Conv2d(channels_in, channels_out, kernel, stride))


def _norm(channels: int) -> nn.InstanceNorm2d:
    # Instance, not batch, normalisation (Ulyanov et al. 2016): each image's contrast is normalised
    # away on its own, at training and at test time alike, which gives visibly better stylisations.
    return nn.InstanceNorm2d(channels, affine=True, track_running_stats=False)


class ResidualBlock(nn.Module):
    """conv-IN-ReLU-conv-IN plus the input; keeps [B,C,H,W]."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.body = nn.Sequential(ConvLayer(channels, channels, 3), _norm(channels), nn.ReLU(),
                                  ConvLayer(channels, channels, 3), _norm(channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class UpsampleConv(nn.Sequential):
    """Nearest-neighbour 2x upsampling followed by a convolution, in place of Johnson et al.'s
    fractionally strided convolution, whose uneven kernel overlap draws checkerboard artefacts
    (Odena, Dumoulin and Olah 2016, "Deconvolution and Checkerboard Artifacts")."""

    def __init__(self, channels_in: int, channels_out: int) -> None:
        super().__init__(nn.Upsample(scale_factor=2, mode="nearest"), ConvLayer(channels_in, channels_out, 3))


class TransformerNet(nn.Module):
    """Johnson et al.'s network: 9x9 conv, two stride-2 convs, residual blocks, two upsamplings, 9x9 conv.

    ``width`` is the channel count of the first layer (32 in the paper; the downsampled layers have
    2x and 4x as many); ``blocks`` the number of residual blocks (5 in the paper).
    """

    def __init__(self, width: int = 32, blocks: int = 5) -> None:
        super().__init__()
        self.width, self.blocks = width, blocks
        w1, w2, w3 = width, 2 * width, 4 * width
        self.layers = nn.Sequential(
            ConvLayer(3, w1, 9), _norm(w1), nn.ReLU(),
            ConvLayer(w1, w2, 3, stride=2), _norm(w2), nn.ReLU(),
            ConvLayer(w2, w3, 3, stride=2), _norm(w3), nn.ReLU(),
            *[ResidualBlock(w3) for _ in range(blocks)],
            UpsampleConv(w3, w2), _norm(w2), nn.ReLU(),
            UpsampleConv(w2, w1), _norm(w1), nn.ReLU(),
            ConvLayer(w1, 3, 9),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """[B,3,H,W] in [0,1], H and W multiples of 4 -> [B,3,H,W] in [0,1]."""
        # Johnson et al.'s scaled tanh, (tanh + 1) / 2 = sigmoid(2x), keeps the output a valid image.
        return torch.sigmoid(2 * self.layers(x))


def seeded_network(width: int, blocks: int, seed: int) -> TransformerNet:
    """A TransformerNet with PyTorch's default initialisation (that of ``nn.Conv2d.reset_parameters``)
    drawn from its own generator seeded by ``seed``: the global random state is neither read nor moved."""
    with torch.device("meta"):  # built without drawing any numbers, then given storage and values
        net = TransformerNet(width, blocks)
    net = net.to_empty(device="cpu")
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for module in net.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_uniform_(module.weight, a=math.sqrt(5), generator=generator)
                bound = 1 / math.sqrt(module.weight[0].numel())
                nn.init.uniform_(module.bias, -bound, bound, generator=generator)
            elif isinstance(module, nn.InstanceNorm2d):
                nn.init.ones_(module.weight)
                nn.init.zeros_(module.bias)
    return net


def pad_to_multiple(x: torch.Tensor) -> tuple[torch.Tensor, tuple[int, int]]:
    """Reflect-pad [B,C,H,W] on the bottom and right to multiples of :data:`MULTIPLE`, at least
    :data:`MIN_SIDE`; returns the padded tensor and the original (H, W) to crop back to."""
    height, width = x.shape[-2:]
    pad_h, pad_w = (max(MIN_SIDE, side + -side % MULTIPLE) - side for side in (height, width))
    if pad_h or pad_w:
        # Reflection needs the pad to be smaller than the side; replicate covers images of a few px.
        mode = "reflect" if pad_h < height and pad_w < width else "replicate"
        x = F.pad(x, (0, pad_w, 0, pad_h), mode=mode)
    return x, (height, width)
