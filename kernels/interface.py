"""The contract between the simulator (:mod:`mpm`) and a compute backend.

Everything crossing this boundary is numpy (float32 unless noted) so that backend arrays
(warp, taichi) never leak out of :mod:`kernels`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field

import numpy as np

# Material models a backend must implement; the strings are the keys of MaterialGroup.model.
MATERIAL_MODELS = (
    "fixed_corotated",
    "neohookean",
    "von_mises",
    "drucker_prager",
    "fluid",
    "snow",
)

# Collider kinds and boundary modes, shared by all backends.
COLLIDER_KINDS = ("half_space", "sphere", "box", "capsule")
BOUNDARY_MODES = ("sticky", "slip", "separate")
TRANSFERS = ("apic", "pic")

# Names of the per-material parameters a backend receives (SI units, see mpm.materials).
MATERIAL_PARAMETERS = (
    "mu",  # shear modulus [Pa]
    "lam",  # first Lamé parameter [Pa]
    "yield_stress",  # von Mises yield stress [Pa]
    "friction_alpha",  # Drucker-Prager cone coefficient alpha [-]
    "hardening",  # snow hardening coefficient xi [-]
    "theta_c",  # snow critical compression [-]
    "theta_s",  # snow critical stretch [-]
    "bulk_modulus",  # fluid bulk modulus K [Pa]
    "gamma",  # fluid Tait exponent [-]
    "viscosity",  # dynamic (Kelvin-Voigt / Newtonian) viscosity eta [Pa s]
)


@dataclass(frozen=True)
class GridSpec:
    """A regular background grid: node (i, j, k) sits at ``origin + dx * (i, j, k)``.

    Attributes:
        origin: world position of node (0, 0, 0) [m], shape (3,).
        dx: node spacing [m].
        shape: number of nodes per axis (nx, ny, nz).
    """

    origin: tuple[float, float, float]
    dx: float
    shape: tuple[int, int, int]


@dataclass(frozen=True)
class MaterialGroup:
    """A contiguous range ``[start, end)`` of particles sharing one constitutive model."""

    start: int
    end: int
    model: str
    params: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class ParticleData:
    """Particle state, all arrays of length N (float32).

    Attributes:
        x: positions [m], (N, 3).
        v: velocities [m/s], (N, 3).
        C: APIC affine velocity matrices [1/s], (N, 3, 3).
        F: deformation gradients [-], (N, 3, 3).
        Jp: plastic volume ratio det(F_P) [-], (N,).
        volume: rest volumes [m^3], (N,).
        mass: masses [kg], (N,).
    """

    x: np.ndarray
    v: np.ndarray
    C: np.ndarray
    F: np.ndarray
    Jp: np.ndarray
    volume: np.ndarray
    mass: np.ndarray


@dataclass(frozen=True)
class ColliderSpec:
    """Pose and velocity of one analytic collider at the current substep.

    Attributes:
        kind: one of COLLIDER_KINDS.
        mode: one of BOUNDARY_MODES.
        friction: Coulomb friction coefficient [-].
        position: world position of the collider frame [m].
        rotation: unit quaternion (x, y, z, w) of the collider frame.
        linear_velocity: [m/s]. angular_velocity: [rad/s] about ``position``.
        size: half_space: unused; sphere: (radius, 0, 0); box: half extents; capsule:
            (radius, half_length, 0) with the segment along the local z axis [m].
    """

    kind: str
    mode: str
    friction: float
    position: tuple[float, float, float]
    rotation: tuple[float, float, float, float]
    linear_velocity: tuple[float, float, float]
    angular_velocity: tuple[float, float, float]
    size: tuple[float, float, float]


@dataclass(frozen=True)
class MeshColliderSpec:
    """Surface of a moving triangle-mesh collider at the current substep.

    Attributes:
        vertices: (V, 3) float32 [m]. velocities: (V, 3) float32 [m/s]. faces: (F, 3) int32.
        mode: one of BOUNDARY_MODES. friction: Coulomb coefficient [-].
        thickness: nodes closer than this to the surface (outside) also count as in contact [m].
    """

    vertices: np.ndarray
    velocities: np.ndarray
    faces: np.ndarray
    mode: str
    friction: float
    thickness: float = 0.0


class MPMKernels(ABC):
    """One MLS-MPM substep engine. Created by :func:`kernels.create_backend`."""

    @abstractmethod
    def __init__(self, grid: GridSpec, device: str, transfer: str = "apic") -> None:
        """``transfer`` is "apic" (affine particle-in-cell) or "pic" (C = 0, dissipative)."""

    @abstractmethod
    def load_particles(self, particles: ParticleData, groups: list[MaterialGroup]) -> None:
        """Upload the particle state; groups must tile [0, N) in order."""

    @abstractmethod
    def load_tracers(self, points: np.ndarray) -> None:
        """Upload passive points (surface mesh vertices) advected by the grid velocity."""

    @abstractmethod
    def set_external_acceleration(self, acceleration: np.ndarray | None) -> None:
        """Per-particle body acceleration [m/s^2], (N, 3); None clears it."""

    @abstractmethod
    def add_velocity(self, delta_v: np.ndarray) -> None:
        """Add a per-particle velocity change [m/s], (N, 3) (impulses)."""

    @abstractmethod
    def set_mesh_colliders(self, meshes: list[MeshColliderSpec]) -> None:
        """Set (or update) the moving mesh colliders for the next substeps."""

    @abstractmethod
    def substep(
        self,
        dt: float,
        gravity: tuple[float, float, float],
        colliders: list[ColliderSpec],
        active_nodes: tuple[tuple[int, int, int], tuple[int, int, int]] | None = None,
    ) -> None:
        """Advance particles and tracers by one explicit step of length dt [s].

        ``active_nodes`` = (lo, hi) node index box [lo, hi) expected to hold all material; grid
        work is limited to it. It is a hint: a backend must stay correct (fall back to the
        whole grid) when a particle's stencil reaches outside it.
        """

    @abstractmethod
    def read_particles(self) -> ParticleData:
        """Copy the particle state back to numpy."""

    @abstractmethod
    def read_tracers(self) -> np.ndarray:
        """Copy the tracer positions back, (M, 3)."""

    @abstractmethod
    def first_escaped_particle(self) -> int:
        """Index of a particle whose stencil left the grid (or became NaN) since the last
        call, or -1; the flag is reset by the call. Tracers report as ``N + index``."""
