"""Uploads checked before a job is queued: an image at all, not over the pixel limit (read from its
header, before any decoding), and decodable; for audio jobs a sound that libsndfile reads, not over
the length limit (from its header) and not silent. Each error is a SettingError naming the form
field, for a 422 answer."""

from __future__ import annotations

import shutil
import warnings
from pathlib import Path
from typing import BinaryIO

from PIL import Image, UnidentifiedImageError

from brushwork.errors import BrushworkError, SettingError
from brushwork.image import one_line

#: The suffix under which each accepted format is stored (the client's file name never is used).
SUFFIXES = {"PNG": ".png", "JPEG": ".jpg", "WEBP": ".webp", "TIFF": ".tif", "BMP": ".bmp", "GIF": ".gif",
            "MPO": ".jpg"}


def check_image(file: BinaryIO, field: str, max_pixels: int) -> str:
    """Check the image upload ``file`` of the form field ``field``; returns its stored suffix.

    Raises SettingError(field) for a file that is not an image of an accepted format, is empty or
    has more than ``max_pixels`` pixels (judged from the header, so a decompression bomb is never
    decoded), or cannot be decoded (truncated, damaged)."""
    file.seek(0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        try:
            with Image.open(file) as image:
                width, height = image.size
                if image.format not in SUFFIXES:
                    raise SettingError(field, f"{field}: {image.format} images are not accepted; send "
                                       "PNG, JPEG, WebP, TIFF, BMP or GIF")
                if width * height == 0:
                    raise SettingError(field, f"{field}: image is empty ({width}x{height} pixels)")
                if width * height > max_pixels:
                    raise SettingError(field, f"{field}: {width}x{height} = {width * height} pixels is over "
                                       f"the limit of {max_pixels} (the server's max_pixels)")
                image.load()
                return SUFFIXES[image.format]
        except UnidentifiedImageError:
            raise SettingError(field, f"{field}: not an image (cannot identify image file)") from None
        except Image.DecompressionBombError as error:  # so large that PIL refuses even to open it
            raise SettingError(field, f"{field}: {one_line(error).split('(')[1].split(')')[0]} is over the "
                               f"limit of {max_pixels} (the server's max_pixels)") from None
        except (OSError, ValueError, SyntaxError) as error:
            raise SettingError(field, f"{field}: damaged image ({one_line(error)})") from None


#: The suffix under which each accepted sound format is stored (libsndfile's format names).
SOUND_SUFFIXES = {"WAV": ".wav", "WAVEX": ".wav", "FLAC": ".flac", "OGG": ".ogg", "MP3": ".mp3", "AIFF": ".aiff"}


def check_sound_upload(file: BinaryIO, field: str, max_seconds: float) -> str:
    """Check the sound upload ``file`` of the form field ``field``; returns its stored suffix.

    Raises SettingError(field) for a file that libsndfile cannot read or that is not of an accepted
    format, that is longer than ``max_seconds`` (judged from the header, before decoding), or whose
    samples are empty, not finite or silent."""
    import soundfile  # noqa: PLC0415 (the [audio] extra; forms.missing checked that it imports)

    from brushwork.audio.io import Sound, check_sound  # noqa: PLC0415

    def unreadable(error: Exception) -> SettingError:
        reason = getattr(error, "error_string", None) or one_line(error)  # libsndfile's, without our file object
        return SettingError(field, f"{field}: not a sound file that can be read ({reason})")

    file.seek(0)
    try:
        info = soundfile.info(file)
    except (RuntimeError, ValueError, TypeError) as error:  # LibsndfileError is a RuntimeError
        raise unreadable(error) from None
    if info.format not in SOUND_SUFFIXES:
        raise SettingError(field, f"{field}: {info.format} sound files are not accepted; send WAV, FLAC, OGG, "
                           "MP3 or AIFF")
    if info.duration > max_seconds:
        raise SettingError(field, f"{field}: {info.duration:.1f} s of sound is over the limit of {max_seconds:g} s "
                           "(the server's max_audio_seconds)")
    file.seek(0)
    try:
        data, rate = soundfile.read(file, dtype="float32", always_2d=True)
    except (RuntimeError, ValueError, TypeError) as error:
        raise unreadable(error) from None
    try:
        check_sound(Sound(data.T, int(rate)), field)
    except BrushworkError as error:  # no samples, not finite, silent
        raise SettingError(field, str(error)) from None
    return SOUND_SUFFIXES[info.format]


def store_upload(file: BinaryIO, folder: Path, name: str) -> Path:
    """Copy the upload ``file`` to ``folder / name`` (a name of ours) and return that path."""
    file.seek(0)
    path = folder / name
    with path.open("wb") as out:
        shutil.copyfileobj(file, out)
    return path
