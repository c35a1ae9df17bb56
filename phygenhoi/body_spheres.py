"""The posed body as moving balls, for the learned emulator (neurok), whose colliders are
spheres: the union of balls inscribed under the skin. Each ball touches the skin at one
vertex from inside, its radius half the body's thickness there (a ray cast inwards along the
vertex normal), so fingers, a flat hand or a foot get balls as thin as they are, and a torso
big ones. Only the skin that comes near the object gets balls; they follow their vertex and
its normal frame by frame. Overlapping balls push as one body (the emulator lets a point meet
only the ball it is deepest in).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import trimesh

import mpm
from phygenhoi.body import BodyOutput

MIN_RADIUS, MAX_RADIUS = 0.01, 0.08  # [m] bounds of a ball (a finger's, a thigh's)


def body_spheres(
    posed: BodyOutput,
    fps: float,
    near: tuple[Sequence[float], Sequence[float]],
    reach: float = 0.2,
    friction: float = 0.5,
    spacing: float = 0.6,
) -> list[mpm.colliders.Sphere]:
    """Sphere colliders keyed at every frame of ``posed`` (frame k at k / ``fps`` [s]),
    inscribed under the skin that comes within ``reach`` [m] of the box ``near`` = (low,
    high) [m] at some frame; a ball is kept when its centre is more than ``spacing`` times
    the smaller radius from every ball kept before it (largest first)."""
    vertices = np.asarray(posed.vertices, dtype=np.float64)  # (T, V, 3)
    faces = np.asarray(posed.faces)
    low, high = (np.asarray(b, dtype=np.float64) for b in near)
    gap = np.linalg.norm(np.maximum(np.maximum(low - vertices, vertices - high), 0.0), axis=2)
    skin = np.flatnonzero(gap.min(axis=0) < reach)
    if len(skin) == 0:
        return []
    rest = trimesh.Trimesh(vertices[0], faces, process=False)
    radius = _half_thickness(rest, skin)
    normals = rest.vertex_normals[skin]
    centres = vertices[0, skin] - normals * radius[:, None]
    kept: list[int] = []
    for i in np.argsort(-radius, kind="stable"):
        if all(np.linalg.norm(centres[i] - centres[j]) > spacing * min(radius[i], radius[j])
               for j in kept):  # fmt: skip
            kept.append(int(i))
    ids = skin[kept]
    paths = np.stack([
        frame[ids] - trimesh.Trimesh(frame, faces, process=False).vertex_normals[ids]
        * radius[kept][:, None]
        for frame in vertices
    ])  # fmt: skip  # (T, K, 3) ball centres
    spheres = []
    for ball, r in enumerate(radius[kept]):
        keys = tuple(mpm.colliders.Keyframe(k / fps, tuple(c.tolist()))
                     for k, c in enumerate(paths[:, ball]))  # fmt: skip
        spheres.append(mpm.colliders.Sphere(radius=float(r), center=keys[0].position,
                                            keyframes=keys, mode="separate",
                                            friction=friction))  # fmt: skip
    return spheres


def _half_thickness(mesh: trimesh.Trimesh, vertices: np.ndarray) -> np.ndarray:
    """Half the distance [m] from each of ``vertices`` inwards along its normal to the skin
    on the other side, within [MIN_RADIUS, MAX_RADIUS] (MAX_RADIUS where no ray hits)."""
    normals = mesh.vertex_normals[vertices]
    origins = mesh.vertices[vertices] - 1e-4 * normals
    hits, rays, _ = mesh.ray.intersects_location(origins, -normals, multiple_hits=False)
    thickness = np.full(len(vertices), 2 * MAX_RADIUS)
    thickness[rays] = np.linalg.norm(hits - origins[rays], axis=1)
    return np.clip(thickness / 2, MIN_RADIUS, MAX_RADIUS)
