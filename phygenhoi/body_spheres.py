"""The posed body as moving spheres, for the learned emulator (neurok), whose colliders are
spheres: the body's vertices are grouped by the joint that moves them most, each group is
cut into pieces about as long as they are thick, and every piece becomes a ball around its
vertices' mean that follows them frame by frame. Limbs and hands become chains of balls
that fill their cross-section; only the pieces that come near the object are kept.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

import mpm
from phygenhoi.body import BodyOutput


def body_spheres(
    posed: BodyOutput,
    skinning_weights: np.ndarray,
    fps: float,
    near: tuple[Sequence[float], Sequence[float]],
    reach: float = 0.2,
    friction: float = 0.5,
) -> list[mpm.colliders.Sphere]:
    """Sphere colliders keyed at every frame of ``posed`` (frame k at k / ``fps`` [s]), for
    the pieces of the body that come within ``reach`` [m] of the box ``near`` = (low, high)
    [m] at some frame. ``skinning_weights`` (V, J) choose each vertex's joint."""
    vertices = np.asarray(posed.vertices, dtype=np.float64)  # (T, V, 3)
    rest = vertices[0]
    owner = np.argmax(skinning_weights, axis=1)
    low, high = (np.asarray(b, dtype=np.float64) for b in near)
    spheres = []
    for joint in np.unique(owner):
        for members in _pieces(rest, np.flatnonzero(owner == joint)):
            centres = vertices[:, members].mean(axis=1)  # (T, 3)
            # a ball that covers most of its piece's surface (the 75th percentile of the
            # members' distances), not its farthest vertex: neighbouring balls overlap
            radius = float(np.percentile(np.linalg.norm(rest[members] - centres[0], axis=1), 75))
            gap = np.linalg.norm(np.maximum(np.maximum(low - centres, centres - high), 0.0),
                                 axis=1) - radius  # fmt: skip
            if gap.min() > reach or radius <= 0:
                continue
            keys = tuple(mpm.colliders.Keyframe(k / fps, tuple(c.tolist()))
                         for k, c in enumerate(centres))  # fmt: skip
            spheres.append(mpm.colliders.Sphere(radius=radius, center=keys[0].position,
                                                keyframes=keys, mode="separate",
                                                friction=friction))  # fmt: skip
    return spheres


def _pieces(points: np.ndarray, members: np.ndarray) -> list[np.ndarray]:
    """``members`` (indices into ``points``) cut along their principal axis into pieces
    about as long as they are thick."""
    if len(members) < 8:
        return [members] if len(members) else []
    local = points[members] - points[members].mean(axis=0)
    _, _, axes = np.linalg.svd(local, full_matrices=False)
    along = local @ axes[0]
    across = np.linalg.norm(local - np.outer(along, axes[0]), axis=1)
    thickness = max(2.0 * float(np.median(across)), 1e-6)
    count = int(np.clip(np.ceil(np.ptp(along) / thickness), 1, 12))
    edges = np.linspace(along.min(), along.max(), count + 1)
    piece = np.clip(np.searchsorted(edges, along, side="right") - 1, 0, count - 1)
    return [members[piece == i] for i in range(count) if (piece == i).any()]
