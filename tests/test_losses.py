"""Each loss against its formula computed by hand, gradients in float64, and the normalisation."""

from __future__ import annotations

import pytest
import torch

from brushwork.losses import (
    ContentLoss,
    LayoutLoss,
    StyleLoss,
    TVLoss,
    content_loss,
    gram_matrix,
    relative_content_loss,
    style_layer_loss,
    total_variation,
)


def test_gram_matrix_matches_hand_computation() -> None:
    f = torch.tensor([[[[1.0, 2.0], [3.0, 4.0]], [[0.0, 1.0], [0.0, -1.0]]]])  # [1,2,2,2]
    # channel vectors a = (1,2,3,4), b = (0,1,0,-1); M = 4
    expected = torch.tensor([[[30.0, -2.0], [-2.0, 2.0]]]) / 4
    assert torch.allclose(gram_matrix(f), expected)


def test_gram_matrix_of_channels_last_features_is_the_same_and_keeps_their_layout() -> None:
    torch.manual_seed(0)
    f = torch.randn(2, 5, 4, 6, dtype=torch.float64)
    mask = torch.rand(2, 1, 4, 6, dtype=torch.float64)
    last = f.to(memory_format=torch.channels_last).requires_grad_(True)
    for m in (None, mask):
        assert torch.allclose(gram_matrix(last, m), gram_matrix(f, m))
    gram_matrix(last).sum().backward()
    assert last.grad is not None and last.grad.is_contiguous(memory_format=torch.channels_last)
    assert not last.grad.is_contiguous()


def test_relative_content_loss_divides_by_the_targets_squared_norm() -> None:
    f, p = torch.tensor([1.0, 2.0, 3.0]).view(1, 1, 1, 3), torch.tensor([0.0, 2.0, 5.0]).view(1, 1, 1, 3)
    assert relative_content_loss(f, p).item() == pytest.approx(0.5 * (1 + 0 + 4) / (0 + 4 + 25))
    assert relative_content_loss(p, p).item() == 0.0
    assert torch.isfinite(relative_content_loss(f, torch.zeros_like(f)))
    pair = relative_content_loss(torch.cat([f, p]), torch.cat([p, 2 * p]))
    assert pair.item() == pytest.approx((relative_content_loss(f, p) + relative_content_loss(p, 2 * p)).item() / 2), \
        "a batch's loss is the mean of its images' losses"


def test_content_loss_is_half_the_sum_of_squares() -> None:
    f, p = torch.tensor([1.0, 2.0, 3.0]).view(1, 1, 1, 3), torch.tensor([0.0, 2.0, 5.0]).view(1, 1, 1, 3)
    assert content_loss(f, p).item() == pytest.approx(0.5 * (1 + 0 + 4))


def test_style_layer_loss_equals_the_papers_4n2m2_form() -> None:
    torch.manual_seed(0)
    x, a = torch.rand(1, 3, 4, 5), torch.rand(1, 3, 4, 5)
    n, m = 3, 20
    fx, fa = x.reshape(n, m), a.reshape(n, m)
    paper = ((fx @ fx.T - fa @ fa.T) ** 2).sum() / (4 * n**2 * m**2)
    assert style_layer_loss(gram_matrix(x), gram_matrix(a)).item() == pytest.approx(paper.item(), rel=1e-5)


def test_total_variation_by_hand() -> None:
    img = torch.tensor([[0.0, 1.0], [1.0, 3.0]]).view(1, 1, 2, 2)
    dy = ((1 - 0) ** 2 + (3 - 1) ** 2) / 2
    dx = ((1 - 0) ** 2 + (3 - 1) ** 2) / 2
    assert total_variation(img).item() == pytest.approx(dy + dx)


@pytest.mark.parametrize("fn", [
    lambda x: gram_matrix(x).sum(),
    lambda x: content_loss(x, torch.ones_like(x)),
    lambda x: style_layer_loss(gram_matrix(x), torch.eye(x.shape[1], dtype=x.dtype)[None]),
    total_variation,
])
def test_gradients_match_finite_differences(fn) -> None:
    x = torch.rand(1, 3, 4, 5, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(fn, (x,))


def test_modules_are_invariant_to_the_scale_of_a_layer() -> None:
    """The normalisation makes the weights mean the same for Caffe (0-255) and [0,1] backbones."""
    torch.manual_seed(1)
    target, x = torch.rand(1, 8, 6, 6), torch.rand(1, 8, 6, 6)
    for scale in (1e-3, 1.0, 250.0):
        style = StyleLoss(gram_matrix(target * scale), weight=3.0)
        content = ContentLoss(target * scale, weight=3.0)
        assert style(x * scale).item() == pytest.approx(StyleLoss(gram_matrix(target), 3.0)(x).item(), rel=1e-4)
        assert content(x * scale).item() == pytest.approx(ContentLoss(target, 3.0)(x).item(), rel=1e-4)


def test_style_loss_is_invariant_to_image_size() -> None:
    """A texture tiled 2x2 has the same Gram as one tile (up to the borders, absent here)."""
    torch.manual_seed(2)
    tile, other = torch.rand(1, 4, 5, 5), torch.rand(1, 4, 5, 5)
    loss = StyleLoss(gram_matrix(other))
    assert loss(tile.repeat(1, 1, 2, 2)).item() == pytest.approx(loss(tile).item(), rel=1e-5)


def test_weights_scale_each_term() -> None:
    torch.manual_seed(3)
    t, x = torch.rand(1, 2, 3, 3), torch.rand(1, 2, 3, 3)
    assert ContentLoss(t, 2.0)(x).item() == pytest.approx(2 * ContentLoss(t, 1.0)(x).item())
    assert StyleLoss(gram_matrix(t), 0.5)(x).item() == pytest.approx(0.5 * StyleLoss(gram_matrix(t))(x).item())
    assert TVLoss(4.0)(x).item() == pytest.approx(4 * total_variation(x).item())
    assert StyleLoss(gram_matrix(t))(t).item() == 0.0


def test_layout_loss_sees_light_and_dark_but_not_brush_strokes() -> None:
    """A one-pixel checkerboard of +-0.1 (texture) barely moves the layout term; a darker half does."""
    torch.manual_seed(0)
    y = torch.linspace(0.2, 0.8, 64).view(1, 1, 1, 64).expand(1, 3, 48, 64).contiguous()
    loss = LayoutLoss(y, factor=8)
    assert loss(y).item() == pytest.approx(0, abs=1e-9)
    checker = (torch.arange(48).view(-1, 1) + torch.arange(64)).remainder(2).float() * 0.2 - 0.1
    textured = (y + checker).clamp(0, 1)
    darker = y.clone()
    darker[..., :24, :] *= 0.5
    assert loss(textured).item() < 0.01
    assert loss(darker).item() > 0.1


def test_layout_loss_is_relative_to_the_targets_contrast() -> None:
    """Scaling the contrast of target and image alike leaves the loss unchanged."""
    torch.manual_seed(1)
    target, image = torch.rand(1, 3, 64, 64), torch.rand(1, 3, 64, 64)
    low = LayoutLoss(0.5 + 0.1 * (target - 0.5))(0.5 + 0.1 * (image - 0.5)).item()
    high = LayoutLoss(0.5 + 0.4 * (target - 0.5))(0.5 + 0.4 * (image - 0.5)).item()
    assert low == pytest.approx(high, rel=1e-3)
