"""The exceptions a front end reports: BrushworkError (one line), SettingError (names its field)."""

from __future__ import annotations

#: The exit status after Ctrl-C (128 + SIGINT, as shells report it).
INTERRUPTED = 130


class BrushworkError(Exception):
    """A problem with the user's input or environment, stated in one line.

    The message names the file or setting at fault and what is wrong with it, for example
    ``"photo.jpg: not an image (cannot identify image file)"``.
    """


class SettingError(BrushworkError):
    """A bad value of one setting: ``field`` is its name as a dataclass field (``"style_weight"``).

    The message starts with the field's name (``"style_weight -1.0: must be zero or positive"``), so
    that a Python user or a web page sees the name they passed; a command line replaces that first
    word by its flag (``--style-weight``).
    """

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field

    @classmethod
    def of(cls, field: str, value: object, problem: str) -> SettingError:
        """``"{field} {value}: {problem}"``, or ``"{field}: {problem}"`` when ``value`` is ""."""
        shown = f" {value}" if value != "" else ""
        return cls(field, f"{field}{shown}: {problem}")
