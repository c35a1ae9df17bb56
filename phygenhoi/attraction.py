"""Windowed attraction (PhyGenHOI): make the effector reach the object's surface in a window.

The effector joint and the contact frame are read off the motion (the candidate joint with the
highest peak speed, at its speed peak), unless given. The motion is then corrected only inside
a temporal window around the contact frame: per-joint axis-angle offsets ``delta`` on the
effector's limb chain, blended in by a raised-cosine profile w(t) (1 at the contact frame,
0 at and outside the window edges), so the correction is smooth (no jerk), leaves frames
outside the window untouched and never moves the feet of upper-body actions. The offsets
solve, by damped Gauss-Newton (Levenberg-Marquardt) steps through the body's differentiable
forward kinematics and skinning (torch),

    min |p_skin(t*) - c|^2 + sum relu(|theta| - theta_max)^2   (smallest-norm steps),

where p_skin is the effector's skin vertex deepest in (or nearest to) the object and c its
closest point on the object surface, both re-evaluated every step. Damped steps move the
joints no more than needed: Adam with a fixed learning rate wandered at the centimetre level
and slowed fast strikes down.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
import trimesh

from phygenhoi.body import BodyModel
from phygenhoi.effector import effector_vertices
from phygenhoi.errors import ContactError
from phygenhoi.motion import Motion
from phygenhoi.skeleton import JOINT_NAMES, PARENTS, joint_index

CANDIDATE_EFFECTORS = ("left_hand", "right_hand", "left_foot", "right_foot")
JOINT_LIMIT = 2.6  # [rad] largest axis-angle magnitude a corrected limb joint may reach
LIMIT_WEIGHT = 1.0  # [m/rad] weight of the joint-limit residual against the distance [m]


@dataclass(frozen=True)
class AttractionResult:
    """Outcome of :func:`attract`.

    Attributes:
        motion: the corrected motion. effector_joint: SMPL joint index. contact_frame: t*.
        window: (first, last) frame of the corrected span. skin_vertex: the body vertex
            brought onto the surface. distance_before / distance_after: the gap or depth of the
            nearest (deepest) skin vertex at t* [m]. iterations: optimiser steps taken.
    """

    motion: Motion
    effector_joint: int
    contact_frame: int
    window: tuple[int, int]
    skin_vertex: int
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
    iterations: int = 30,
    tolerance: float = 1e-3,
    regularization: float = 1e-4,
) -> AttractionResult:
    """Correct ``motion`` so the effector's skin touches ``surface`` (world, Z-up) at the
    contact frame.

    The skin point is the effector vertex (hand and wrist, or foot and ankle) deepest in, or
    nearest to, the surface at the contact frame; it is pulled onto its closest surface
    point, from outside or from inside, so the skin touches without sinking in.

    Args:
        window: half-width of the corrected span [s].
        iterations: maximum Levenberg-Marquardt steps; stops once within ``tolerance`` [m].
        regularization: damping [m^2] of the steps (larger: smaller, slower steps).

    Raises:
        ContactError: the surface is empty, the contact frame lies outside the motion, or the
            correction would bend a joint past its limit.
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
    hand = effector_vertices(body, effector_joint)

    dtype = torch.float64
    base = torch.as_tensor(motion.poses[frames], dtype=dtype)  # (W, 24, 3)
    trans = torch.as_tensor(motion.trans[frames], dtype=dtype)
    weight = torch.as_tensor(profile, dtype=dtype)[:, None, None]
    k = int(np.where(frames == contact_frame)[0][0])

    def pose_at_contact(chain_delta: torch.Tensor) -> torch.Tensor:
        pose = base[k].clone()
        pose[chain] = pose[chain] + weight[k, 0] * chain_delta.reshape(len(chain), 3)
        return pose

    def skin_at_contact(chain_delta: torch.Tensor) -> torch.Tensor:
        """(H, 3) effector skin vertices at the contact frame."""
        pose = pose_at_contact(chain_delta)[None]
        return body.forward_torch(pose, trans[k : k + 1])[0][0, hand]

    def residual(chain_delta: torch.Tensor, vertex: int, goal: torch.Tensor) -> torch.Tensor:
        """Skin-to-surface offset [m] and joint-limit excess (scaled to m, rad beyond 2.6)."""
        angles = torch.linalg.norm(pose_at_contact(chain_delta)[chain], dim=-1)
        limit = LIMIT_WEIGHT * torch.relu(angles - JOINT_LIMIT)
        return torch.cat([skin_at_contact(chain_delta)[vertex] - goal, limit])

    def touching(points: np.ndarray) -> tuple[int, float, np.ndarray]:
        """The skin vertex deepest in (or nearest to) the surface, its signed distance [m]
        (> 0 inside) and its closest surface point."""
        depth = trimesh.proximity.signed_distance(surface, points)
        vertex = int(np.argmax(depth))
        nearest, _, _ = trimesh.proximity.closest_point(surface, points[vertex][None])
        return vertex, float(depth[vertex]), nearest[0]

    # damped least squares (Levenberg-Marquardt) on the chain's axis-angle offsets: each step
    # is the smallest joint change that moves the touching skin vertex onto its closest
    # surface point, with joint limits as extra residuals, so the motion changes no more than
    # needed; which vertex touches, and where, is re-evaluated every step
    delta = torch.zeros(3 * len(chain), dtype=dtype)
    with torch.no_grad():
        vertex, depth, target_point = touching(skin_at_contact(delta).numpy())
    distance_before = current = abs(depth)
    steps = 0
    while current >= tolerance and steps < iterations:
        steps += 1
        goal = torch.as_tensor(target_point, dtype=dtype)
        r = residual(delta, vertex, goal).detach()
        jacobian = torch.autograd.functional.jacobian(
            lambda d, v=vertex, g=goal: residual(d, v, g), delta
        )
        damping = regularization * torch.eye(len(r), dtype=dtype)
        delta = delta - jacobian.T @ torch.linalg.solve(jacobian @ jacobian.T + damping, r)
        with torch.no_grad():
            vertex, depth, target_point = touching(skin_at_contact(delta).numpy())
        current = abs(depth)
    full = torch.zeros(24, 3, dtype=dtype)
    full[chain] = delta.reshape(len(chain), 3)
    poses = motion.poses.copy()
    poses[frames] = (base + weight * full[None]).numpy()
    corrected = Motion(poses=poses, trans=motion.trans.copy(), fps=motion.fps, name=motion.name)
    return AttractionResult(
        motion=corrected,
        effector_joint=int(effector_joint),
        contact_frame=int(contact_frame),
        window=(int(first), int(last)),
        skin_vertex=int(hand[vertex]),
        distance_before=distance_before,
        distance_after=current,
        iterations=steps,
    )


