"""MLS-MPM particle-to-grid and grid-to-particle kernels with APIC transfer.

Hu et al. 2018, "A moving least squares material point method with displacement discontinuity
and two-way rigid body coupling", and Jiang et al. 2015 (APIC). The grid stores (momentum, mass)
as one vec4 per node; after the grid update it stores (velocity, mass).

Kernels are generated per material model (``make_transfer_kernels``) so that the constitutive
law and return mapping are compiled into the particle loops without runtime branching.
"""

from __future__ import annotations

from functools import cache

import warp as wp

from kernels.warp.materials import MODEL_FUNCTIONS
from kernels.warp.stencil import stencil_base, stencil_inside, stencil_weights
from kernels.warp.types import MaterialParams

NO_ESCAPE = 2**31 - 1  # value of the escape flag when every particle is inside the grid


@cache
def make_transfer_kernels(model: str, transfer: str = "apic") -> tuple[wp.Kernel, wp.Kernel]:
    """Return the (p2g, g2p) kernels specialised for the material ``model``.

    ``transfer="pic"`` stores C = 0 after G2P (the velocity gradient still updates F): plain
    PIC, which dissipates angular momentum; it exists as the negative control of APIC.
    """
    stress_fn, project_fn = MODEL_FUNCTIONS[model]
    keep_affine = wp.constant(1 if transfer == "apic" else 0)

    @wp.kernel(module="unique")
    def p2g_scatter(
        start: int,
        particle_x: wp.array(dtype=wp.vec3),
        particle_v: wp.array(dtype=wp.vec3),
        particle_C: wp.array(dtype=wp.mat33),
        particle_F: wp.array(dtype=wp.mat33),
        particle_Jp: wp.array(dtype=float),
        particle_volume: wp.array(dtype=float),
        particle_mass: wp.array(dtype=float),
        particle_accel: wp.array(dtype=wp.vec3),
        use_accel: int,
        params: MaterialParams,
        dt: float,
        origin: wp.vec3,
        inv_dx: float,
        shape: wp.vec3i,
        grid: wp.array3d(dtype=wp.vec4),
        escaped: wp.array(dtype=int),
        box_lo: wp.vec3i,
        box_hi: wp.vec3i,
        outside_box: wp.array(dtype=int),
    ):
        p = start + wp.tid()
        xg = (particle_x[p] - origin) * inv_dx
        base = stencil_base(xg)
        if not stencil_inside(xg, base, shape):
            wp.atomic_min(escaped, 0, p)
            return
        for a in range(3):
            if base[a] < box_lo[a] or base[a] + 3 > box_hi[a]:
                outside_box[0] = 1  # the grid update must cover the whole grid this substep
        fx = xg - wp.vec3(float(base[0]), float(base[1]), float(base[2]))
        w = stencil_weights(fx)
        mass = particle_mass[p]
        tau = stress_fn(particle_F[p], particle_Jp[p], params)
        C = particle_C[p]
        if params.viscosity > 0.0:
            # viscous Kirchhoff stress J eta (grad v + grad v^T); C is the velocity gradient
            tau += (params.viscosity * wp.determinant(particle_F[p])) * (C + wp.transpose(C))
        # MLS-MPM fuses the stress force and the APIC affine momentum into one matrix:
        # Q = -dt V0 (4/dx^2) tau + m C, node momentum += w (m v + Q (x_i - x_p)).
        dx = 1.0 / inv_dx
        affine = (-dt * particle_volume[p] * 4.0 * inv_dx * inv_dx) * tau + mass * C
        momentum = mass * particle_v[p]
        if use_accel != 0:
            momentum = momentum + (dt * mass) * particle_accel[p]
        for i in range(3):
            for j in range(3):
                for k in range(3):
                    weight = w[i, 0] * w[j, 1] * w[k, 2]
                    offset = (wp.vec3(float(i), float(j), float(k)) - fx) * dx
                    node_p = weight * (momentum + affine * offset)
                    wp.atomic_add(
                        grid,
                        base[0] + i,
                        base[1] + j,
                        base[2] + k,
                        wp.vec4(node_p[0], node_p[1], node_p[2], weight * mass),
                    )

    @wp.kernel(module="unique")
    def g2p_gather(
        start: int,
        particle_x: wp.array(dtype=wp.vec3),
        particle_v: wp.array(dtype=wp.vec3),
        particle_C: wp.array(dtype=wp.mat33),
        particle_F: wp.array(dtype=wp.mat33),
        particle_Jp: wp.array(dtype=float),
        params: MaterialParams,
        dt: float,
        origin: wp.vec3,
        inv_dx: float,
        shape: wp.vec3i,
        grid: wp.array3d(dtype=wp.vec4),
        escaped: wp.array(dtype=int),
    ):
        p = start + wp.tid()
        xg = (particle_x[p] - origin) * inv_dx
        base = stencil_base(xg)
        if not stencil_inside(xg, base, shape):
            wp.atomic_min(escaped, 0, p)
            return
        fx = xg - wp.vec3(float(base[0]), float(base[1]), float(base[2]))
        w = stencil_weights(fx)
        dx = 1.0 / inv_dx
        new_v = wp.vec3()
        new_C = wp.mat33()
        for i in range(3):
            for j in range(3):
                for k in range(3):
                    weight = w[i, 0] * w[j, 1] * w[k, 2]
                    offset = (wp.vec3(float(i), float(j), float(k)) - fx) * dx
                    node = grid[base[0] + i, base[1] + j, base[2] + k]
                    node_v = wp.vec3(node[0], node[1], node[2])
                    new_v += weight * node_v
                    new_C += (4.0 * inv_dx * inv_dx * weight) * wp.outer(node_v, offset)
        F_trial = (wp.identity(n=3, dtype=float) + dt * new_C) * particle_F[p]
        F_new = project_fn(F_trial, particle_Jp[p], params)
        # plastic volume change det(F_P) absorbs what the projection removed
        particle_Jp[p] = particle_Jp[p] * wp.determinant(F_trial) / wp.determinant(F_new)
        particle_F[p] = F_new
        particle_v[p] = new_v
        if keep_affine == 1:
            particle_C[p] = new_C
        else:
            particle_C[p] = wp.mat33()
        particle_x[p] = particle_x[p] + dt * new_v

    return p2g_scatter, g2p_gather


