"""The image transformation network of Johnson, Alahi and Fei-Fei (2016), "Perceptual Losses for
Real-Time Style Transfer and Super-Resolution", supplementary material, with the instance
normalisation of Ulyanov, Vedaldi and Lempitsky (2016), "Instance Normalization: The Missing
Ingredient for Fast Stylization", made conditional on the style as in Dumoulin, Shlens and Kudlur
(2017), "A Learned Representation for Artistic Style": one network holds N styles.

Input and output are RGB [B,3,H,W] in [0,1]. The network is fully convolutional: any H and W that
are multiples of :data:`MULTIPLE` come out the same size (``pad_to_multiple`` makes any image one).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from brushwork.colour import pixel_stats
from brushwork.nets.vgg import PREPROCESSORS, Backbone, trunk_layers

#: Two stride-2 convolutions and two 2x upsamplings: H and W must be multiples of 4 to come back equal.
MULTIPLE = 4
#: The 9x9 convolution reflects 4 px, which needs more than 4 px: the smallest side the network takes.
MIN_SIDE = 8
#: How StyleNorm normalises each channel of each image: "instance" takes out its mean and divides by its
#: standard deviation (Ulyanov et al. 2016); "scale" only divides by its root mean square.
NORMALISATIONS = ("instance", "scale")
#: What the last layer adds to: "none" nothing, it paints the whole image, (tanh + 1) / 2 of it (Johnson et
#: al.); "palette" the photo recoloured to the style's palette (``palette_base``), in logit space.
RESIDUALS = ("none", "palette")
#: How many times a "palette" network's base may be downsampled before it is upsampled back (``soften``): 1 keeps
#: the photo's detail, which then passes through to the output unless the network paints over it.
BASE_BLURS = (1, 2, 4)
#: What turns the photo into the residual blocks' input: "own" the network's three convolutions, learnt from
#: scratch (Johnson et al.); "backbone" the backbone's first layers, conv1_1 to relu3_1, frozen (BackboneEncoder).
ENCODERS = ("own", "backbone")
#: Newton-Schulz iterations of the 3x3 matrix square roots: enough for eigenvalues down to 1e-5 of the trace.
_SQRT_ITERATIONS = 40
#: Added to a photo's and a palette's colour covariance (about two 8-bit levels squared), so that a grey
#: photo's missing chroma is not blown up from noise, and the square roots converge: a palette of one hue
#: (flat paper with dots of one colour) has a singular covariance, whose inverse square root overflowed and
#: made the base, and so the whole training step, NaN.
_COVARIANCE_FLOOR = 1e-4
#: The base is kept this far inside [0, 1] before its logit is taken.
LOGIT_EPS = 1e-3


def base_blur_problem(base_blur: object, residual: object) -> str | None:
    """What is wrong with softening the base ``base_blur`` times in a network of ``residual``, or None if nothing:
    it must be one of :data:`BASE_BLURS`, and above 1 only where there is a base (residual "palette")."""
    if base_blur not in BASE_BLURS:
        return f"must be one of {', '.join(map(str, BASE_BLURS))}"
    if base_blur != 1 and residual != "palette":
        return "above 1 needs residual palette (residual none has no base to soften: give 1)"
    return None


class ConvLayer(nn.Sequential):
    """Reflection padding then a convolution: zero padding would give the borders a dark frame
    (Johnson et al. pad the input by 40 px reflected instead, and use unpadded convolutions)."""

    def __init__(self, channels_in: int, channels_out: int, kernel: int, stride: int = 1) -> None:
        super().__init__(nn.ReflectionPad2d(kernel // 2), nn.Conv2d(channels_in, channels_out, kernel, stride))


class StyleNorm(nn.Module):
    """A per-image, per-channel normalisation (``normalisation``: instance, or root mean square) with a
    learned scale and shift per style.

    Per image, not per batch (Ulyanov et al. 2016): each image's contrast is normalised away on its own,
    at training and at test time alike, which gives visibly better stylisations. The scale and shift
    are the style's (conditional instance normalisation, Dumoulin et al. 2017): the
    styles share every convolution, and a blend of styles is the blend of their scales and shifts.
    ``weight`` and ``bias`` are [C] for one style, the state of ``nn.InstanceNorm2d(affine=True)``,
    so that single-style files load as they always did; [N,C] for N styles.

    ``normalisation`` "scale" divides each channel by its root mean square and leaves its mean, as
    StyleGAN2 does (Karras et al. 2020, "Analyzing and Improving the Image Quality of StyleGAN", whose
    generator drew the same droplets): with the mean taken out, a network learns to draw a bright blob
    whose extreme activations steer each channel's statistics (measured: README, "The blob").
    """

    def __init__(self, channels: int, styles: int = 1, normalisation: str = "instance") -> None:
        super().__init__()
        shape = (channels,) if styles == 1 else (styles, channels)
        self.weight = nn.Parameter(torch.ones(shape))
        self.bias = nn.Parameter(torch.zeros(shape))
        self.normalisation = normalisation

    def forward(self, x: torch.Tensor, style_weights: torch.Tensor | None = None) -> torch.Tensor:
        """[B,C,H,W] normalised per image and channel, then scaled and shifted by the styles mixed with
        ``style_weights`` [N] (summing to one; ignored with one style)."""
        weight, bias = self.weight, self.bias
        if weight.dim() == 2:
            if style_weights is None:
                raise ValueError(f"a network of {weight.shape[0]} styles needs style weights")
            weight, bias = style_weights.to(weight.dtype) @ weight, style_weights.to(bias.dtype) @ bias
        if self.normalisation == "instance":
            return F.instance_norm(x, weight=weight, bias=bias, eps=1e-5)  # nn.InstanceNorm2d's eps
        # The mean square in float32: in bfloat16 its 8 bits of mantissa would round the sum of many positions.
        scale = torch.rsqrt(x.float().pow(2).mean(dim=(-2, -1), keepdim=True) + 1e-5).to(x.dtype)
        return x * scale * weight[:, None, None].to(x.dtype) + bias[:, None, None].to(x.dtype)


class BackboneEncoder(nn.Module):
    """The first layers of a VGG backbone, conv1_1 to relu3_1 (the same in VGG-16 and VGG-19), frozen:
    RGB [B,3,H,W] in [0,1] -> [B,widths[2],H/4,W/4], features learnt on ImageNet that the network need not
    learn again from a few thousand crops. ``preprocessing``, ``pooling`` and ``widths`` (the channels of the
    first three blocks: 64, 128, 256 in VGG) are those of the backbone whose weights it holds (``copy_from``);
    a model file stores the weights, so applying a network needs no backbone."""

    LAST = "relu3_1"
    #: Reflected onto each side before the trunk and cropped off its output (at 1/4: 3 positions): the half-width
    #: of relu3_1's receptive field, 24 px. The trunk pads with zeros, and networks fed its features at the
    #: borders drew a dark frame round every image (seen in the short runs, README).
    PAD = 12

    def __init__(self, preprocessing: str = "caffe", pooling: str = "max",
                 widths: tuple[int, int, int] = (64, 128, 256)) -> None:
        super().__init__()
        if preprocessing not in PREPROCESSORS:
            raise ValueError(f"preprocessing {preprocessing!r} is not one of {', '.join(PREPROCESSORS)}")
        self.preprocessing, self.pooling, self.widths = preprocessing, pooling, tuple(widths)
        self.trunk = nn.Sequential(trunk_layers("vgg16", pooling, widths, last=self.LAST))  # type: ignore[arg-type]
        self.requires_grad_(False)

    @classmethod
    def shaped_like(cls, backbone: Backbone) -> BackboneEncoder:
        """An encoder of ``backbone``'s shape, conventions and pooling (its weights still to be copied)."""
        layers = backbone.trunk.layers
        widths = (layers.conv1_1.out_channels, layers.conv2_1.out_channels, layers.conv3_1.out_channels)
        return cls(backbone.preprocessing, backbone.pooling, widths)

    @torch.no_grad()
    def copy_from(self, backbone: Backbone) -> None:
        """Take the weights of the same layers of ``backbone`` (one of :meth:`shaped_like`'s shape)."""
        source = backbone.trunk.layers.state_dict()
        self.trunk.load_state_dict({name: source[name] for name in self.trunk.state_dict()})

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        crop = self.PAD // 4
        features = self.trunk(PREPROCESSORS[self.preprocessing](reflect_pad(x, (self.PAD,) * 4)))
        return features[..., crop:-crop, crop:-crop]


