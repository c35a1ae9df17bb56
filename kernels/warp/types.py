"""Warp structs shared by the MPM kernels."""

from __future__ import annotations

import warp as wp


@wp.struct
class MaterialParams:
    """Constitutive parameters of one material group, SI units (see kernels.interface)."""

    mu: float
    lam: float
    yield_stress: float
    friction_alpha: float
    hardening: float
    theta_c: float
    theta_s: float
    bulk_modulus: float
    gamma: float
    viscosity: float


@wp.struct
class Collider:
    """An analytic collider at the current substep (see kernels.interface.ColliderSpec)."""

    kind: int  # 0 half-space (+z normal), 1 sphere, 2 box, 3 capsule
    mode: int  # 0 sticky, 1 slip, 2 separate
    friction: float
    position: wp.vec3
    rotation: wp.quat
    linear_velocity: wp.vec3
    angular_velocity: wp.vec3
    size: wp.vec3
