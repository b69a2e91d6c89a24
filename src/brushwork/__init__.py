"""brushwork: neural style transfer (Gatys, Ecker and Bethge 2015) in PyTorch.

>>> from brushwork import stylize
>>> stylize("photo.jpg", "painting.jpg", size=256).save("out.png")  # doctest: +SKIP
>>> from brushwork import save_audio, stylize_audio
>>> save_audio(stylize_audio("melody.wav", "rain.flac", iterations=100), "out.wav")  # doctest: +SKIP
"""

from brushwork.api import stylize
from brushwork.audio.api import stylize_audio, synthesize_texture
from brushwork.audio.io import Sound, read_audio, save_audio
from brushwork.audio.config import AudioConfig
from brushwork.config import StyleConfig
from brushwork.errors import BrushworkError, SettingError
from brushwork.feedforward.apply import apply_style_network
from brushwork.feedforward.config import ApplyConfig, TrainConfig
from brushwork.feedforward.model_file import load_style_network
from brushwork.feedforward.trainer import train_style_network
from brushwork.nets.weights import SOURCES, load_backbone
from brushwork.progress import Cancelled, CancelToken, ProgressEvent
from brushwork.recording import settings_from

__all__ = ["SOURCES", "ApplyConfig", "AudioConfig", "BrushworkError", "CancelToken", "Cancelled", "ProgressEvent",
           "SettingError", "Sound", "StyleConfig", "TrainConfig", "apply_style_network", "load_backbone",
           "load_style_network", "read_audio", "save_audio", "settings_from", "stylize", "stylize_audio",
           "synthesize_texture", "train_style_network"]
