"""Weakly compressible fluid: Tait equation of state, no shear stress.

p = K / gamma (J^-gamma - 1); tau = -J p I. The deviatoric part of F is discarded every step
(F <- J^(1/3) I) so only the volume ratio J is carried.
"""

from __future__ import annotations

import warp as wp

from kernels.warp.types import MaterialParams


@wp.func
def stress(F: wp.mat33, Jp: float, p: MaterialParams) -> wp.mat33:
    """Kirchhoff stress of the Tait fluid, tau = -J p(J) I."""
    J = F[0, 0] * F[1, 1] * F[2, 2]
    pressure = p.bulk_modulus / p.gamma * (wp.pow(J, -p.gamma) - 1.0)
    return wp.identity(n=3, dtype=float) * (-J * pressure)


@wp.func
def project(F: wp.mat33, Jp: float, p: MaterialParams) -> wp.mat33:
    """Keep only the volume change: F <- J^(1/3) I."""
    J = wp.determinant(F)
    s = wp.pow(wp.max(J, 1.0e-6), 1.0 / 3.0)
    return wp.identity(n=3, dtype=float) * s
