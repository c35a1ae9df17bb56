"""Windowed attraction (PhyGenHOI): make the effector reach the object's surface in a window.

The effector joint and the contact frame are read off the motion (the candidate joint with the
highest peak speed, at its speed peak), unless given. The motion is then corrected only inside
a temporal window around the contact frame: per-joint axis-angle offsets ``delta`` on the
effector's limb chain, blended in by a raised-cosine profile w(t) (1 at the contact frame,
0 at and outside the window edges), so the correction is smooth (no jerk), leaves frames
outside the window untouched and never moves the feet of upper-body actions. The offsets
minimise, by Adam through the body's differentiable forward kinematics (torch),

    |p_eff(t*) - c|^2 + lambda_reg |delta|^2 + lambda_lim sum relu(|theta| - theta_max)^2,

where c is the closest point of the object surface to the effector, re-projected every step.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
import trimesh

from phygenhoi.body import BodyModel
from phygenhoi.errors import ContactError
from phygenhoi.motion import Motion
from phygenhoi.skeleton import JOINT_NAMES, PARENTS, joint_index

CANDIDATE_EFFECTORS = ("left_hand", "right_hand", "left_foot", "right_foot")


@dataclass(frozen=True)
class AttractionResult:
    """Outcome of :func:`attract`.

    Attributes:
        motion: the corrected motion. effector_joint: SMPL joint index. contact_frame: t*.
        window: (first, last) frame of the corrected span. distance_before / distance_after:
            effector-to-surface distance at t* [m]. iterations: optimiser steps taken.
    """

    motion: Motion
    effector_joint: int
    contact_frame: int
    window: tuple[int, int]
    distance_before: float
    distance_after: float
    iterations: int


def joint_speeds(body: BodyModel, motion: Motion) -> np.ndarray:
    """(T, 24) joint speeds [m/s] by central differences of the world joint positions."""
    joints = body.joint_positions(motion.poses, motion.trans).astype(np.float64)
    velocity = np.gradient(joints, 1.0 / motion.fps, axis=0)
    return np.linalg.norm(velocity, axis=-1)


def select_contact(
    body: BodyModel, motion: Motion, candidates: Sequence[str] = CANDIDATE_EFFECTORS
) -> tuple[int, int]:
    """(effector joint, contact frame): the candidate with the highest peak speed, at its peak."""
    speeds = joint_speeds(body, motion)
    indices = [joint_index(n) for n in candidates]
    best = max(indices, key=lambda j: float(speeds[:, j].max()))
    return best, int(np.argmax(speeds[:, best]))


def _chain(joint: int) -> list[int]:
    """The limb chain ending at ``joint``: ancestors up to (excluding) the spine / pelvis."""
    stop = {"pelvis", "spine1", "spine2", "spine3", "neck", "left_collar", "right_collar"}
    chain = []
    j = int(PARENTS[joint])
    while j >= 0 and JOINT_NAMES[j] not in stop:
        chain.append(j)
        j = int(PARENTS[j])
    return chain[::-1]


def attract(
    body: BodyModel,
    motion: Motion,
    surface: trimesh.Trimesh,
    effector_joint: int | None = None,
    contact_frame: int | None = None,
    window: float = 0.25,
    iterations: int = 200,
    tolerance: float = 2e-3,
    regularization: float = 1e-3,
    offset: float = 0.0,
) -> AttractionResult:
    """Correct ``motion`` so the effector touches ``surface`` (world, Z-up) at the contact frame.

    Args:
        window: half-width of the corrected span [s].
        iterations: maximum Adam steps; stops early once within ``tolerance`` [m].
        offset: distance [m] the joint should keep from the surface, e.g. the thickness of the
            fist around the hand joint, so the skin (not the joint) touches the surface.

    Raises:
        ContactError: the surface is empty, or the contact frame lies outside the motion.
    """
    if len(surface.faces) == 0:
        raise ContactError("the object surface has no faces; cannot attract to it.")
    if effector_joint is None or contact_frame is None:
        auto_joint, auto_frame = select_contact(body, motion)
        effector_joint = auto_joint if effector_joint is None else effector_joint
        contact_frame = auto_frame if contact_frame is None else contact_frame
    T = motion.num_frames
    if not 0 <= contact_frame < T:
        raise ContactError(f"contact frame {contact_frame} is outside the motion (0..{T - 1}).")
    half = max(1, round(window * motion.fps))
    first, last = max(0, contact_frame - half), min(T - 1, contact_frame + half)
    frames = np.arange(first, last + 1)
    profile = 0.5 * (1.0 + np.cos(math.pi * (frames - contact_frame) / (half + 1)))
    chain = _chain(effector_joint)

    dtype = torch.float64
    base = torch.as_tensor(motion.poses[frames], dtype=dtype)  # (W, 24, 3)
    trans = torch.as_tensor(motion.trans[frames], dtype=dtype)
    weight = torch.as_tensor(profile, dtype=dtype)[:, None, None]
    mask = torch.zeros(24, 1, dtype=dtype)
    mask[chain] = 1.0
    delta = torch.zeros(24, 3, dtype=dtype, requires_grad=True)
    optimizer = torch.optim.Adam([delta], lr=0.03)
    k = int(np.where(frames == contact_frame)[0][0])

    def effector_at_contact(d: torch.Tensor) -> torch.Tensor:
        pose = base[k : k + 1] + weight[k : k + 1] * (mask * d)[None]
        return body.joint_positions_torch(pose, trans[k : k + 1])[0, effector_joint]

    def distance(point: np.ndarray) -> tuple[float, np.ndarray]:
        """|distance to the surface - offset| and the point at ``offset`` outside the surface."""
        closest, dist, face = trimesh.proximity.closest_point(surface, point[None])
        normal = surface.face_normals[face[0]]
        return abs(float(dist[0]) - offset), closest[0] + offset * normal

    start_point = effector_at_contact(delta).detach().numpy()
    distance_before, closest = distance(start_point)
    steps = 0
    current = distance_before
    for steps in range(1, iterations + 1 if distance_before >= tolerance else 1):  # noqa: B007 - the count is reported
        optimizer.zero_grad()
        p = effector_at_contact(delta)
        target = torch.as_tensor(closest, dtype=dtype)
        angles = torch.linalg.norm(base + weight * (mask * delta)[None], dim=-1)
        loss = (
            torch.sum((p - target) ** 2)
            + regularization * torch.sum(delta**2)
            + 10.0 * torch.sum(torch.relu(angles - 2.6) ** 2)
        )
        loss.backward()
        optimizer.step()
        with torch.no_grad():
            point = effector_at_contact(delta).numpy()
        current, closest = distance(point)
        if current < tolerance:
            break
    poses = motion.poses.copy()
    poses[frames] = (base + weight * (mask * delta.detach())[None]).numpy()
    corrected = Motion(poses=poses, trans=motion.trans.copy(), fps=motion.fps, name=motion.name)
    return AttractionResult(
        motion=corrected,
        effector_joint=int(effector_joint),
        contact_frame=int(contact_frame),
        window=(int(first), int(last)),
        distance_before=distance_before,
        distance_after=current,
        iterations=steps,
    )


def follow_line(
    body: BodyModel,
    motion: Motion,
    effector_joint: int,
    first: int,
    last: int,
    iterations: int = 150,
) -> Motion:
    """Re-time the limb chain of ``effector_joint`` over frames [first, last] so the effector
    moves on the straight segment between its positions at ``first`` and ``last`` with a
    minimum-jerk profile (joint-space interpolation makes strikes curve, so the effector would
    meet a target moving sideways). Per-frame axis-angle offsets of the chain, fitted by Adam
    through the forward kinematics; frames outside the span are untouched."""
    frames = np.arange(first, last + 1)
    if len(frames) < 3:
        return motion
    chain = _chain(effector_joint)
    dtype = torch.float64
    base = torch.as_tensor(np.array(motion.poses[frames]), dtype=dtype)
    trans = torch.as_tensor(np.array(motion.trans[frames]), dtype=dtype)
    with torch.no_grad():
        ends = body.joint_positions_torch(base[[0, -1]], trans[[0, -1]])[:, effector_joint]
    u = torch.linspace(0.0, 1.0, len(frames), dtype=dtype)
    s = u**3 * (10 - 15 * u + 6 * u * u)
    line = ends[0] + s[:, None] * (ends[1] - ends[0])  # (F, 3) desired effector path
    mask = torch.zeros(24, 1, dtype=dtype)
    mask[chain] = 1.0
    delta = torch.zeros(len(frames), 24, 3, dtype=dtype, requires_grad=True)
    optimizer = torch.optim.Adam([delta], lr=0.03)
    for _ in range(iterations):
        optimizer.zero_grad()
        pose = base + mask * delta
        p = body.joint_positions_torch(pose, trans)[:, effector_joint]
        smooth = torch.sum((delta[2:] - 2 * delta[1:-1] + delta[:-2]) ** 2)
        loss = torch.sum((p - line) ** 2) + 1e-3 * torch.sum(delta**2) + 1e-2 * smooth
        loss.backward()
        optimizer.step()
        with torch.no_grad():  # the span's end poses stay exactly as they were
            delta[0] = 0.0
            delta[-1] = 0.0
    poses = motion.poses.copy()
    poses[frames] = (base + mask * delta.detach()).numpy()
    return Motion(poses=poses, trans=motion.trans.copy(), fps=motion.fps, name=motion.name)
