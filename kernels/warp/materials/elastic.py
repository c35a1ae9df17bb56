"""Hyperelastic models: fixed-corotated (Stomakhin et al. 2012) and compressible neo-Hookean."""

from __future__ import annotations

import warp as wp

from kernels.warp.types import MaterialParams


@wp.func
def fixed_corotated_stress(F: wp.mat33, Jp: float, p: MaterialParams) -> wp.mat33:
    """tau = 2 mu (F - R) F^T + lam (J - 1) J I, with R the rotation of the polar decomposition."""
    U = wp.mat33()
    sigma = wp.vec3()
    V = wp.mat33()
    wp.svd3(F, U, sigma, V)
    R = U * wp.transpose(V)
    J = sigma[0] * sigma[1] * sigma[2]
    return 2.0 * p.mu * (F - R) * wp.transpose(F) + wp.identity(n=3, dtype=float) * (
        p.lam * (J - 1.0) * J
    )


@wp.func
def neohookean_stress(F: wp.mat33, Jp: float, p: MaterialParams) -> wp.mat33:
    """tau = mu (F F^T - I) + lam ln(J) I (compressible neo-Hookean, SVD-free)."""
    J = wp.determinant(F)
    identity = wp.identity(n=3, dtype=float)
    return p.mu * (F * wp.transpose(F) - identity) + identity * (p.lam * wp.log(J))


@wp.func
def no_projection(F: wp.mat33, Jp: float, p: MaterialParams) -> wp.mat33:
    """Purely elastic: the trial deformation gradient is accepted."""
    return F
