"""VGG-16/19 convolutional trunks with named layers, and the Backbone that owns their preprocessing.

Layers are named as in the Gatys et al. paper and the Caffe model: ``conv1_1``, ``relu1_1``, ``pool1``,
..., ``relu5_4``. The fully connected classifier is never built: style transfer needs only features.
"""

from __future__ import annotations

import copy
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

import torch
import torch.utils.checkpoint
from torch import nn

from brushwork.errors import BrushworkError, SettingError

Architecture = Literal["vgg16", "vgg19"]
Pooling = Literal["avg", "max"]
Preprocessing = Literal["caffe", "imagenet"]

#: Convolutions per block; the channel widths are 64, 128, 256, 512, 512 for both nets.
BLOCK_DEPTHS: dict[str, tuple[int, ...]] = {"vgg16": (2, 2, 3, 3, 3), "vgg19": (2, 2, 4, 4, 4)}
BLOCK_WIDTHS = (64, 128, 256, 512, 512)

# Caffe models take BGR on a 0-255 scale minus this per-channel mean (listed B, G, R).
CAFFE_MEAN_BGR = (104.00699, 116.66877, 122.67892)
# torchvision models take RGB in [0, 1] normalised by the ImageNet statistics.
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def layer_names(arch: Architecture) -> list[str]:
    """All layer names of a trunk in forward order: conv1_1, relu1_1, conv1_2, relu1_2, pool1, ..."""
    names: list[str] = []
    for block, depth in enumerate(BLOCK_DEPTHS[arch], start=1):
        for i in range(1, depth + 1):
            names += [f"conv{block}_{i}", f"relu{block}_{i}"]
        names.append(f"pool{block}")
    return names


def conv_names(arch: Architecture) -> list[str]:
    """The convolution layer names in forward order (13 for VGG-16, 16 for VGG-19)."""
    return [n for n in layer_names(arch) if n.startswith("conv")]


def arch_for_conv_count(count: int) -> Architecture:
    """The architecture with ``count`` convolutions; raises ValueError for any other count."""
    for arch in BLOCK_DEPTHS:
        if sum(BLOCK_DEPTHS[arch]) == count:
            return arch  # type: ignore[return-value]
    raise ValueError(f"{count} convolutions match neither VGG-16 (13) nor VGG-19 (16)")


def trunk_layers(arch: Architecture, pooling: Pooling, widths: tuple[int, ...] = BLOCK_WIDTHS,
                 last: str | None = None) -> OrderedDict[str, nn.Module]:
    """The named layers of a trunk in forward order, up to and including ``last`` (default: all), freshly
    initialised: convs that pad by 1 and keep H and W, pools that halve them."""
    layers: OrderedDict[str, nn.Module] = OrderedDict()
    channels = 3
    for block, (depth, width) in enumerate(zip(BLOCK_DEPTHS[arch], widths), start=1):
        for i in range(1, depth + 1):
            layers[f"conv{block}_{i}"] = nn.Conv2d(channels, width, kernel_size=3, padding=1)
            layers[f"relu{block}_{i}"] = nn.ReLU()
            channels = width
            if f"relu{block}_{i}" == last:
                return layers
        # Gatys et al. replace max by average pooling: "slightly more appealing results".
        layers[f"pool{block}"] = nn.AvgPool2d(2, 2) if pooling == "avg" else nn.MaxPool2d(2, 2)
    return layers


class VGGTrunk(nn.Module):
    """The convolutional part of VGG-16 or VGG-19 as named children.

    Input [N,3,H,W] in the weights' own convention (see Backbone); each child keeps H and W (convs
    pad by 1) or halves them (pools). Parameters are named ``conv1_1.weight`` and so on.
    """

    def __init__(self, arch: Architecture, pooling: Pooling,
                 widths: tuple[int, ...] = BLOCK_WIDTHS) -> None:
        """``widths`` are the channels of the five blocks; tests use narrow ones for speed."""
        super().__init__()
        self.arch = arch
        self.layers = nn.Sequential(trunk_layers(arch, pooling, widths))

    def min_side(self, wanted: Iterable[str]) -> tuple[int, str]:
        """(the fewest px on each side of an input that reaches every ``wanted`` layer, the deepest of them)."""
        wanted = set(wanted)
        unknown = wanted - set(self.layers._modules)
        if unknown:
            raise KeyError(f"unknown layer(s) {sorted(unknown)} for {self.arch}")
        order = list(self.layers._modules)
        deepest = max(order.index(name) for name in wanted) if wanted else -1
        pools = sum(1 for name in order[:deepest + 1] if name.startswith("pool"))
        return 2 ** pools, order[deepest] if wanted else ""

    def forward(self, x: torch.Tensor, wanted: Iterable[str], checkpoint: bool = False) -> dict[str, torch.Tensor]:
        """Run only as deep as the deepest wanted layer; return {name: [N,C,h,w]} for each wanted one.

        With ``checkpoint`` the activations between the wanted layers are not kept for the backward
        pass but recomputed there, one stretch at a time: the memory of the largest stretch instead
        of the whole network's, for about one more forward pass of time.
        """
        wanted = set(wanted)
        side, deepest_name = self.min_side(wanted)
        if min(x.shape[-2:]) < side:
            raise BrushworkError(f"an image of {x.shape[-1]}x{x.shape[-2]} px is too small for layer "
                                 f"{deepest_name}: it needs at least {side} px on each side")
        order = list(self.layers._modules)
        deepest = order.index(deepest_name) if wanted else -1
        out: dict[str, torch.Tensor] = {}
        stretch: list[nn.Module] = []
        for name in order[:deepest + 1]:
            stretch.append(self.layers._modules[name])
            if name in wanted or name.startswith("pool"):
                x = _run(stretch, x, checkpoint and x.requires_grad)
                stretch = []
                if name in wanted:
                    out[name] = x
        return out


