"""Grid update: momentum to velocity, gravity, and collider boundary conditions.

Boundary conditions act on node velocities relative to the collider's own velocity at the
node (moving colliders impart their velocity to the grid). Modes: sticky (relative velocity
zero), slip (normal component removed, Coulomb friction on the tangential part) and separate
(like slip, but only when the node approaches the collider).
"""

from __future__ import annotations

import warp as wp

from kernels.warp.types import Collider

MODE_STICKY = wp.constant(0)
MODE_SEPARATE = wp.constant(2)


@wp.func
def project_contact(v_rel: wp.vec3, n: wp.vec3, mode: int, friction: float) -> wp.vec3:
    """Boundary condition on a relative velocity v_rel at a surface with outward normal n."""
    if mode == MODE_STICKY:
        return wp.vec3()
    vn = wp.dot(v_rel, n)
    if mode == MODE_SEPARATE and vn >= 0.0:
        return v_rel
    vt = v_rel - vn * n
    vt_norm = wp.length(vt)
    if vn < 0.0 and friction > 0.0 and vt_norm > 0.0:
        # Coulomb: the tangential speed drops by mu times the removed normal speed
        vt = vt * wp.max(0.0, 1.0 - friction * (-vn) / vt_norm)
    return vt


@wp.func
def collider_distance(c: Collider, x_local: wp.vec3) -> float:
    """Signed distance [m] of a point in the collider frame (negative inside)."""
    if c.kind == 0:
        return x_local[2]
    if c.kind == 1:
        return wp.length(x_local) - c.size[0]
    if c.kind == 2:
        q = wp.vec3(wp.abs(x_local[0]), wp.abs(x_local[1]), wp.abs(x_local[2])) - c.size
        outside = wp.vec3(wp.max(q[0], 0.0), wp.max(q[1], 0.0), wp.max(q[2], 0.0))
        return wp.length(outside) + wp.min(wp.max(q[0], wp.max(q[1], q[2])), 0.0)
    # capsule: segment on the local z axis of half length size[1], radius size[0]
    z = wp.clamp(x_local[2], -c.size[1], c.size[1])
    return wp.length(x_local - wp.vec3(0.0, 0.0, z)) - c.size[0]


@wp.func
def collider_normal(c: Collider, x_local: wp.vec3) -> wp.vec3:
    """Outward unit normal in the collider frame, by central differences of the distance."""
    h = 1.0e-4
    n = wp.vec3(
        collider_distance(c, x_local + wp.vec3(h, 0.0, 0.0))
        - collider_distance(c, x_local - wp.vec3(h, 0.0, 0.0)),
        collider_distance(c, x_local + wp.vec3(0.0, h, 0.0))
        - collider_distance(c, x_local - wp.vec3(0.0, h, 0.0)),
        collider_distance(c, x_local + wp.vec3(0.0, 0.0, h))
        - collider_distance(c, x_local - wp.vec3(0.0, 0.0, h)),
    )
    length = wp.length(n)
    if length < 1.0e-12:
        return wp.vec3(0.0, 0.0, 1.0)
    return n / length


@wp.kernel
def update_grid(
    grid: wp.array3d(dtype=wp.vec4),
    dt: float,
    gravity: wp.vec3,
    origin: wp.vec3,
    dx: float,
    colliders: wp.array(dtype=Collider),
    num_colliders: int,
    offset: wp.vec3i,
):
    """Turn node momentum into velocity, add gravity, apply analytic colliders.

    Launched over a box of nodes starting at ``offset`` (the region that can hold mass)."""
    i, j, k = wp.tid()
    i += offset[0]
    j += offset[1]
    k += offset[2]
    node = grid[i, j, k]
    mass = node[3]
    if mass <= 0.0:
        return
    v = wp.vec3(node[0], node[1], node[2]) / mass + dt * gravity
    x = origin + dx * wp.vec3(float(i), float(j), float(k))
    for c_index in range(num_colliders):
        c = colliders[c_index]
        x_local = wp.quat_rotate_inv(c.rotation, x - c.position)
        # nodes on the surface count as inside; the tolerance absorbs the fp32 rounding of the
        # frame transform, which would otherwise leave on-plane nodes free on one side only
        if collider_distance(c, x_local) <= 1.0e-3 * dx:
            n = wp.quat_rotate(c.rotation, collider_normal(c, x_local))
            v_col = c.linear_velocity + wp.cross(c.angular_velocity, x - c.position)
            v = v_col + project_contact(v - v_col, n, c.mode, c.friction)
    grid[i, j, k] = wp.vec4(v[0], v[1], v[2], mass)


@wp.kernel
def apply_mesh_collider(
    grid: wp.array3d(dtype=wp.vec4),
    mesh: wp.uint64,
    origin: wp.vec3,
    dx: float,
    lower: wp.vec3,
    upper: wp.vec3,
    mode: int,
    friction: float,
    thickness: float,
    offset: wp.vec3i,
):
    """Impose the velocity of a moving triangle mesh on grid nodes inside (or within
    ``thickness`` of) it; the mesh velocity at the closest surface point is interpolated
    from its vertex velocities."""
    i, j, k = wp.tid()
    i += offset[0]
    j += offset[1]
    k += offset[2]
    node = grid[i, j, k]
    if node[3] <= 0.0:
        return
    x = origin + dx * wp.vec3(float(i), float(j), float(k))
    for a in range(3):
        if x[a] < lower[a] or x[a] > upper[a]:
            return
    query = wp.mesh_query_point_sign_normal(mesh, x, 2.0 * dx + thickness)
    if not query.result:
        return
    closest = wp.mesh_eval_position(mesh, query.face, query.u, query.v)
    distance = wp.length(x - closest) * query.sign
    if distance > thickness:
        return
    n = wp.mesh_eval_face_normal(mesh, query.face)
    v_col = wp.mesh_eval_velocity(mesh, query.face, query.u, query.v)
    v = wp.vec3(node[0], node[1], node[2])
    v = v_col + project_contact(v - v_col, n, mode, friction)
    grid[i, j, k] = wp.vec4(v[0], v[1], v[2], node[3])
