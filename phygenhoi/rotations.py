"""Vectorised rotation helpers (numpy, float64) for motions.

Conventions: axis-angle vectors ``(..., 3)`` in radians (direction = axis, norm = angle);
quaternions ``(..., 4)`` in **(x, y, z, w)** order like :mod:`mpm.rotation` and scipy; rotation
matrices ``(..., 3, 3)`` act on column vectors. Every function broadcasts over leading dimensions.
Quaternions returned here are unit length with ``w >= 0`` (the hemisphere of rotation angles in
``[0, pi]``), so :func:`quat_to_axis_angle` returns angles in ``[0, pi]``.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

__all__ = [
    "axis_angle_to_matrix",
    "axis_angle_to_quat",
    "euler_to_matrix",
    "matrix_to_axis_angle",
    "matrix_to_quat",
    "quat_multiply",
    "quat_slerp",
    "quat_to_axis_angle",
    "quat_to_matrix",
]

_SMALL = 1e-8  # below this angle [rad] the Taylor expansions are exact to float64 precision


def _f64(x: ArrayLike) -> np.ndarray:
    return np.asarray(x, dtype=np.float64)


def _canonical(q: np.ndarray) -> np.ndarray:
    """Normalise and flip to the ``w >= 0`` hemisphere."""
    q = q / np.linalg.norm(q, axis=-1, keepdims=True)
    return np.where(q[..., 3:4] < 0.0, -q, q)


def axis_angle_to_quat(aa: ArrayLike) -> np.ndarray:
    """Unit quaternions (x, y, z, w), ``(..., 4)``, of axis-angle vectors ``(..., 3)`` [rad]."""
    aa = _f64(aa)
    angle = np.linalg.norm(aa, axis=-1, keepdims=True)
    half = 0.5 * angle
    # sin(angle/2)/angle, with its Taylor series 1/2 - angle^2/48 near zero
    safe = np.where(angle > _SMALL, angle, 1.0)
    k = np.where(angle > _SMALL, np.sin(half) / safe, 0.5 - angle**2 / 48.0)
    return _canonical(np.concatenate([aa * k, np.cos(half)], axis=-1))


def quat_to_axis_angle(q: ArrayLike) -> np.ndarray:
    """Axis-angle vectors ``(..., 3)`` [rad, angle in [0, pi]] of quaternions (x, y, z, w)."""
    q = _canonical(_f64(q))
    v, w = q[..., :3], q[..., 3:4]
    n = np.linalg.norm(v, axis=-1, keepdims=True)
    angle = 2.0 * np.arctan2(n, w)
    # angle / n -> 2 / w as n -> 0 (w -> 1 there, so no division by zero)
    big = n > _SMALL
    scale = np.where(big, angle / np.where(big, n, 1.0), 2.0 / np.where(big, 1.0, w))
    return v * scale


def quat_to_matrix(q: ArrayLike) -> np.ndarray:
    """Rotation matrices ``(..., 3, 3)`` of quaternions (x, y, z, w) (normalised first)."""
    q = _f64(q)
    q = q / np.linalg.norm(q, axis=-1, keepdims=True)
    x, y, z, w = q[..., 0], q[..., 1], q[..., 2], q[..., 3]
    R = np.empty((*q.shape[:-1], 3, 3), dtype=np.float64)
    R[..., 0, 0] = 1 - 2 * (y * y + z * z)
    R[..., 0, 1] = 2 * (x * y - z * w)
    R[..., 0, 2] = 2 * (x * z + y * w)
    R[..., 1, 0] = 2 * (x * y + z * w)
    R[..., 1, 1] = 1 - 2 * (x * x + z * z)
    R[..., 1, 2] = 2 * (y * z - x * w)
    R[..., 2, 0] = 2 * (x * z - y * w)
    R[..., 2, 1] = 2 * (y * z + x * w)
    R[..., 2, 2] = 1 - 2 * (x * x + y * y)
    return R


def matrix_to_quat(R: ArrayLike) -> np.ndarray:
    """Quaternions (x, y, z, w), ``(..., 4)``, of rotation matrices ``(..., 3, 3)``.

    Shepperd's method: per matrix, the branch with the largest of (trace, R00, R11, R22) is used,
    which keeps the square root away from zero.
    """
    R = _f64(R)
    r00, r11, r22 = R[..., 0, 0], R[..., 1, 1], R[..., 2, 2]
    r01, r02, r10 = R[..., 0, 1], R[..., 0, 2], R[..., 1, 0]
    r12, r20, r21 = R[..., 1, 2], R[..., 2, 0], R[..., 2, 1]
    trace = r00 + r11 + r22
    cands = []
    for diag in (trace, r00 - r11 - r22, r11 - r00 - r22, r22 - r00 - r11):
        cands.append(2.0 * np.sqrt(np.maximum(1.0 + diag, 1e-300)))
    s_w, s_x, s_y, s_z = cands
    q_w = np.stack([(r21 - r12) / s_w, (r02 - r20) / s_w, (r10 - r01) / s_w, 0.25 * s_w], -1)
    q_x = np.stack([0.25 * s_x, (r01 + r10) / s_x, (r02 + r20) / s_x, (r21 - r12) / s_x], -1)
    q_y = np.stack([(r01 + r10) / s_y, 0.25 * s_y, (r12 + r21) / s_y, (r02 - r20) / s_y], -1)
    q_z = np.stack([(r02 + r20) / s_z, (r12 + r21) / s_z, 0.25 * s_z, (r10 - r01) / s_z], -1)
    branch = np.argmax(np.stack([trace, r00, r11, r22], -1), axis=-1)[..., None]
    q = np.where(branch == 0, q_w, np.where(branch == 1, q_x, np.where(branch == 2, q_y, q_z)))
    return _canonical(q)


def axis_angle_to_matrix(aa: ArrayLike) -> np.ndarray:
    """Rotation matrices ``(..., 3, 3)`` of axis-angle vectors ``(..., 3)`` [rad]."""
    return quat_to_matrix(axis_angle_to_quat(aa))


def matrix_to_axis_angle(R: ArrayLike) -> np.ndarray:
    """Axis-angle vectors ``(..., 3)`` [rad, angle in [0, pi]] of rotation matrices."""
    return quat_to_axis_angle(matrix_to_quat(R))


def quat_multiply(a: ArrayLike, b: ArrayLike) -> np.ndarray:
    """Hamilton product ``a * b`` of quaternions (x, y, z, w): the rotation b, then a."""
    a, b = _f64(a), _f64(b)
    ax, ay, az, aw = np.moveaxis(a, -1, 0)
    bx, by, bz, bw = np.moveaxis(b, -1, 0)
    return np.stack(
        [
            aw * bx + ax * bw + ay * bz - az * by,
            aw * by - ax * bz + ay * bw + az * bx,
            aw * bz + ax * by - ay * bx + az * bw,
            aw * bw - ax * bx - ay * by - az * bz,
        ],
        axis=-1,
    )


def quat_slerp(q0: ArrayLike, q1: ArrayLike, t: ArrayLike) -> np.ndarray:
    """Spherical linear interpolation along the shortest arc, ``(..., 4)``.

    ``q0``, ``q1``: quaternions (x, y, z, w) ``(..., 4)``; ``t``: fractions ``(...)`` broadcast
    against the leading dimensions (0 gives ``q0``, 1 gives ``q1``). The half-angle between the
    quaternions is taken as ``atan2(|q0 - q1|, |q0 + q1|)``, accurate also for tiny angles, where
    the formula falls back to normalised linear interpolation.
    """
    q0 = _canonical(_f64(q0))
    q1 = _canonical(_f64(q1))
    t = _f64(t)[..., None]
    q1 = np.where(np.sum(q0 * q1, axis=-1, keepdims=True) < 0.0, -q1, q1)  # shortest arc
    half = 2.0 * np.arctan2(
        np.linalg.norm(q0 - q1, axis=-1, keepdims=True),
        np.linalg.norm(q0 + q1, axis=-1, keepdims=True),
    )  # angle between q0 and q1 on the 4-sphere (= half the rotation angle between them)
    sin_half = np.sin(half)
    small = sin_half < _SMALL
    safe = np.where(small, 1.0, sin_half)
    w0 = np.where(small, 1.0 - t, np.sin((1.0 - t) * half) / safe)
    w1 = np.where(small, t, np.sin(t * half) / safe)
    return _canonical(w0 * q0 + w1 * q1)


_AXES = {"X": 0, "Y": 1, "Z": 2}


def _axis_matrix(axis: int, angle: np.ndarray) -> np.ndarray:
    c, s = np.cos(angle), np.sin(angle)
    R = np.zeros((*angle.shape, 3, 3), dtype=np.float64)
    i, j = (axis + 1) % 3, (axis + 2) % 3
    R[..., axis, axis] = 1.0
    R[..., i, i] = c
    R[..., j, j] = c
    R[..., i, j] = -s
    R[..., j, i] = s
    return R


def euler_to_matrix(angles: ArrayLike, order: str) -> np.ndarray:
    """Rotation matrices ``(..., 3, 3)`` of intrinsic Euler angles ``(..., len(order))`` [rad].

    ``order`` names the axes in the order the angles are given, e.g. ``"ZXY"``; the result is
    ``R = R_Z(a0) @ R_X(a1) @ R_Y(a2)`` (rotations about the moving axes, the BVH convention).
    """
    angles = _f64(angles)
    order = order.upper()
    if not order or any(a not in _AXES for a in order) or angles.shape[-1] != len(order):
        raise ValueError(
            f"euler_to_matrix: order {order!r} must use the axes X, Y, Z and match the "
            f"{angles.shape[-1]} angles given"
        )
    R = np.broadcast_to(np.eye(3), (*angles.shape[:-1], 3, 3)).copy()
    for k, axis in enumerate(order):
        R = R @ _axis_matrix(_AXES[axis], angles[..., k])
    return R