@wp.kernel
def advect_tracers(
    tracer_x: wp.array(dtype=wp.vec3),
    dt: float,
    origin: wp.vec3,
    inv_dx: float,
    shape: wp.vec3i,
    grid: wp.array3d(dtype=wp.vec4),
    escaped: wp.array(dtype=int),
    index_offset: int,
):
    """Move passive points (surface mesh vertices) with the grid velocity, interpolated with
    the B-spline weights of the nodes that carry mass."""
    t = wp.tid()
    xg = (tracer_x[t] - origin) * inv_dx
    base = stencil_base(xg)
    if not stencil_inside(xg, base, shape):
        wp.atomic_min(escaped, 0, index_offset + t)
        return
    fx = xg - wp.vec3(float(base[0]), float(base[1]), float(base[2]))
    w = stencil_weights(fx)
    v = wp.vec3()
    covered = float(0.0)  # noqa: UP018 - warp needs a typed local when mutated in loops
    for i in range(3):
        for j in range(3):
            for k in range(3):
                node = grid[base[0] + i, base[1] + j, base[2] + k]
                if node[3] > 0.0:
                    weight = w[i, 0] * w[j, 1] * w[k, 2]
                    v += weight * wp.vec3(node[0], node[1], node[2])
                    covered += weight
    # surface points sit at the material's edge where some stencil nodes are empty: average
    # over the nodes that carry material instead of counting empty ones as at rest
    if covered > 0.0:
        v = v / covered
    tracer_x[t] = tracer_x[t] + dt * v