def follow_path(
    body: BodyModel,
    motion: Motion,
    effector_joint: int,
    frames: np.ndarray,
    path: np.ndarray,
    iterations: int = 150,
) -> Motion:
    """Adjust the limb chain of ``effector_joint`` at ``frames`` (consecutive indices) so the
    effector follows ``path`` ((F, 3) world points [m]), e.g. a straight strike (joint-space
    interpolation makes strikes curve, so the effector would meet a target moving sideways).
    Per-frame axis-angle offsets of the chain, fitted by Adam through the forward kinematics
    with a smoothness term; frames outside are untouched."""
    frames = np.asarray(frames, dtype=np.int64)
    if len(frames) == 0:
        return motion
    chain = _chain(effector_joint)
    dtype = torch.float64
    base = torch.as_tensor(np.array(motion.poses[frames]), dtype=dtype)
    trans = torch.as_tensor(np.array(motion.trans[frames]), dtype=dtype)
    goal = torch.as_tensor(np.asarray(path, dtype=np.float64), dtype=dtype)
    mask = torch.zeros(24, 1, dtype=dtype)
    mask[chain] = 1.0
    delta = torch.zeros(len(frames), 24, 3, dtype=dtype, requires_grad=True)
    optimizer = torch.optim.Adam([delta], lr=0.03)
    for _ in range(iterations):
        optimizer.zero_grad()
        p = body.joint_positions_torch(base + mask * delta, trans)[:, effector_joint]
        smooth = torch.sum((delta[2:] - 2 * delta[1:-1] + delta[:-2]) ** 2)
        loss = torch.sum((p - goal) ** 2) + 1e-3 * torch.sum(delta**2) + 1e-2 * smooth
        loss.backward()
        optimizer.step()
    poses = motion.poses.copy()
    poses[frames] = (base + mask * delta.detach()).numpy()
    return Motion(poses=poses, trans=motion.trans.copy(), fps=motion.fps, name=motion.name)