def _sqrt_and_inverse(matrix: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The square root and inverse square root of symmetric positive definite ``matrix`` [B,3,3], by the
    coupled Newton-Schulz iteration (Higham 2008, "Functions of Matrices", eq. 6.35), scaled by the trace
    so that it converges. Matrix products only: ONNX has no eigendecomposition, and this must export."""
    trace = matrix.diagonal(dim1=-2, dim2=-1).sum(-1)[:, None, None]
    eye = torch.eye(3, dtype=matrix.dtype, device=matrix.device).expand_as(matrix)
    y, z = matrix / trace, eye
    for _ in range(_SQRT_ITERATIONS):
        t = 0.5 * (3 * eye - z @ y)
        y, z = y @ t, t @ z
    return y * trace.sqrt(), z / trace.sqrt()


def palette_base(x: torch.Tensor, mean: torch.Tensor, second: torch.Tensor) -> torch.Tensor:
    """Each photo of ``x`` [B,3,H,W] in [0,1] mapped affinely to the RGB ``mean`` [3] and second moment
    ``second`` [3,3] (E[p pᵀ] over a palette's pixels p), clamped to [0,1]: ``colour.match_palette``'s
    image-analogies transform A (p - μ) + μ', A = Σ'^½ Σ^-½, in float32 with exportable square roots."""
    with torch.autocast(x.device.type, enabled=False):
        pixels, own_mean, own = pixel_stats(x, torch.float32)
        floor = _COVARIANCE_FLOOR * torch.eye(3, device=x.device)
        own = own + floor
        target = (second - torch.outer(mean, mean) + floor)[None].expand_as(own)
        transform = _sqrt_and_inverse(target)[0] @ _sqrt_and_inverse(own)[1]
        return (transform @ (pixels - own_mean) + mean[None, :, None]).reshape(x.shape).clamp(0, 1)


def soften(rgb: torch.Tensor, factor: int) -> torch.Tensor:
    """RGB [B,3,H,W] (H and W multiples of ``factor``) without its detail finer than ``factor`` px: downsampled
    ``factor`` times by the tent filter of an antialiased bilinear resize (the borders replicated), then upsampled
    bilinearly to [B,3,H,W]. A convolution of fixed shape and a resize, so that it exports to ONNX."""
    if factor == 1:
        return rgb
    taps = 1 - (torch.arange(2 * factor, dtype=torch.float32) + 0.5 - factor).abs() / factor
    kernel = torch.outer(taps, taps) / taps.sum() ** 2
    kernel = kernel.expand(3, 1, 2 * factor, 2 * factor).to(rgb.device, rgb.dtype)
    pad = factor // 2
    small = F.conv2d(F.pad(rgb, (pad, pad, pad, pad), mode="replicate"), kernel, stride=factor, groups=3)
    return F.interpolate(small, size=rgb.shape[-2:], mode="bilinear", align_corners=False)


def _run(modules: nn.Sequential, x: torch.Tensor, style_weights: torch.Tensor | None) -> torch.Tensor:
    """``modules`` in order, the style weights given to those that take them."""
    for module in modules:
        x = module(x, style_weights) if isinstance(module, (StyleNorm, ResidualBlock)) else module(x)
    return x


class ResidualBlock(nn.Module):
    """conv-IN-ReLU-conv-IN plus the input; keeps [B,C,H,W]."""

    def __init__(self, channels: int, styles: int = 1, normalisation: str = "instance") -> None:
        super().__init__()
        self.body = nn.Sequential(ConvLayer(channels, channels, 3), StyleNorm(channels, styles, normalisation),
                                  nn.ReLU(), ConvLayer(channels, channels, 3), StyleNorm(channels, styles, normalisation))

    def forward(self, x: torch.Tensor, style_weights: torch.Tensor | None = None) -> torch.Tensor:
        return x + _run(self.body, x, style_weights)


class UpsampleConv(nn.Sequential):
    """Nearest-neighbour 2x upsampling followed by a convolution, in place of Johnson et al.'s
    fractionally strided convolution, whose uneven kernel overlap draws checkerboard artefacts
    (Odena, Dumoulin and Olah 2016, "Deconvolution and Checkerboard Artifacts")."""

    def __init__(self, channels_in: int, channels_out: int) -> None:
        super().__init__(nn.Upsample(scale_factor=2, mode="nearest"), ConvLayer(channels_in, channels_out, 3))


class TransformerNet(nn.Module):
    """Johnson et al.'s network: 9x9 conv, two stride-2 convs (or a BackboneEncoder and a 3x3 conv), residual
    blocks, two upsamplings, 9x9 conv.

    ``width`` is the channel count of the first layer (32 in the paper; the downsampled layers have
    2x and 4x as many); ``blocks`` the number of residual blocks (5 in the paper); ``styles`` the
    number of styles it holds (each a scale and shift in every StyleNorm); ``normalisation`` that of
    every StyleNorm (one of :data:`NORMALISATIONS`; "instance" is that of files that do not say);
    ``residual`` what its last layer adds to (one of :data:`RESIDUALS`; "none" is that of files that do
    not say). A "palette" network holds each style's RGB mean and second moment (buffers ``palette_mean``
    [N,3] and ``palette_second`` [N,3,3], set by :meth:`set_palettes`), and adds its change to its base
    softened by ``base_blur`` (one of :data:`BASE_BLURS`; 1, that of files that do not say, keeps its detail).
    ``backbone_encoder`` feeds the residual blocks through a 3x3 convolution instead of the network's own three
    convolutions (``encoder``, one of :data:`ENCODERS`, says which: "own" is that of files that do not say).
    """

    def __init__(self, width: int = 32, blocks: int = 5, styles: int = 1, normalisation: str = "instance",
                 residual: str = "none", backbone_encoder: BackboneEncoder | None = None, base_blur: int = 1) -> None:
        super().__init__()
        if (problem := base_blur_problem(base_blur, residual)) is not None:
            raise ValueError(f"base_blur {base_blur!r}: {problem}")
        if normalisation not in NORMALISATIONS:
            raise ValueError(f"normalisation {normalisation!r} is not one of {', '.join(NORMALISATIONS)}")
        if residual not in RESIDUALS:
            raise ValueError(f"residual {residual!r} is not one of {', '.join(RESIDUALS)}")
        self.width, self.blocks, self.styles, self.normalisation = width, blocks, styles, normalisation
        self.residual, self.base_blur = residual, base_blur
        if residual == "palette":
            self.register_buffer("palette_mean", torch.empty(styles, 3))
            self.register_buffer("palette_second", torch.empty(styles, 3, 3))
            self.neutral_palettes()
        w1, w2, w3 = width, 2 * width, 4 * width

        def norm(channels: int) -> StyleNorm:
            return StyleNorm(channels, styles, normalisation)

        if backbone_encoder is not None:
            head: list[nn.Module] = [backbone_encoder, ConvLayer(backbone_encoder.widths[2], w3, 3), norm(w3),
                                     nn.ReLU()]
        else:
            head = [ConvLayer(3, w1, 9), norm(w1), nn.ReLU(),
                    ConvLayer(w1, w2, 3, stride=2), norm(w2), nn.ReLU(),
                    ConvLayer(w2, w3, 3, stride=2), norm(w3), nn.ReLU()]
        self.layers = nn.Sequential(
            *head,
            *[ResidualBlock(w3, styles, normalisation) for _ in range(blocks)],
            UpsampleConv(w3, w2), norm(w2), nn.ReLU(),
            UpsampleConv(w2, w1), norm(w1), nn.ReLU(),
            ConvLayer(w1, 3, 9),
        )

    @property
    def encoder(self) -> str:
        """Which of :data:`ENCODERS` feeds the residual blocks: "backbone" when the first layer is a BackboneEncoder."""
        return "backbone" if isinstance(self.layers[0], BackboneEncoder) else "own"

    @torch.no_grad()
    def neutral_palettes(self) -> None:
        """Mid grey with a little of every colour, until :meth:`set_palettes` (a valid palette: its
        covariance is positive definite)."""
        self.palette_mean.fill_(0.5)
        self.palette_second.fill_(0.25).add_(0.01 * torch.eye(3, device=self.palette_second.device))

    @torch.no_grad()
    def set_palettes(self, styles: list[torch.Tensor]) -> None:
        """Take each style's palette from its image RGB [1,3,H,W] in [0,1], in the order of the styles."""
        pixels = [s.float().flatten(2)[0] for s in styles]
        self.palette_mean.copy_(torch.stack([p.mean(dim=1) for p in pixels]))
        self.palette_second.copy_(torch.stack([p @ p.T / p.shape[1] for p in pixels]))

    def base(self, x: torch.Tensor, style_weights: torch.Tensor | None = None) -> torch.Tensor:
        """What the last layer of a "palette" network changes: ``x`` [B,3,H,W] recoloured to the blend of its
        styles' palettes by ``style_weights`` (the pooled pixels' mean and covariance, as ``match_palette``)."""
        weights = style_weights.float() if style_weights is not None else torch.ones(1, device=x.device)
        with torch.autocast(x.device.type, enabled=False):  # in float32 under any autocast, as palette_base
            mean = weights @ self.palette_mean.float()
            second = torch.einsum("n,nij->ij", weights, self.palette_second.float())
        return palette_base(x, mean, second)

    def forward(self, x: torch.Tensor, style_weights: torch.Tensor | None = None) -> torch.Tensor:
        """[B,3,H,W] in [0,1], H and W multiples of 4 -> [B,3,H,W] in [0,1]. ``style_weights`` [N], non-negative
        and summing to one, blends the N styles (see :func:`style_vector`); a one-style network needs none."""
        raw = 2 * _run(self.layers, x, style_weights)
        if self.residual == "palette":
            # Starting from the photo in the painting's colours, as the optimisation does, the darks are there
            # from the first step; networks that painted the whole image had none after an hour (README).
            raw = raw + torch.logit(soften(self.base(x, style_weights), self.base_blur), eps=LOGIT_EPS)
        # Johnson et al.'s scaled tanh, (tanh + 1) / 2 = sigmoid(2x), keeps the output a valid image.
        return torch.sigmoid(raw)


def style_vector(weights: tuple[float, ...] | None, count: int) -> torch.Tensor:
    """The blend [count] of a network's styles, scaled to sum to one: ``weights`` (validated by
    ApplyConfig: non-negative, not all zero), by default the first style alone."""
    raw = torch.tensor(weights if weights is not None else (1.0,) + (0.0,) * (count - 1), dtype=torch.float32)
    return raw / raw.sum()


def seeded_network(width: int, blocks: int, seed: int, styles: int = 1, normalisation: str = "instance",
                   residual: str = "none", backbone: Backbone | None = None, base_blur: int = 1) -> TransformerNet:
    """A TransformerNet with PyTorch's default initialisation (that of ``nn.Conv2d.reset_parameters``)
    drawn from its own generator seeded by ``seed``: the global random state is neither read nor moved.
    With a ``backbone`` its encoder is that backbone's first layers ("backbone"), else its own ("own")."""
    with torch.device("meta"):  # built without drawing any numbers, then given storage and values
        encoder = BackboneEncoder.shaped_like(backbone) if backbone is not None else None
        net = TransformerNet(width, blocks, styles, normalisation, residual, encoder, base_blur)
    net = net.to_empty(device="cpu")
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        if backbone is not None:
            net.layers[0].copy_from(backbone)
        for module in net.modules():
            if isinstance(module, nn.Conv2d) and module.weight.requires_grad:  # not the frozen encoder's
                nn.init.kaiming_uniform_(module.weight, a=math.sqrt(5), generator=generator)
                bound = 1 / math.sqrt(module.weight[0].numel())
                nn.init.uniform_(module.bias, -bound, bound, generator=generator)
            elif isinstance(module, StyleNorm):
                nn.init.ones_(module.weight)
                nn.init.zeros_(module.bias)
        if residual == "palette":
            net.neutral_palettes()  # the meta device kept no values
            # The change starts at zero, so the network starts at its base: a random last layer began with
            # noise whose style loss was 50 times the base's (measured at the first steps of a run).
            last = net.layers[-1][1]
            nn.init.zeros_(last.weight)
            nn.init.zeros_(last.bias)
    return net


def pad_to_multiple(x: torch.Tensor) -> tuple[torch.Tensor, tuple[int, int]]:
    """Reflect-pad [B,C,H,W] on the bottom and right to multiples of :data:`MULTIPLE`, at least
    :data:`MIN_SIDE`; returns the padded tensor and the original (H, W) to crop back to."""
    height, width = x.shape[-2:]
    pad_h, pad_w = (max(MIN_SIDE, side + -side % MULTIPLE) - side for side in (height, width))
    if pad_h or pad_w:
        x = reflect_pad(x, (0, pad_w, 0, pad_h))
    return x, (height, width)


def reflect_pad(x: torch.Tensor, pads: tuple[int, int, int, int]) -> torch.Tensor:
    """[B,C,H,W] padded by ``pads`` px (left, right, top, bottom, as ``F.pad``) by reflection where every pad is
    smaller than its side, as reflection needs; else by replication, which covers images of a few px."""
    left, right, top, bottom = pads
    height, width = x.shape[-2:]
    fits = max(left, right) < width and max(top, bottom) < height
    return F.pad(x, pads, mode="reflect" if fits else "replicate")
