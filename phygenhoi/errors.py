"""Exceptions raised by :mod:`phygenhoi`.

All derive from :class:`PhyGenHOIError`, itself an :class:`mpm.errors.MPMError`, so a caller can
catch every emu4d error with one ``except MPMError``. Each message says what was wrong and how to
fix it.
"""

from __future__ import annotations

from mpm.errors import ConfigError, MPMError

__all__ = [
    "ActionError",
    "BodyModelError",
    "ContactError",
    "MotionError",
    "MotionFileNotFoundError",
    "PhyGenHOIError",
    "SceneError",
]


class PhyGenHOIError(MPMError):
    """Base class of every error raised by phygenhoi."""


class MotionError(PhyGenHOIError, ValueError):
    """A motion (or a motion file: AMASS .npz, BVH) is malformed; names the key, shape or line."""


class BodyModelError(PhyGenHOIError, ConfigError, FileNotFoundError):
    """A body-model file is missing or corrupt; says where the files go."""


class ActionError(PhyGenHOIError, ConfigError):
    """An action is unknown or its parameters are invalid (e.g. unreachable target)."""


class SceneError(PhyGenHOIError, ConfigError):
    """An HOI scene's geometry is invalid: the object below the ground or outside the domain."""


class ContactError(PhyGenHOIError, RuntimeError):
    """Contact between body and object could not be established or is inconsistent."""


class MotionFileNotFoundError(MotionError, FileNotFoundError):
    """A motion file (saved motion, AMASS .npz, BVH) to load does not exist."""
