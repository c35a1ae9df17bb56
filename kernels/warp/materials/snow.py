"""Snow (Stomakhin et al. 2013): fixed-corotated elasticity with exponential hardening and
singular values of the elastic deformation clamped to [1 - theta_c, 1 + theta_s].

Jp = det(F_P) is carried per particle; the Lamé parameters scale with exp(xi (1 - Jp)).
"""

from __future__ import annotations

import warp as wp

from kernels.warp.materials.elastic import fixed_corotated_stress
from kernels.warp.types import MaterialParams


@wp.func
def stress(F: wp.mat33, Jp: float, p: MaterialParams) -> wp.mat33:
    """Fixed-corotated stress of the elastic part with hardened Lamé parameters."""
    h = wp.exp(p.hardening * (1.0 - Jp))
    hardened = MaterialParams()
    hardened.mu = p.mu * h
    hardened.lam = p.lam * h
    return fixed_corotated_stress(F, Jp, hardened)


@wp.func
def project(F: wp.mat33, Jp: float, p: MaterialParams) -> wp.mat33:
    """Clamp the elastic singular values; the removed part becomes plastic."""
    U = wp.mat33()
    sigma = wp.vec3()
    V = wp.mat33()
    wp.svd3(F, U, sigma, V)
    lo = 1.0 - p.theta_c
    hi = 1.0 + p.theta_s
    clamped = wp.vec3(
        wp.clamp(sigma[0], lo, hi), wp.clamp(sigma[1], lo, hi), wp.clamp(sigma[2], lo, hi)
    )
    return U * wp.diag(clamped) * wp.transpose(V)
