"""brushwork: neural style transfer (Gatys, Ecker and Bethge 2015) in PyTorch.

>>> from brushwork import stylize
>>> stylize("photo.jpg", "painting.jpg", size=256).save("out.png")  # doctest: +SKIP
"""

from brushwork.api import stylize
from brushwork.config import StyleConfig
from brushwork.errors import BrushworkError
from brushwork.nets.weights import SOURCES, load_backbone
from brushwork.transfer import Progress

__all__ = ["SOURCES", "BrushworkError", "Progress", "StyleConfig", "load_backbone", "stylize"]
