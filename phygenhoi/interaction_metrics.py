"""The metrics of a human-object interaction, shared by the MPM run
(:meth:`phygenhoi.hoi.HOIScene.run`) and the emulated one (:mod:`phygenhoi.emulated`): when
the body first reaches the object, the momentum it gave it, and how the bodies overlapped."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import trimesh
from scipy.spatial import cKDTree

import mpm
from mpm.meshio import RayWinding
from phygenhoi.actions import ActionMotion
from phygenhoi.attraction import AttractionResult
from phygenhoi.skeleton import joint_index

if TYPE_CHECKING:
    from phygenhoi.hoi import HOIScene


def contact_frame(body_vertices: np.ndarray, particles: np.ndarray, dx: float) -> int | None:
    """First frame in which a body vertex comes within 1.5 grid cells of the (resting) object:
    the reach of the quadratic B-spline stencil, i.e. the nearest the body can get before grid
    nodes that carry the object's mass can lie inside it (one cell, the textbook choice, misses
    the half cell by which the stencil extends past the particles)."""
    tree = cKDTree(particles)
    for frame, vertices in enumerate(body_vertices):
        distance, _ = tree.query(vertices, k=1, distance_upper_bound=1.5 * dx)
        if np.isfinite(distance).any():
            return frame
    return None


def impulse_frames(fps: float) -> int:
    """Frames of the impulse window after contact: 0.1 s, the duration of a strike's contact
    phase, before the object's own response (sliding, wobbling, tipping) takes over."""
    return max(1, round(0.1 * fps))


def interaction_metrics(
    scene: HOIScene,
    traj: mpm.Trajectory,
    posed: Any,
    action: ActionMotion,
    attraction: AttractionResult | None,
    contact: int,
    reference: tuple[np.ndarray, np.ndarray],
) -> dict[str, Any]:
    """The metrics of a strike, from either engine: when and how fast the effector arrived,
    the momentum it gave the object (against the body-free ``reference`` run: positions and
    momentum per frame), its direction against the effector's and the strike's, what moved
    before contact, how far the object travelled, how deep it got inside the body, and how
    much the support feet slid."""
    fps = scene.fps
    joints = posed.joints.astype(np.float64)
    velocity = np.gradient(joints, 1.0 / fps, axis=0)
    effector_velocity = velocity[contact, action.effector_joint]
    reference_positions, reference_momentum = reference
    P = traj.diagnostics["linear_momentum"]
    n = min(len(P), len(reference_momentum))
    # momentum the body gave the object: the difference to the body-free run (identical time
    # steps), so gravity, support reactions and the object's own settling cancel; "after" is
    # the end of the strike, the frame of the window where that difference peaks
    transferred = P[:n] - reference_momentum[:n]
    window = np.arange(contact, n)
    after_frame = int(window[np.argmax(np.linalg.norm(transferred[window], axis=1))])
    before_frame = max(contact - 1, 0)
    impulse = transferred[after_frame] - transferred[before_frame]
    norm = max(float(np.linalg.norm(impulse)), 1e-12)
    speed = max(float(np.linalg.norm(effector_velocity)), 1e-12)
    cosine = float(impulse @ effector_velocity / (norm * speed))
    particles = traj.tracks["object"].positions
    # the body's effect before contact: difference to the same run without the body (the
    # object's own settling cancels; the simulation is deterministic)
    displacement_before = 0.0
    if contact > 0:
        k = min(contact, len(reference_positions))
        displacement_before = float(
            np.linalg.norm(particles[:k] - reference_positions[:k], axis=-1).max()
        )
    depths = _penetration(posed.vertices, posed.faces, particles, contact, traj.num_frames)
    feet = [joint_index("left_foot"), joint_index("right_foot")]
    if action.action == "kick":
        feet = [joint_index("left_foot" if action.effector.startswith("right") else "right_foot")]
    slide = np.linalg.norm(np.diff(joints[:, feet, :2], axis=0), axis=-1) * fps
    return {
        "action": action.action,
        "effector": action.effector,
        "contact_frame": int(contact),
        "contact_time_s": contact / fps,
        "planned_contact_frame": int(action.contact_frame),
        "effector_speed_at_contact_m_s": float(np.linalg.norm(effector_velocity)),
        "object_momentum_before_kg_m_s": P[before_frame].tolist(),
        "object_momentum_after_kg_m_s": P[after_frame].tolist(),
        "momentum_after_frame": after_frame,
        "transferred_momentum_kg_m_s": impulse.tolist(),
        "impulse_direction": (impulse / norm).tolist(),
        "impulse_effector_cosine": cosine,
        "impulse_strike_direction_cosine": float(impulse @ scene.strike_direction() / norm),
        "object_displacement_before_contact_m": displacement_before,
        "object_displacement_after_contact_m": _com_travel(traj, contact),
        "max_penetration_m": float(depths.max()) if depths.size else 0.0,
        "mean_penetration_m": float(depths.mean()) if depths.size else 0.0,
        "max_penetration_cells": float(depths.max() / scene.dx) if depths.size else 0.0,
        "foot_skating_max_m_s": float(slide.max()) if slide.size else 0.0,
        "attraction_distance_before_m": attraction.distance_before if attraction else None,
        "attraction_distance_after_m": attraction.distance_after if attraction else None,
    }


def _com_travel(traj: mpm.Trajectory, contact: int) -> float:
    """How far [m] the object's centre of mass moved from the contact frame to the end."""
    com = np.asarray(traj.diagnostics["center_of_mass:object"])
    return float(np.linalg.norm(com[-1] - com[contact]))


def _penetration(
    body_vertices: np.ndarray,
    faces: np.ndarray,
    particles: np.ndarray,
    first: int,
    frames: int,
) -> np.ndarray:
    """Depths [m] of object particles found inside the body surface, over frames >= first."""
    depths = []
    for frame in range(first, min(frames, len(body_vertices))):
        verts = body_vertices[frame].astype(np.float64)
        low, high = verts.min(axis=0), verts.max(axis=0)
        pts = particles[frame].astype(np.float64)
        near = np.all((pts >= low) & (pts <= high), axis=1)
        if not near.any():
            continue
        inside = RayWinding(verts, faces)(pts[near])
        if inside.any():
            mesh = trimesh.Trimesh(verts, faces, process=False)
            _, dist, _ = trimesh.proximity.closest_point(mesh, pts[near][inside])
            depths.append(dist)
    return np.concatenate(depths) if depths else np.zeros(0)

