"""The SMPL kinematic tree (24 joints), shared by the body model and motions."""

from __future__ import annotations

import numpy as np

JOINT_NAMES: tuple[str, ...] = (
    "pelvis",
    "left_hip",
    "right_hip",
    "spine1",
    "left_knee",
    "right_knee",
    "spine2",
    "left_ankle",
    "right_ankle",
    "spine3",
    "left_foot",
    "right_foot",
    "neck",
    "left_collar",
    "right_collar",
    "head",
    "left_shoulder",
    "right_shoulder",
    "left_elbow",
    "right_elbow",
    "left_wrist",
    "right_wrist",
    "left_hand",
    "right_hand",
)

# parent index of every joint (-1 for the root), in SMPL order
PARENTS: np.ndarray = np.array(
    [-1, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9, 12, 13, 14, 16, 17, 18, 19, 20, 21],
    dtype=np.int64,
)

NUM_JOINTS = len(JOINT_NAMES)

# SMPL files are Y-up; emu4d is Z-up. Rotating +90 degrees about x maps (x, y, z) -> (x, -z, y),
# i.e. the model's up (+y) becomes +z and its forward (+z) becomes -y.
Y_UP_TO_Z_UP: np.ndarray = np.array(
    [[1.0, 0.0, 0.0], [0.0, 0.0, -1.0], [0.0, 1.0, 0.0]], dtype=np.float64
)


def joint_index(name: str) -> int:
    """Index of a joint by name; raises KeyError listing the names."""
    try:
        return JOINT_NAMES.index(name)
    except ValueError:
        raise KeyError(f"unknown joint {name!r}; joints: {list(JOINT_NAMES)}") from None
