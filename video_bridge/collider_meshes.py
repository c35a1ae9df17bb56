"""Mesh tracks for the analytic colliders recorded in a trajectory's metadata, so that
pedestals, pushers and keyframed spheres appear in renders (the ground is drawn separately)."""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import trimesh

from mpm import colliders
from mpm.rotation import quat_to_matrix
from mpm.trajectory import Track, Trajectory

logger = logging.getLogger("emu4d.video_bridge")

_CLASSES: dict[str, type] = {
    "Sphere": colliders.Sphere,
    "Box": colliders.Box,
    "Capsule": colliders.Capsule,
}


def _primitive(collider: Any) -> trimesh.Trimesh:
    """The collider's surface in its own frame."""
    if isinstance(collider, colliders.Sphere):
        return trimesh.creation.icosphere(subdivisions=3, radius=collider.radius)
    if isinstance(collider, colliders.Box):
        return trimesh.creation.box(extents=collider.extents)
    return trimesh.creation.capsule(height=collider.length, radius=collider.radius, count=(16, 16))


def collider_tracks(traj: Trajectory) -> dict[str, Track]:
    """``collider_<i>`` mesh tracks posed at every frame time, for the sphere, box and capsule
    colliders in ``traj.metadata["colliders"]`` (others, e.g. half-spaces, are skipped)."""
    tracks: dict[str, Track] = {}
    for index, spec in enumerate(traj.metadata.get("colliders", [])):
        cls = _CLASSES.get(spec.get("type", ""))
        if cls is None:
            continue
        try:
            collider = cls(**{k: v for k, v in spec.items() if k != "type"})
        except (TypeError, ValueError) as exc:  # metadata from another version: skip it
            logger.warning("collider %d not drawn: %s", index, exc)
            continue
        mesh = _primitive(collider)
        local = np.asarray(mesh.vertices, dtype=np.float64)
        frames = []
        for t in traj.times:
            pose = collider.pose_at(float(t))
            frames.append(local @ quat_to_matrix(pose.quat).T + pose.position)
        tracks[f"collider_{index}"] = Track(
            positions=np.asarray(frames, dtype=np.float32), faces=np.asarray(mesh.faces)
        )
    return tracks
