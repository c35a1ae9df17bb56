"""The effector's skin: which body vertices strike, and how far they lead the effector joint.

Actions are planned on joints, but it is the skin that touches the object. A hand joint sits
at the knuckles with the fingers (or a mitten) reaching several centimetres further; a foot
joint sits at the ball of the foot. Planning the joint onto the target would make the skin
arrive early, at low speed. These helpers find the vertex that leads along the direction of
motion, so actions and the attraction can time and place the skin instead.
"""

from __future__ import annotations

import numpy as np

from phygenhoi.body import BodyModel
from phygenhoi.skeleton import PARENTS


def effector_vertices(body: BodyModel, joint: int) -> np.ndarray:
    """Indices of the vertices skinned mostly to ``joint`` or its parent (hand and wrist,
    foot and ankle): the skin that can strike."""
    dominant = np.argmax(body.skinning_weights, axis=1)
    return np.flatnonzero((dominant == joint) | (dominant == int(PARENTS[joint])))


def leading_vertex(
    vertices: np.ndarray, joint_position: np.ndarray, candidates: np.ndarray, direction: np.ndarray
) -> tuple[int, float]:
    """(vertex index, lead [m]): the candidate vertex furthest ahead of the joint along
    ``direction`` (one posed frame, (V, 3) vertices), and how far ahead it is."""
    unit = np.asarray(direction, dtype=np.float64)
    unit = unit / max(float(np.linalg.norm(unit)), 1e-12)
    ahead = (vertices[candidates].astype(np.float64) - joint_position) @ unit
    best = int(np.argmax(ahead))
    return int(candidates[best]), float(ahead[best])


__all__ = ["effector_vertices", "leading_vertex"]
