"""Von Mises plasticity on the Hencky (logarithmic) strain with St. Venant-Kirchhoff elasticity.

Return mapping as in Klar et al. 2016 / Gao et al. 2017: the deviatoric part of the Hencky strain
is radially projected onto the yield surface ||dev(eps)|| <= yield_stress / (2 mu).
"""

from __future__ import annotations

import warp as wp

from kernels.warp.types import MaterialParams


@wp.func
def hencky_stress(F: wp.mat33, Jp: float, p: MaterialParams) -> wp.mat33:
    """tau = U diag(2 mu eps + lam tr(eps)) U^T with eps = log(singular values of F)."""
    U = wp.mat33()
    sigma = wp.vec3()
    V = wp.mat33()
    wp.svd3(F, U, sigma, V)
    eps = wp.vec3(wp.log(sigma[0]), wp.log(sigma[1]), wp.log(sigma[2]))
    trace = eps[0] + eps[1] + eps[2]
    d = 2.0 * p.mu * eps + wp.vec3(p.lam * trace)
    return U * wp.diag(d) * wp.transpose(U)


@wp.func
def project(F: wp.mat33, Jp: float, p: MaterialParams) -> wp.mat33:
    """Radial return of the deviatoric Hencky strain onto the von Mises yield surface."""
    U = wp.mat33()
    sigma = wp.vec3()
    V = wp.mat33()
    wp.svd3(F, U, sigma, V)
    eps = wp.vec3(wp.log(sigma[0]), wp.log(sigma[1]), wp.log(sigma[2]))
    mean = (eps[0] + eps[1] + eps[2]) / 3.0
    dev = eps - wp.vec3(mean)
    dev_norm = wp.length(dev)
    excess = dev_norm - p.yield_stress / (2.0 * p.mu)
    if excess <= 0.0:
        return F
    eps = eps - (excess / dev_norm) * dev
    return U * wp.diag(wp.vec3(wp.exp(eps[0]), wp.exp(eps[1]), wp.exp(eps[2]))) * wp.transpose(V)
