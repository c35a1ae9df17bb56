"""Exceptions raised by :mod:`video_bridge`.

All derive from :class:`mpm.errors.MPMError`, so ``except MPMError`` catches every emu4d error.
Bad input (wrong array shapes or dtypes, a camera that cannot be built, a missing video file) is
a :class:`ValueError`; failures of an external tool or driver (ffmpeg, OpenGL / EGL) are a
:class:`RuntimeError`. Every message says what was wrong and how to fix it.
"""

from __future__ import annotations

from mpm.errors import ConfigError, MPMError

__all__ = [
    "CameraError",
    "RenderBackendError",
    "RenderConfigError",
    "RenderError",
    "VideoCodecError",
    "VideoError",
    "VideoNotFoundError",
]


class VideoError(MPMError, ValueError):
    """Frames, images or a video file are unusable: empty input, wrong dtype or shape,
    frames of different sizes, or a file that is not a readable video."""


class VideoNotFoundError(VideoError, FileNotFoundError):
    """A video file to read does not exist."""


class VideoCodecError(VideoError, RuntimeError):
    """ffmpeg failed while encoding or decoding (missing encoder, crashed process)."""


class CameraError(MPMError, ValueError):
    """A camera or camera path has invalid parameters (e.g. non-positive focal length,
    ``eye == target``, wrong matrix shape)."""


class RenderError(MPMError, RuntimeError):
    """Rendering failed or cannot produce the requested output."""


class RenderBackendError(RenderError):
    """No usable rendering backend (no EGL / OpenGL driver); the message names the packages to
    install."""


class RenderConfigError(RenderError, ConfigError):
    """A render request names something that does not exist (a pass, a track) or an invalid
    image size; it is bad input, like a :class:`mpm.errors.ConfigError`."""
