"""brushwork: neural style transfer (Gatys, Ecker and Bethge 2015) in PyTorch.

>>> from brushwork import stylize
>>> stylize("photo.jpg", "painting.jpg", size=256).save("out.png")  # doctest: +SKIP
"""

from brushwork.api import stylize
from brushwork.config import StyleConfig
from brushwork.errors import BrushworkError
from brushwork.feedforward.apply import apply_style_network
from brushwork.feedforward.config import ApplyConfig, TrainConfig
from brushwork.feedforward.model_file import load_style_network
from brushwork.feedforward.trainer import TrainProgress, train_style_network
from brushwork.nets.weights import SOURCES, load_backbone
from brushwork.transfer import Progress

__all__ = ["SOURCES", "ApplyConfig", "BrushworkError", "Progress", "StyleConfig", "TrainConfig", "TrainProgress",
           "apply_style_network", "load_backbone", "load_style_network", "stylize", "train_style_network"]
