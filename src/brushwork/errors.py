"""The one exception type that the CLI turns into a one-line message and exit status 2."""

#: The exit status after Ctrl-C (128 + SIGINT, as shells report it).
INTERRUPTED = 130


class BrushworkError(Exception):
    """A problem with the user's input or environment, stated in one line.

    The message names the file or option at fault and what is wrong with it, for example
    ``"photo.jpg: not an image (cannot identify image file)"``.
    """
