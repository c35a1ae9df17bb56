"""Quadratic B-spline stencil shared by the transfer kernels (MLS-MPM, Hu et al. 2018)."""

from __future__ import annotations

import warp as wp


@wp.func
def stencil_base(xg: wp.vec3) -> wp.vec3i:
    """Lowest node index of the 3x3x3 stencil of a particle at grid coordinate xg = (x-o)/dx."""
    return wp.vec3i(
        int(wp.floor(xg[0] - 0.5)), int(wp.floor(xg[1] - 0.5)), int(wp.floor(xg[2] - 0.5))
    )


@wp.func
def stencil_inside(xg: wp.vec3, base: wp.vec3i, shape: wp.vec3i) -> bool:
    """True when the particle is finite and all 27 stencil nodes exist on the grid."""
    if wp.isnan(xg[0]) or wp.isnan(xg[1]) or wp.isnan(xg[2]):
        return False
    for a in range(3):
        if base[a] < 0 or base[a] + 2 >= shape[a]:
            return False
    return True


@wp.func
def stencil_weights(fx: wp.vec3) -> wp.mat33:
    """Quadratic B-spline weights; row i holds the weights of node offset i along x, y, z.

    fx = xg - base lies in [0.5, 1.5) per axis.
    """
    w0 = 0.5 * wp.cw_mul(wp.vec3(1.5) - fx, wp.vec3(1.5) - fx)
    d1 = fx - wp.vec3(1.0)
    w1 = wp.vec3(0.75) - wp.cw_mul(d1, d1)
    d2 = fx - wp.vec3(0.5)
    w2 = 0.5 * wp.cw_mul(d2, d2)
    return wp.mat33(w0[0], w0[1], w0[2], w1[0], w1[1], w1[2], w2[0], w2[1], w2[2])
