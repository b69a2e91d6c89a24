"""The image transformation network: shapes, ranges, layers, any input size."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from conftest import TINY_WIDTHS, tiny_trunk

from brushwork.feedforward.apply import run_padded
from brushwork.colour import match_palette
from brushwork.feedforward.network import (StyleNorm, TransformerNet, _sqrt_and_inverse, pad_to_multiple, palette_base,
                                           seeded_network, soften, style_vector)
from brushwork.feedforward.trainer import trainable
from brushwork.nets.vgg import Backbone


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


@pytest.mark.parametrize("smallest", [1.0, 1e-2, 1e-4])
def test_the_exportable_square_roots_agree_with_an_eigendecomposition(smallest: float) -> None:
    generator = torch.Generator().manual_seed(1)
    rotation = torch.linalg.qr(torch.randn(4, 3, 3, generator=generator))[0]
    matrix = rotation @ torch.diag(torch.tensor([0.2, 0.05, 0.2 * smallest])) @ rotation.transpose(1, 2)
    root, inverse = _sqrt_and_inverse(matrix)
    vals, vecs = torch.linalg.eigh(matrix)
    assert torch.allclose(root, vecs @ torch.diag_embed(vals.sqrt()) @ vecs.transpose(1, 2), atol=1e-5)
    assert torch.allclose(inverse @ matrix @ inverse, torch.eye(3).expand(4, 3, 3), atol=1e-3)


def _palettes(*images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    pixels = [i.flatten(2)[0] for i in images]
    return torch.stack([p.mean(1) for p in pixels]), torch.stack([p @ p.T / p.shape[1] for p in pixels])


def test_the_palette_base_is_the_photo_in_the_styles_colours_as_the_optimisations_start() -> None:
    generator = torch.Generator().manual_seed(2)
    photos = torch.rand(2, 3, 24, 32, generator=generator) * torch.tensor([0.9, 0.6, 0.3])[:, None, None]
    styles = [torch.rand(1, 3, 20, 20, generator=generator) * torch.tensor(c)[:, None, None]
              for c in ([0.2, 0.4, 0.9], [0.9, 0.5, 0.1])]
    means, seconds = _palettes(*styles)
    for i in range(2):
        got = palette_base(photos, means[i], seconds[i])
        assert (got - match_palette(photos, [styles[i]], [1.0])).abs().max() < 0.01, "the covariance floor differs"
    net = seeded_network(4, 1, 0, styles=2, residual="palette")
    net.set_palettes(styles)
    blend = torch.tensor([0.3, 0.7])
    assert (net.base(photos, blend) - match_palette(photos, styles, [0.3, 0.7])).abs().max() < 0.01


def test_a_palette_network_starts_at_its_base_and_paints_a_change_to_it() -> None:
    net = seeded_network(4, 1, 0, residual="palette")
    style = torch.rand(1, 3, 16, 16) * 0.5
    net.set_palettes([style])
    photos = torch.rand(2, 3, 16, 16)
    with torch.no_grad():
        assert torch.allclose(net(photos), net.base(photos).clamp(1e-3, 1 - 1e-3), atol=1e-5), "it starts at its base"
        nn.init.normal_(net.layers[-1][1].weight, std=0.1)
        assert not torch.allclose(net(photos), net.base(photos), atol=1e-2), "the last layer changes it"
    with pytest.raises(ValueError, match="residual 'photo'"):
        TransformerNet(4, 1, residual="photo")


@pytest.mark.parametrize("factor", [2, 4])
def test_soften_is_the_antialiased_resize_down_and_back_inside_the_borders(factor: int) -> None:
    x = torch.rand(2, 3, 32, 48)
    small = nn.functional.interpolate(x, scale_factor=1 / factor, mode="bilinear", antialias=True)
    expected = nn.functional.interpolate(small, size=(32, 48), mode="bilinear")
    assert torch.allclose(soften(x, factor)[..., 8:-8, 8:-8], expected[..., 8:-8, 8:-8], atol=1e-5)
    assert torch.equal(soften(x, 1), x)
    flat = torch.full((1, 3, 16, 16), 0.3)
    assert torch.allclose(soften(flat, factor), flat), "a flat image, borders included, is unchanged"


def test_a_soft_base_network_starts_at_its_base_without_the_photos_detail() -> None:
    net = seeded_network(4, 1, 0, residual="palette", base_blur=4)
    net.set_palettes([torch.rand(1, 3, 16, 16)])
    photos = torch.zeros(1, 3, 32, 32)
    photos[..., ::2, :] = 1  # stripes of one pixel: all detail
    with torch.no_grad():
        out = net(photos)
    inside = (..., slice(10, -10), slice(10, -10))  # the borders see the replicated edge row
    assert float(out[inside].std(dim=(-2, -1)).max()) < 1e-3 < 0.1 < float(net.base(photos)[inside].std(dim=(-2, -1)).min())
    with pytest.raises(ValueError, match="base_blur 3: must be one of"):
        TransformerNet(4, 1, residual="palette", base_blur=3)
    with pytest.raises(ValueError, match="base_blur 2: above 1 needs residual palette"):
        TransformerNet(4, 1, base_blur=2)


@pytest.mark.parametrize("preprocessing", ["caffe", "imagenet"])
def test_a_backbone_encoder_gives_the_backbones_relu3_1_of_the_reflected_image_and_is_frozen(
        preprocessing: str) -> None:
    backbone = Backbone(tiny_trunk(), preprocessing, name="tiny")  # type: ignore[arg-type]
    net = seeded_network(4, 1, 0, residual="palette", backbone=backbone)
    x = torch.rand(2, 3, 32, 40)
    with torch.no_grad():  # the same features, but for the reflected borders: no zero padding, no dark frame
        padded = torch.nn.functional.pad(x, (12,) * 4, mode="reflect")
        assert torch.allclose(net.layers[0](x), backbone.features(padded, ["relu3_1"])["relu3_1"][..., 3:-3, 3:-3],
                              atol=1e-5)
    assert net.encoder == "backbone" and net.layers[1][1].in_channels == TINY_WIDTHS[2]
    assert not any(p.requires_grad for p in net.layers[0].parameters())
    assert set(map(id, trainable(net))) == {id(p) for p in net.parameters()} - {id(p) for p in net.layers[0].parameters()}
    assert seeded_network(4, 1, 0).encoder == "own"


def test_a_palette_of_one_hue_gives_a_finite_base() -> None:
    # Flat paper with dots of one colour: every pixel on one line in RGB, a singular colour covariance.
    paper = torch.full((1, 3, 16, 16), 0.9)
    paper[..., ::4, ::4] = torch.tensor([0.1, 0.2, 0.1])[:, None, None]
    net = seeded_network(4, 1, 0, residual="palette")
    net.set_palettes([paper])
    base = net.base(torch.rand(1, 3, 16, 16))
    assert bool(torch.isfinite(base).all()) and float(base.std()) > 0.01