def _run(layers: list[nn.Module], x: torch.Tensor, checkpoint: bool) -> torch.Tensor:
    """``x`` through ``layers`` in order; with ``checkpoint`` their activations are recomputed in backward."""
    def stretch(y: torch.Tensor) -> torch.Tensor:
        for layer in layers:
            y = layer(y)
        return y
    return torch.utils.checkpoint.checkpoint(stretch, x, use_reentrant=False) if checkpoint else stretch(x)


def _caffe(x: torch.Tensor) -> torch.Tensor:
    """RGB [0,1] -> BGR on a 0-255 scale minus the Caffe mean."""
    mean = x.new_tensor(CAFFE_MEAN_BGR).view(1, 3, 1, 1)
    return x.flip(1) * 255.0 - mean


def _imagenet(x: torch.Tensor) -> torch.Tensor:
    """RGB [0,1] -> (x - ImageNet mean) / ImageNet std."""
    mean = x.new_tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
    std = x.new_tensor(IMAGENET_STD).view(1, 3, 1, 1)
    return (x - mean) / std


PREPROCESSORS = {"caffe": _caffe, "imagenet": _imagenet}


@dataclass(eq=False)
class Backbone:
    """A frozen VGG trunk together with the input convention its weights were trained with.

    ``features`` takes RGB images [N,3,H,W] in [0,1], so weights with different conventions cannot be
    mixed up by callers.
    """

    trunk: VGGTrunk
    preprocessing: Preprocessing
    name: str

    def __post_init__(self) -> None:
        # Channels-last lets oneDNN and cuDNN pick their fastest convolutions (measured: README).
        self.trunk.eval().requires_grad_(False).to(memory_format=torch.channels_last)

    @property
    def layer_names(self) -> list[str]:
        """Every layer name this backbone can return."""
        return layer_names(self.trunk.arch)

    def check_layers(self, layers: Iterable[str], field: str) -> None:
        """Raise a SettingError naming the setting ``field`` if a layer name does not exist in this trunk."""
        known = self.layer_names
        for layer in layers:
            if layer not in known:
                raise SettingError(
                    field, f"{field}: unknown layer '{layer}' for {self.trunk.arch} "
                    f"(known: {', '.join(n for n in known if n.startswith('relu'))}, and conv/pool names)"
                )

    def features(self, rgb: torch.Tensor, layers: Iterable[str], checkpoint: bool = False) -> dict[str, torch.Tensor]:
        """{layer: activation [N,C,h,w]} for RGB input [N,3,H,W] in [0,1] (see VGGTrunk.forward)."""
        x = PREPROCESSORS[self.preprocessing](rgb).contiguous(memory_format=torch.channels_last)
        return self.trunk(x, layers, checkpoint)

    @property
    def pooling(self) -> Pooling:
        """The trunk's pooling: "avg" or "max"."""
        return "avg" if isinstance(self.trunk.layers.pool1, nn.AvgPool2d) else "max"

    @property
    def device(self) -> torch.device:
        """Where the trunk's weights are."""
        return next(self.trunk.parameters()).device

    def to(self, device: torch.device | str) -> Backbone:
        """This backbone on ``device``: itself if it is there, else a copy (never moved in place, as
        other jobs may be using it)."""
        device = torch.device(device)
        here = self.device
        if here.type == device.type and device.index in (None, here.index):
            return self
        return Backbone(copy.deepcopy(self.trunk).to(device), self.preprocessing, self.name)
