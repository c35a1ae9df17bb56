"""Compute kernels of emu4d: MLS-MPM transfers, return mappings and collider projection.

Only mechanism lives here, no policy: time-step choice, validation and errors are the
simulator's job (:mod:`mpm`). Backends implement :class:`kernels.interface.MPMKernels` and are
looked up by name, so a new backend (e.g. Taichi) is added here without touching :mod:`mpm`.
"""

from __future__ import annotations

from kernels.interface import (
    ColliderSpec,
    GridSpec,
    MaterialGroup,
    MeshColliderSpec,
    MPMKernels,
    ParticleData,
)
from kernels.registry import available_backends, create_backend

__all__ = [
    "ColliderSpec",
    "GridSpec",
    "MPMKernels",
    "MaterialGroup",
    "MeshColliderSpec",
    "ParticleData",
    "available_backends",
    "create_backend",
]
