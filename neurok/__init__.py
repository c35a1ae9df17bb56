"""neurok: a learned latent kinematic space that emulates MPM object dynamics (NeuROK).

- :mod:`neurok.data`: 4D sequences generated with mpm (``generate_dataset``).
- :class:`NeuROK`: the transformer CVAE (prior encoder, deformation encoder, decoder).
- :func:`simulate`: Lagrangian dynamics in the latent space -> an ``mpm.Trajectory``.
- :func:`fit`: inverse kinematics to an observed point cloud.
- :func:`load` / :func:`save`: checkpoints.
"""

from __future__ import annotations

from neurok.binding import BoundShape
from neurok.checkpoint import load, save
from neurok.data import generate_dataset, load_index
from neurok.emulator import fit_state, simulate
from neurok.errors import (
    CheckpointError,
    DatasetError,
    LatentError,
    MeshError,
    NeuROKError,
    SettingsError,
)
from neurok.ik import FitResult, fit
from neurok.loads import Load
from neurok.material import MaterialParams
from neurok.model import NeuROK, NeuROKConfig

__all__ = [
    "BoundShape",
    "CheckpointError",
    "DatasetError",
    "FitResult",
    "LatentError",
    "Load",
    "MaterialParams",
    "MeshError",
    "NeuROK",
    "NeuROKConfig",
    "NeuROKError",
    "SettingsError",
    "fit",
    "fit_state",
    "generate_dataset",
    "load",
    "load_index",
    "save",
    "simulate",
]
