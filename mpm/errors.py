"""Exceptions raised by :mod:`mpm`.

Every error says what was wrong and how to fix it. User mistakes (bad configuration, files,
domains) are :class:`ConfigError` subclasses and are raised on the host before any kernel runs;
problems that appear while stepping (NaN, blow-up, particles leaving the grid) are
:class:`SimulationError`.
"""

from __future__ import annotations

__all__ = [
    "BackendError",
    "ConfigError",
    "DomainError",
    "MPMError",
    "MaterialError",
    "MeshFileError",
    "ShapeError",
    "SimulationError",
    "StabilityError",
    "TrajectoryError",
    "TrajectoryNotFoundError",
    "UnknownMaterialError",
]


class MPMError(Exception):
    """Base class of every error raised by the simulator."""


class ConfigError(MPMError, ValueError):
    """A setting has an invalid value; the message names the setting and a valid alternative."""


class MaterialError(ConfigError):
    """A material parameter is outside its physical range (e.g. E <= 0, nu >= 0.5)."""


class UnknownMaterialError(MaterialError):
    """A material preset name that does not exist; the message lists the valid names."""


class ShapeError(ConfigError):
    """A shape cannot be sampled (degenerate size, non-watertight mesh, empty point set)."""


class MeshFileError(ShapeError, FileNotFoundError):
    """A mesh file is missing or cannot be read."""


class DomainError(ConfigError):
    """An object or collider lies (partly) outside the simulation domain."""


class StabilityError(ConfigError):
    """An explicitly requested time step exceeds the CFL stability bound."""


class BackendError(MPMError, RuntimeError):
    """A compute backend or device is unavailable."""


class TrajectoryError(MPMError, ValueError):
    """A trajectory file is malformed, or an export was asked of a track that cannot provide it."""


class TrajectoryNotFoundError(TrajectoryError, FileNotFoundError):
    """A trajectory file to load does not exist."""


class SimulationError(MPMError, RuntimeError):
    """The state became invalid while stepping (NaN, blow-up, particle leaving the domain).

    Attributes:
        object_name: the object whose particles failed, when known.
        frame: the output frame being computed when the failure was detected.
    """

    def __init__(self, message: str, *, object_name: str | None = None, frame: int | None = None):
        super().__init__(message)
        self.object_name = object_name
        self.frame = frame
