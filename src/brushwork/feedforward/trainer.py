"""Training a style network (Johnson, Alahi and Fei-Fei 2016): Adam on the network's weights, with the
content, style and TV losses of Gatys et al. measured by the Backbone on batches of random photo crops.

Several styles train into one network (Dumoulin, Shlens and Kudlur 2017): each style has its own
scale and shift in every instance normalisation (``network.StyleNorm``), and the steps cycle through
the styles, one style per batch.

Under ``torchrun`` (RANK and WORLD_SIZE set) the same call runs data-parallel: one process per GPU
(or per CPU process with gloo), DistributedDataParallel, each process its own shard of every epoch,
and only rank 0 writing checkpoints, previews and the model. ``--batch-size`` is per process.

Files in the work folder (default: ``MODEL`` without suffix plus ``-train``): ``checkpoint.pt`` (the
latest, for ``resume``), ``previews/step-NNNNNN.png`` (see ``heldout``) and ``losses.png``.

The run draws its random numbers from its own generators (the network's start, the photo order, the
crops), so it neither reads nor moves the global random state.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader, DistributedSampler

from brushwork.config import active_octaves
from brushwork.errors import SettingError
from brushwork.feedforward.config import RUN_SETTINGS, TrainConfig
from brushwork.feedforward.data import CropDataset, scan_photos
from brushwork.feedforward.heldout import HeldOut, describe, one_hot, run_style
from brushwork.feedforward.model_file import save_style_network, training_metadata
from brushwork.feedforward.network import TransformerNet, seeded_network
from brushwork.feedforward.previews import loss_plot
from brushwork.hardware import compute_dtype, resolve_device
from brushwork.image import ImageSource, halve, load_image, resize_long_side, save_image, write_atomically
from brushwork.losses import gram_matrix, relative_content_loss, style_layer_loss, total_variation
from brushwork.nets.vgg import Backbone
from brushwork.nets.weights import load_backbone
from brushwork.outputs import check_not_input, check_output_file, check_writable_folder, weights_input
from brushwork.progress import Callback, Cancelled, CancelToken, Clock, ProgressEvent, check_cancel

CHECKPOINT = "checkpoint.pt"
LOSSES = "losses.png"
PREVIEWS = "previews"


class BatchObjective(nn.Module):
    """α·content + β·style + γ·TV of a batch of outputs [B,3,S,S] against their content targets (the photos,
    or for a "palette" network the photos in the style's colours) and one of the ``styles`` (RGB [1,3,H,W]
    each).

    The normalisation is that of ``transfer.Objective`` (see losses.py), applied per photo: content
    by the squared norm of each photo's own target, each style layer by its target Gram's mean square,
    averaged over the batch; layer weights equal and summing to one.
    """

    def __init__(self, backbone: Backbone, styles: Sequence[torch.Tensor], config: TrainConfig) -> None:
        super().__init__()
        backbone.check_layers(config.content_layers, "content_layers")
        backbone.check_layers(config.style_layers, "style_layers")
        self.backbone, self.config = backbone, config
        self.layers = sorted(set(config.content_layers) | set(config.style_layers))
        self.octaves = active_octaves(config.style_octaves, config.crop_size)  # as the engine's Objective
        self.targets = [{k: self._targets(halve(style, k)) for k in self.octaves} for style in styles]

    def _targets(self, style: torch.Tensor) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
        """{style layer: (the style's Gram matrix, 1 / its mean square)}."""
        with torch.no_grad():
            features = self.backbone.features(style, self.config.style_layers)
        grams = {layer: gram_matrix(f) for layer, f in features.items()}
        return {layer: (g, 1.0 / g.pow(2).mean().clamp_min(torch.finfo(g.dtype).tiny)) for layer, g in grams.items()}

    def style_loss(self, features: dict[str, torch.Tensor], style: int = 0, octave: int = 0) -> torch.Tensor:
        """The unweighted loss against style number ``style`` halved ``octave`` times, averaged over the batch,
        of features taken at the style layers (of the output halved as many times)."""
        targets = self.targets[style][octave]
        total = sum(norm * style_layer_loss(gram_matrix(features[layer].float()), target)
                    for layer, (target, norm) in targets.items())
        return total / (len(targets) * next(iter(features.values())).shape[0])

    def forward(self, output: torch.Tensor, photos: torch.Tensor, style: int = 0) -> dict[str, torch.Tensor]:
        config = self.config
        with torch.no_grad():
            targets = self.backbone.features(photos, config.content_layers)
        features = self.backbone.features(output, self.layers)
        content = sum(relative_content_loss(features[layer].float(), t.float())
                      for layer, t in targets.items()) / len(targets)
        style_loss = sum(config.style_octaves[k] * self.style_loss(
            features if k == 0 else self.backbone.features(halve(output.float(), k), config.style_layers), style, k)
            for k in self.octaves)
        terms = {"content": config.content_weight * content,
                 "style": config.style_weight * style_loss,
                 "tv": config.tv_weight * total_variation(output.float())}
        terms["total"] = terms["content"] + terms["style"] + terms["tv"]
        return terms


def training_style(painting: torch.Tensor, config: TrainConfig) -> torch.Tensor:
    """``painting`` [1,3,H,W] in [0,1] as training sees it: its long side at ``config.style_size`` px, then
    ``config.style_margin`` of its height and width cut off at each edge."""
    image = resize_long_side(painting, config.style_size)
    height, width = image.shape[-2:]
    top, left = round(height * config.style_margin), round(width * config.style_margin)
    return image[..., top:height - top, left:width - left]


def trainable(net: nn.Module) -> list[nn.Parameter]:
    """The parameters of ``net`` that training changes: all but a frozen backbone encoder's."""
    return [p for p in net.parameters() if p.requires_grad]


def learning_rate_at(config: TrainConfig, step: int, styles: int = 1) -> float:
    """Adam's step size for step number ``step`` (0-based) of a network learning ``styles`` styles in turn:
    ``config.learning_rate``, ramped up linearly over the first ``config.warmup_steps`` steps of each style
    (``config.warmup_steps * styles`` steps in all)."""
    warmup = config.warmup_steps * styles
    if step >= warmup:
        return config.learning_rate
    return config.learning_rate * (step + 1) / warmup


def set_learning_rate(optimizer: torch.optim.Optimizer, config: TrainConfig, step: int, styles: int = 1) -> None:
    """Give every parameter group of ``optimizer`` the step size of step number ``step`` (learning_rate_at)."""
    for group in optimizer.param_groups:
        group["lr"] = learning_rate_at(config, step, styles)


def train_step(net: TransformerNet, model: nn.Module, objective: BatchObjective, optimizer: torch.optim.Optimizer,
               photos: torch.Tensor, style: int, dtype: torch.dtype) -> dict[str, torch.Tensor]:
    """One optimiser step of ``net`` (run as ``model``: itself, or its DistributedDataParallel wrapper) on
    ``photos`` [B,3,S,S] in style number ``style``, the network under ``dtype`` autocast (float32: none);
    returns the loss terms."""
    weights = one_hot(style, net.styles, photos.device)
    with torch.no_grad():  # a palette network's content target is the base it changes
        content = net.base(photos, weights) if net.residual == "palette" else photos
    with torch.autocast(photos.device.type, dtype=dtype, enabled=dtype != torch.float32):
        terms = objective(model(photos, weights), content, style)
    optimizer.zero_grad(set_to_none=True)
    terms["total"].backward()
    optimizer.step()
    return terms


def _distributed() -> tuple[int, int, int]:
    """(rank, world size, local rank) from torchrun's environment; (0, 1, 0) outside it."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    return int(os.environ.get("RANK", "0")), world, int(os.environ.get("LOCAL_RANK", "0"))


def _split(photos: tuple[Path, ...], count: int) -> tuple[tuple[Path, ...], tuple[Path, ...]]:
    """(training photos, validation photos): ``count`` evenly spaced photos held out, unless that
    would leave fewer than ``count`` to train on, in which case they are shown but not held out."""
    if count == 0:
        return photos, ()
    held = {i * len(photos) // count for i in range(count)} if len(photos) >= 2 * count else set()
    validation = tuple(photos[i] for i in sorted(held)) or photos[:count]
    return tuple(p for i, p in enumerate(photos) if i not in held), validation


def _check_resume(saved: dict[str, Any], config: TrainConfig, path: Path) -> None:
    """A resumed run must learn what the first part learned: only RUN_SETTINGS may change. ``saved``
    is the first part's ``TrainConfig.to_dict()``."""
    for name, value in config.to_dict().items():
        old = saved.get(name)
        if name not in RUN_SETTINGS and old != value:
            raise SettingError(name, f"{name} {getattr(config, name)}: the run resumed from {path} was started "
                               f"with {old}")


def work_folder(output: Path, work_dir: Path | str | None) -> Path:
    """The folder of the checkpoint, previews and loss curves: ``work_dir``, by default the model's name plus -train."""
    return Path(work_dir) if work_dir is not None else output.with_name(output.stem + "-train")


def _check_files(styles: Sequence[ImageSource], data: Path, output: Path, work: Path, config: TrainConfig, resume: bool,
                 overwrite: bool) -> None:
    """Fail before any work unless the model file and the work folder may be written (outputs.py); a
    resumed run may replace its own model file."""
    checkpoint_path = work / CHECKPOINT
    if resume and not checkpoint_path.is_file():
        raise SettingError("resume", f"resume: no checkpoint at {checkpoint_path}")
    if not resume and checkpoint_path.exists():
        raise SettingError("resume", f"resume: a run is there already ({checkpoint_path}); resume it or "
                           "remove the folder")
    inputs = [("style", s) for s in styles if isinstance(s, (str, os.PathLike))] + weights_input(config.weights)
    check_output_file(output, "-o", inputs, overwrite or resume, (".safetensors",))
    check_writable_folder(work, "--work-dir")
    if data.is_dir() and (work.resolve() == data.resolve() or data.resolve() in work.resolve().parents):
        raise SettingError("work_dir", f"work_dir {work}: is inside the data folder {data}, where its previews "
                           "would be taken for photos; choose another folder")
    for path in (checkpoint_path, work / LOSSES):
        check_not_input(path, "--work-dir", inputs)
    earlier = [p for p in (work / LOSSES, work / PREVIEWS) if p.exists()]
    if earlier and not resume and not overwrite:
        raise SettingError("work_dir", f"work_dir {work}: holds {earlier[0].name} of an earlier run; set "
                           "overwrite to replace its files")


def _name(style: ImageSource, index: int) -> str:
    """How the model file names a style: its file name, or "image N" for an image in memory."""
    return Path(style).name if isinstance(style, (str, os.PathLike)) else f"image {index + 1}"


def train_style_network(
    style: ImageSource | Sequence[ImageSource],
    data: Path | str,
    output: Path | str,
    config: TrainConfig | None = None,
    *,
    work_dir: Path | str | None = None,
    resume: bool = False,
    callbacks: Iterable[Callback] = (),
    cancel: CancelToken | None = None,
    log: Callable[[str], None] | None = None,
    backbone: Backbone | None = None,
    overwrite: bool = False,
    **options: Any,
) -> Path:
    """Train a network that paints any photo in the style of ``style`` and write it to ``output``
    (a .safetensors file); returns ``output``. A list of several styles trains one network of them
    all (each step one style, in turn), whose styles ``apply``'s ``style_weights`` choose or blend.

    ``data`` is a folder of photos (read recursively). ``options`` override fields of ``config``
    (defaults: TrainConfig()). ``resume`` continues from the checkpoint in ``work_dir``; without it
    an existing checkpoint there is an error. ``log`` receives one-line notes (photos found and
    skipped, device, precision). ``backbone`` reuses a loaded network matching ``config`` (copied,
    never moved, to another device). An existing model file (unless ``resume``: the run's own), or an
    earlier run's previews and loss curves in ``work_dir``, are replaced only with ``overwrite``; every
    file is checked before any work.

    ``callbacks`` get a "train" ProgressEvent after every step (on rank 0; ``checkpoint`` set where
    one was written, ``preview()`` the first validation photo stylised in the first style). At each
    checkpoint the preview grid shows the held-out photos in each style beside the optimisation's
    output of the first (``config.reference``), and where the independent judge's weights are cached
    (``brushwork.evaluation``) ``log`` and the event's ``scores`` give its scores (``heldout.HeldOut``).
    When ``cancel`` is cancelled the run writes a checkpoint at the step it reached and raises Cancelled with its path, from which
    ``resume`` continues as if never stopped.
    """
    config = replace(config or TrainConfig(), **options)
    styles = list(style) if isinstance(style, (list, tuple)) else [style]
    if not styles:
        raise SettingError("style", "style: needs at least one style image")
    names = [_name(s, i) for i, s in enumerate(styles)]
    output = Path(output)
    say = log or (lambda line: None)
    work = work_folder(output, work_dir)
    checkpoint_path = work / CHECKPOINT
    _check_files(styles, Path(data), output, work, config, resume, overwrite)

    rank, world, local_rank = _distributed()
    started_group = world > 1 and not dist.is_initialized()
    device = resolve_device(config.device)
    if world > 1 and device.type == "cuda":
        device = torch.device("cuda", local_rank)
        torch.cuda.set_device(device)
    if started_group:
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    try:
        folder = scan_photos(Path(data), config.crop_size, config.max_pixels)
        say(folder.summary())
        train_photos, validation = _split(folder.photos, config.validation_count)
        per_epoch = len(train_photos) // world // config.batch_size
        if per_epoch == 0:
            raise SettingError.of("batch_size", config.batch_size, f"more than the {len(train_photos)} training "
                                  f"photos give each of {world} process(es)")
        steps = config.epochs * per_epoch if config.epochs is not None else config.steps
        style_rgbs = [training_style(load_image(s, config.max_pixels, name=os.fspath(s) if isinstance(
            s, (str, os.PathLike)) else None)[0], config).to(device) for s in styles]
        backbone = (backbone or load_backbone(config.weights, pooling=config.pooling,
                                              preprocessing=config.preprocessing)).to(device)
        objective = BatchObjective(backbone, style_rgbs, config)
        dtype = compute_dtype(config.precision, device)
        say(f"device {device}, {world} process(es), {'float32' if dtype == torch.float32 else 'bf16 autocast'}, "
            f"{steps} steps "
            f"of {config.batch_size} x {config.crop_size} px crops, {per_epoch} steps per epoch"
            + (f", {len(styles)} styles in turn" if len(styles) > 1 else ""))
        check_cancel(cancel)

        net = seeded_network(config.width, config.residual_blocks, config.seed, len(styles), config.normalisation,
                             config.residual, backbone if config.encoder == "backbone" else None,
                             config.base_blur).to(device)
        if config.residual == "palette":
            net.set_palettes(style_rgbs)
        optimizer = torch.optim.Adam(trainable(net), lr=config.learning_rate)
        step, history = 0, []
        if resume:
            saved = torch.load(checkpoint_path, map_location=device, weights_only=True)
            # Runs begun before these choices existed normalised as "instance", painted "none", had no warmup,
            # their own encoder, a sharp base and the style at one size and whole.
            _check_resume({"normalisation": "instance", "residual": "none", "warmup_steps": 0, "encoder": "own",
                           "base_blur": 1, "style_octaves": [1.0], "style_margin": 0.0, **saved["settings"]},
                          config, checkpoint_path)
            if saved.get("styles", names[:1]) != names:
                raise SettingError("style", f"style {', '.join(names)}: the run resumed from {checkpoint_path} "
                                   f"learns {', '.join(saved.get('styles', ['one style']))}")
            net.load_state_dict(saved["net"])
            optimizer.load_state_dict(saved["optimizer"])
            step, history = int(saved["step"]), list(saved["history"])
            say(f"resumed at step {step} from {checkpoint_path}")
        model: nn.Module = DistributedDataParallel(net) if world > 1 else net
        dataset = CropDataset(train_photos, config.crop_size, config.max_pixels, config.seed, config.photo_size)
        validation_rgb = [resize_long_side(load_image(p, config.max_pixels)[0], config.crop_size) for p in validation]
        meta = training_metadata(names, style_rgbs, backbone.name, config.to_dict())
        held_out = HeldOut(validation_rgb, style_rgbs, backbone, config, say) if rank == 0 else None
        scores: dict[str, float] | None = None

        def write_outputs(final: bool) -> None:
            """Checkpoint, preview grid, scores and loss curves (rank 0 only); the model file when ``final``."""
            nonlocal scores
            if held_out is None:
                return
            work.mkdir(parents=True, exist_ok=True)
            state = {"net": net.state_dict(), "optimizer": optimizer.state_dict(), "step": step,
                     "history": history, "settings": config.to_dict(), "styles": names}
            write_atomically(checkpoint_path, lambda tmp: torch.save(state, tmp))
            outputs = held_out.outputs(net)
            (work / PREVIEWS).mkdir(exist_ok=True)
            save_image(held_out.grid(outputs), work / PREVIEWS / f"step-{step:06d}.png", {"step": str(step)})
            scores = held_out.scores(outputs)
            if scores is not None:
                say(describe(step, scores))
            save_image(loss_plot(history), work / LOSSES, {"step": str(step)})
            if final:
                save_style_network(net, output, {**meta, "steps_trained": step})

        def agreed(flag: bool) -> bool:
            """``flag`` on any process; every process must stop at the same step, or the others wait forever."""
            if world == 1:
                return flag
            flags = torch.tensor([float(flag)], device=device)
            dist.all_reduce(flags, op=dist.ReduceOp.MAX)
            return bool(flags.item())

        def preview() -> torch.Tensor:
            return run_style(net, validation_rgb[0], 0)

        callbacks = list(callbacks)
        clock = Clock(steps - step)
        stop = False
        written_at = step if resume else -1
        if step >= steps:  # a resume of a finished run: nothing to train, the files are written again
            write_outputs(final=True)
        while step < steps and not stop:
            epoch, done = divmod(step, per_epoch)
            dataset.set_epoch(epoch)
            sampler = DistributedSampler(dataset, world, rank, shuffle=True, seed=config.seed, drop_last=True)
            sampler.set_epoch(epoch)
            # Skipping the batches already seen this epoch makes a resumed run see what an unbroken one would.
            order = list(sampler)[done * config.batch_size:]
            loader = DataLoader(dataset, config.batch_size, sampler=order, num_workers=config.workers,
                                drop_last=True, pin_memory=device.type == "cuda",
                                generator=torch.Generator().manual_seed(config.seed))
            for photos in loader:
                if agreed(cancel is not None and cancel.cancelled):
                    if step > 0 and written_at != step:
                        write_outputs(final=False)
                    raise Cancelled(step, checkpoint=checkpoint_path if step > 0 else None)
                photos = photos.to(device, non_blocking=True)
                set_learning_rate(optimizer, config, step, len(styles))
                # In turn: a resumed run goes on with the style an unbroken one would.
                terms = train_step(net, model, objective, optimizer, photos, step % len(styles), dtype)
                step += 1
                history.append({name: float(term.detach()) for name, term in terms.items()})
                elapsed, eta = clock.advance()
                stop = step >= steps or agreed(config.time_limit is not None and elapsed > 60 * config.time_limit)
                written = stop or step % config.checkpoint_every == 0
                if written:
                    write_outputs(final=stop)
                    written_at = step
                if rank == 0:
                    event = ProgressEvent("train", f"epoch {epoch + 1}", step, steps, history[-1], elapsed, eta,
                                          size=config.crop_size, checkpoint=str(checkpoint_path) if written else None,
                                          render=preview if validation_rgb else None,
                                          scores=scores if written else None)
                    for callback in callbacks:
                        callback(event)
                if stop:
                    break
        if world > 1:
            dist.barrier()
        return output
    finally:
        if started_group:
            dist.destroy_process_group()
