"""brushwork: neural style transfer (Gatys, Ecker and Bethge 2015) in PyTorch.

>>> from brushwork import stylize
>>> stylize("photo.jpg", "painting.jpg", size=256).save("out.png")  # doctest: +SKIP
>>> from brushwork import save_audio, stylize_audio
>>> save_audio(stylize_audio("melody.wav", "rain.flac", iterations=100), "out.wav")  # doctest: +SKIP

The names below are imported on first use (PEP 562), so that ``import brushwork`` does not load
PyTorch: the command line can then answer Ctrl-C with one line even while PyTorch is loading.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

#: Each public name and the module it lives in.
_HOMES = {
    "stylize": "brushwork.api",
    "stylize_audio": "brushwork.audio.api", "synthesize_texture": "brushwork.audio.api",
    "AudioConfig": "brushwork.audio.config",
    "Sound": "brushwork.audio.io", "read_audio": "brushwork.audio.io", "save_audio": "brushwork.audio.io",
    "stylize_batch": "brushwork.batch.api", "BatchConfig": "brushwork.batch.config",
    "StyleConfig": "brushwork.config",
    "BrushworkError": "brushwork.errors", "SettingError": "brushwork.errors",
    "apply_style_network": "brushwork.feedforward.apply",
    "ApplyConfig": "brushwork.feedforward.config", "TrainConfig": "brushwork.feedforward.config",
    "load_style_network": "brushwork.feedforward.model_file",
    "train_style_network": "brushwork.feedforward.trainer",
    "SOURCES": "brushwork.nets.weights", "load_backbone": "brushwork.nets.weights",
    "CancelToken": "brushwork.progress", "Cancelled": "brushwork.progress", "ProgressEvent": "brushwork.progress",
    "settings_from": "brushwork.recording",
    "stylize_video": "brushwork.video.api", "VideoConfig": "brushwork.video.config",
    "warping_error": "brushwork.video.metric",
}
__all__ = sorted(_HOMES)

if TYPE_CHECKING:
    from brushwork.api import stylize
    from brushwork.audio.api import stylize_audio, synthesize_texture
    from brushwork.audio.config import AudioConfig
    from brushwork.audio.io import Sound, read_audio, save_audio
    from brushwork.batch.api import stylize_batch
    from brushwork.batch.config import BatchConfig
    from brushwork.config import StyleConfig
    from brushwork.errors import BrushworkError, SettingError
    from brushwork.feedforward.apply import apply_style_network
    from brushwork.feedforward.config import ApplyConfig, TrainConfig
    from brushwork.feedforward.model_file import load_style_network
    from brushwork.feedforward.trainer import train_style_network
    from brushwork.nets.weights import SOURCES, load_backbone
    from brushwork.progress import Cancelled, CancelToken, ProgressEvent
    from brushwork.recording import settings_from
    from brushwork.video.api import stylize_video
    from brushwork.video.config import VideoConfig
    from brushwork.video.metric import warping_error


def __getattr__(name: str) -> Any:
    if name not in _HOMES:
        raise AttributeError(f"module 'brushwork' has no attribute '{name}'")
    value = getattr(importlib.import_module(_HOMES[name]), name)
    globals()[name] = value  # the next look-up is an ordinary one
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
