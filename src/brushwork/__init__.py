"""brushwork: neural style transfer (Gatys, Ecker and Bethge 2015) in PyTorch.

>>> from brushwork import stylize
>>> stylize("photo.jpg", "painting.jpg", size=256).save("out.png")  # doctest: +SKIP
>>> from brushwork import save_audio, stylize_audio
>>> save_audio(stylize_audio("melody.wav", "rain.flac", iterations=100), "out.wav")  # doctest: +SKIP
"""

from brushwork.api import stylize
from brushwork.audio.api import stylize_audio, synthesize_texture
from brushwork.audio.io import Sound, read_audio, save_audio
from brushwork.config import AudioConfig, StyleConfig
from brushwork.errors import BrushworkError
from brushwork.nets.weights import SOURCES, load_backbone
from brushwork.transfer import Progress

__all__ = ["SOURCES", "AudioConfig", "BrushworkError", "Progress", "Sound", "StyleConfig", "load_backbone",
           "read_audio", "save_audio", "stylize", "stylize_audio", "synthesize_texture"]
