"""Exceptions raised by :mod:`neurok`.

All derive from :class:`NeuROKError`, itself an :class:`mpm.errors.MPMError`, so one
``except MPMError`` catches every emu4d error. Each message says what was wrong and how to fix it.
"""

from __future__ import annotations

from mpm.errors import ConfigError, MPMError

__all__ = [
    "CheckpointError",
    "DatasetError",
    "LatentError",
    "MeshError",
    "NeuROKError",
    "SettingsError",
]


class NeuROKError(MPMError):
    """Base class of every error raised by neurok."""


class MeshError(NeuROKError, ConfigError):
    """A rest mesh cannot be used: no volume, not closed, degenerate, or unreadable."""


class LatentError(NeuROKError, ValueError):
    """A latent state or velocity has the wrong size, or is not finite."""


class CheckpointError(NeuROKError, FileNotFoundError):
    """A model checkpoint is missing, corrupt, or from an incompatible version."""


class DatasetError(NeuROKError, ConfigError):
    """A dataset directory is missing, incomplete, or its generation parameters are invalid."""


class SettingsError(NeuROKError, ConfigError):
    """An emulation setting is out of range (a negative step, damping, friction, ...)."""
