"""What a training run shows of itself at each checkpoint: the held-out photos stylised by the network
in each of its styles, beside the optimisation's output of the first one (``brushwork.stylize``'s
``paint``, painted once at the start at the previews' size), and their independent scores
(``brushwork.evaluation``: EfficientNet-Lite0, which the training never sees), so that a user sees
whether the network is worth more training, not only that its own loss went down.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from PIL import Image

from brushwork.config import MIN_SIZE, StyleConfig
from brushwork.evaluation import SOURCE, Scorer, cached_judge
from brushwork.feedforward.config import TrainConfig
from brushwork.feedforward.network import TransformerNet, pad_to_multiple
from brushwork.feedforward.previews import preview_grid
from brushwork.nets.vgg import Backbone
from brushwork.nets.weights import cached_path
from brushwork.transfer import paint

#: The smallest long side in px at which the held-out outputs are scored (smaller ones are upsampled).
SCORE_SIDE = 256


def one_hot(index: int, count: int, device: torch.device | str = "cpu") -> torch.Tensor:
    """The style weights [count] that select style ``index`` alone."""
    weights = torch.zeros(count, device=device)
    weights[index] = 1.0
    return weights


def run_style(net: TransformerNet, photo: torch.Tensor, style: int) -> torch.Tensor:
    """``net``'s output [1,3,H,W] for ``photo`` [1,3,H,W] of any size in style ``style`` alone, on the CPU."""
    device = next(net.parameters()).device
    padded, (height, width) = pad_to_multiple(photo.to(device))
    with torch.no_grad():
        return net(padded, one_hot(style, net.styles, device))[..., :height, :width].float().cpu()


class HeldOut:
    """The held-out photos of a run, the optimisation's reference and the judge, set up once.

    ``photos`` are RGB [1,3,H,W] in [0,1] at the previews' size (the crop size on the long side),
    ``styles`` the run's style images (any size). ``config.reference`` names the quality preset of
    the reference ("none": no reference). ``say`` gets one-line notes: that the scores are
    unavailable where the judge's weights are not cached (said once, here).
    """

    def __init__(self, photos: Sequence[torch.Tensor], styles: Sequence[torch.Tensor], backbone: Backbone,
                 config: TrainConfig, say: Callable[[str], None]) -> None:
        self.photos, self.styles, self.cell = list(photos), [s.cpu() for s in styles], config.crop_size
        self.references: list[torch.Tensor] | None = None
        if self.photos and config.reference != "none":
            # At least two scales' worth of pixels, which the draft preset's plan needs.
            reference = StyleConfig.for_quality(config.reference, size=max(2 * MIN_SIZE, *self.photos[0].shape[-2:]),
                                                weights=config.weights, pooling=config.pooling,
                                                preprocessing=config.preprocessing, precision=config.precision)
            device = styles[0].device  # where the backbone is
            self.references = [paint(backbone, self.photos[0].to(device), [style.to(device)], reference).cpu()
                               for style in styles]
        judge = cached_judge() if self.photos else None
        if judge is None and self.photos:
            say(f"independent scores unavailable: the judge's weights are not cached (get {SOURCE.origin()} "
                f"and put it at {cached_path(SOURCE)}, or run `brushwork weights fetch {SOURCE.name}`)")
        # Scored at the previews' size: the numbers compare the network with the reference and with
        # earlier checkpoints, not with bench/quality.py's 512 px figures. Below SCORE_SIDE the judge's
        # stride-32 maps shrink to a few positions, whose covariances say nothing (a 32 px run scored 4e7).
        size = max(self.cell, SCORE_SIDE)
        self.scorers = None if judge is None else [
            [Scorer(photo, style, judge.features, size=size) for photo in self.photos] for style in self.styles]
        self.reference_scores = None if self.scorers is None or self.references is None else [
            scorers[0](reference) for scorers, reference in zip(self.scorers, self.references)]

    def outputs(self, net: TransformerNet) -> list[list[torch.Tensor]]:
        """The network's output of every held-out photo in every style alone: ``[style][photo]``."""
        return [[run_style(net, photo, s) for photo in self.photos] for s in range(len(self.styles))]

    def grid(self, outputs: list[list[torch.Tensor]]) -> Image.Image:
        """The preview grid of ``outputs`` (see ``previews.preview_grid``)."""
        return preview_grid(self.styles, self.photos, outputs, self.references, self.cell)

    def scores(self, outputs: list[list[torch.Tensor]]) -> dict[str, float] | None:
        """Independent scores of ``outputs`` (``[style][photo]``), averaged over the styles: ``style`` and
        ``content`` over every held-out photo, ``first_*`` of the first photo alone, ``reference_*`` of
        the optimisation's output of it (absent without a reference); None without the judge."""
        if self.scorers is None:
            return None
        rows = [scorer(output) for scorers, row in zip(self.scorers, outputs) for scorer, output in zip(scorers, row)]
        firsts = [scorers[0](row[0]) for scorers, row in zip(self.scorers, outputs)]
        result = {**_mean(rows), **{f"first_{k}": v for k, v in _mean(firsts).items()}}
        if self.reference_scores is not None:
            result.update({f"reference_{k}": v for k, v in _mean(self.reference_scores).items()})
        return result


def _mean(scores: Sequence[dict[str, float]]) -> dict[str, float]:
    """The mean of each score over ``scores``, rounded to 4 decimals."""
    return {key: round(sum(s[key] for s in scores) / len(scores), 4) for key in ("style", "content")}


def describe(step: int, scores: dict[str, float]) -> str:
    """One log line of a checkpoint's scores."""
    line = (f"step {step}: independent scores (lower is better) of the held-out photos: style {scores['style']:.3f}, "
            f"content {scores['content']:.3f}; of the first: style {scores['first_style']:.3f}, "
            f"content {scores['first_content']:.3f}")
    if "reference_style" in scores:
        line += (f"; the optimisation's output of it: style {scores['reference_style']:.3f}, "
                 f"content {scores['reference_content']:.3f}")
    return line
