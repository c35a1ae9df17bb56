"""Drucker-Prager plasticity for cohesionless granular media (Klar et al. 2016, sand).

Hencky-strain return mapping: expansion projects to the cone tip (stress free); otherwise the
deviatoric strain is shrunk so that ||dev(eps)|| <= -alpha (3 lam + 2 mu)/(2 mu) tr(eps), with
alpha = sqrt(2/3) 2 sin(phi) / (3 - sin(phi)) from the friction angle phi.
"""

from __future__ import annotations

import warp as wp

from kernels.warp.materials.von_mises import hencky_stress as _hencky_stress
from kernels.warp.types import MaterialParams


@wp.func
def hencky_stress(F: wp.mat33, Jp: float, p: MaterialParams) -> wp.mat33:
    """St. Venant-Kirchhoff stress on the Hencky strain (shared with von Mises)."""
    return _hencky_stress(F, Jp, p)


@wp.func
def project(F: wp.mat33, Jp: float, p: MaterialParams) -> wp.mat33:
    """Project the trial elastic strain onto the Drucker-Prager cone."""
    U = wp.mat33()
    sigma = wp.vec3()
    V = wp.mat33()
    wp.svd3(F, U, sigma, V)
    s0 = wp.max(sigma[0], 1.0e-6)
    s1 = wp.max(sigma[1], 1.0e-6)
    s2 = wp.max(sigma[2], 1.0e-6)
    eps = wp.vec3(wp.log(s0), wp.log(s1), wp.log(s2))
    trace = eps[0] + eps[1] + eps[2]
    if trace >= 0.0:
        # separation: granular material carries no tension, return to the cone tip
        return U * wp.transpose(V)
    dev = eps - wp.vec3(trace / 3.0)
    dev_norm = wp.length(dev)
    if dev_norm <= 1.0e-12:
        return F
    excess = dev_norm + (3.0 * p.lam + 2.0 * p.mu) / (2.0 * p.mu) * trace * p.friction_alpha
    if excess <= 0.0:
        return F
    eps = eps - (excess / dev_norm) * dev
    return U * wp.diag(wp.vec3(wp.exp(eps[0]), wp.exp(eps[1]), wp.exp(eps[2]))) * wp.transpose(V)
