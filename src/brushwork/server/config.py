"""ServerConfig: every setting of ``brushwork serve`` (the command's options are generated from it)."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from pathlib import Path

from brushwork.config import Settings, StyleConfig, _check, _opt, check_types
from brushwork.errors import SettingError

#: The environment variable that holds the bearer token when ``--token`` is not given.
TOKEN_ENV = "BRUSHWORK_TOKEN"


def is_loopback(host: str) -> bool:
    """True for localhost and the loopback addresses (127.0.0.0/8, ::1): reachable from this machine only."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:  # a host name: it may resolve to anything
        return False


@dataclass(frozen=True)
class ServerConfig(Settings):
    """Where ``brushwork serve`` listens, where it keeps its jobs, and its limits."""

    host: str = _opt("127.0.0.1", "address to listen on; any but a loopback address needs --token")
    port: int = _opt(8000, "TCP port to listen on")
    data_dir: str | None = _opt(None, "folder of the job database and files (default: brushwork's per-user "
                                "data folder); jobs there survive restarts")
    workers: int | None = _opt(None, "worker processes that run jobs (default: one per CUDA device, worker i "
                               "pinned to cuda:i; 1 without CUDA)")
    token: str | None = _opt(None, f"bearer token that every API request must send (default: ${TOKEN_ENV}); "
                             "required unless --host is a loopback address")
    models: str | None = _opt(None, "folder of feed-forward model files (.safetensors) that apply jobs may name")
    weights: str = _opt(StyleConfig.weights, "backbone weights of every stylize job: a source name (see "
                        "`brushwork weights list`) or a file")
    max_upload_mb: float = _opt(50.0, "largest request body in MB (413 beyond it)")
    max_pixels: int = _opt(StyleConfig.max_pixels // 4, "largest uploaded image in pixels, read from its header "
                           "before decoding (422 beyond it)")
    max_audio_seconds: float = _opt(600.0, "longest uploaded sound of an audio job in seconds, read from its "
                                    "header before decoding (422 beyond it)")
    max_size: int = _opt(2048, "largest size (long side in px) that a job may ask for")
    max_queue: int = _opt(20, "most jobs waiting at once (429 with Retry-After beyond it)")
    keep_days: float = _opt(30.0, "delete finished jobs and their files after this many days")
    keep_gb: float = _opt(5.0, "delete the oldest finished jobs while their files take more than this many GB")
    preview_seconds: float = _opt(2.0, "seconds between preview images of a running job")
    snapshot_seconds: float = _opt(10.0, "seconds between the snapshots that a restarted job resumes from")

    def __post_init__(self) -> None:
        check_types(self)
        _check(1 <= self.port <= 65535, "port", "must be 1 to 65535", self.port)
        _check(self.workers is None or 1 <= self.workers <= 64, "workers", "must be 1 to 64", self.workers)
        _check(self.token is None or len(self.token) >= 8, "token", "must be at least 8 characters", "")
        for name in ("max_upload_mb", "max_pixels", "max_audio_seconds", "max_size", "max_queue", "keep_days", "keep_gb",
                     "preview_seconds", "snapshot_seconds"):
            _check(getattr(self, name) > 0, name, "must be positive", getattr(self, name))
        if self.token is None and not is_loopback(self.host):
            raise SettingError("token", f"host {self.host}: listening beyond this machine needs a token "
                               f"(--token or ${TOKEN_ENV}) that clients send as 'Authorization: Bearer TOKEN'")

    def folder(self) -> Path:
        """The data folder: ``data_dir``, or the per-user default."""
        if self.data_dir is not None:
            return Path(self.data_dir).expanduser()
        from platformdirs import user_data_dir  # noqa: PLC0415 (only where no folder is given)
        return Path(user_data_dir("brushwork")) / "server"
