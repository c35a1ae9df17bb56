"""HOIScene: a human performs an action on an MPM object, which answers physically.

Pipeline (PhyGenHOI): an action motion aimed at the object's surface -> windowed attraction
so the effector lands on the surface at the contact frame -> the posed body surface becomes a
moving mesh collider of the MPM simulation, whose vertex velocities drive the grid -> the
object is untouched until the body comes within one grid cell of it, and from then on
momentum flows from the body into it. Contact = the first frame the body comes within 1.5 grid
cells of the object (the B-spline stencil's reach).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import trimesh
from scipy.spatial import cKDTree

import mpm
from mpm.meshio import RayWinding
from phygenhoi.actions import ActionMotion, make_action
from phygenhoi.attraction import AttractionResult, attract
from phygenhoi.body import BodyModel
from phygenhoi.errors import ActionError, ContactError
from phygenhoi.skeleton import joint_index

logger = logging.getLogger("emu4d.phygenhoi")


@dataclass
class HOIResult:
    """What :meth:`HOIScene.run` produced: the trajectory (object tracks plus a ``body`` mesh
    track), the generated action, the attraction outcome and the metrics."""

    trajectory: mpm.Trajectory
    action: ActionMotion
    attraction: AttractionResult | None
    metrics: dict[str, Any] = field(default_factory=dict)


def _front_point(surface: trimesh.Trimesh, center: np.ndarray, facing: np.ndarray) -> np.ndarray:
    """The surface point hit by a horizontal ray through ``center`` coming from the body."""
    origin = center - facing * 10.0
    hits, _, _ = surface.ray.intersects_location([origin], [facing])
    if len(hits) == 0:
        closest, _, _ = trimesh.proximity.closest_point(surface, [center - facing])
        return closest[0]
    return hits[np.argmin(np.linalg.norm(hits - origin, axis=1))]


class HOIScene:
    """A body performing ``action`` on one object resting on the ground, or on a pedestal
    (added automatically up to the object's bottom when the object is raised).

    Args:
        action: "punch", "kick", "push" or "slap". effector: limb end ("right_hand", ...).
        shape: the object's shape (mpm.Box, mpm.MeshShape, ...) placed on the ground.
        material: mpm material. body: BodyModel (the shipped procedural body by default).
        contact_time [s], approach_speed [m/s], duration [s] (default contact + 0.8 s),
        fps: output and motion frame rate. dx: MPM grid spacing [m]. ground: height [m].
        facing: horizontal direction the body faces; it stands on the opposite side of the
        object. target_height: height of the aimed point [m] (default: the object's centre).
        attraction: run the windowed attraction (recommended).
        settle_time: the object first settles under gravity for this long [s] with the body
            away (not recorded), so the recorded object starts at rest.
    """

    def __init__(
        self,
        action: str,
        shape: mpm.Shape,
        material: mpm.materials.Material,
        body: BodyModel | None = None,
        effector: str | None = None,
        contact_time: float = 0.8,
        approach_speed: float = 3.0,
        duration: float | None = None,
        fps: float = 30.0,
        dx: float = 0.02,
        ground: float = 0.0,
        facing: Sequence[float] = (1.0, 0.0),
        target_height: float | None = None,
        attraction: bool = True,
        friction: float = 0.5,
        seed: int = 0,
        settle_time: float = 0.5,
    ) -> None:
        self.action = action
        self.shape = shape
        self.material = material
        self.body = body or BodyModel()
        self.effector = effector
        self.contact_time = float(contact_time)
        self.approach_speed = float(approach_speed)
        self.duration = self.contact_time + 0.8 if duration is None else float(duration)
        self.fps = float(fps)
        self.dx = float(dx)
        self.ground = float(ground)
        face = np.asarray(facing, dtype=np.float64)[:2]
        if face.shape != (2,) or not np.isfinite(face).all() or np.linalg.norm(face) < 1e-9:
            raise ActionError(f"facing must be a horizontal direction (x, y), got {facing!r}.")
        self.facing = np.array([*(face / np.linalg.norm(face)), 0.0])
        self.target_height = target_height
        self.use_attraction = attraction
        self.friction = float(friction)
        self.seed = int(seed)
        if settle_time < 0:
            raise ActionError(f"settle_time must be >= 0 [s], got {settle_time}.")
        self.settle_time = float(settle_time)
        surface = shape.surface_mesh()
        if surface is None:
            raise ActionError("the object shape has no surface mesh; use a solid shape.")
        self.surface = surface
        low = np.asarray(shape.bounds()[0])
        if low[2] < ground - 1e-6:
            raise ActionError(
                f"the object reaches below the ground ({low[2]:.3f} < {ground} m); "
                "raise it so it rests on the ground."
            )

    def _skin_thickness(self, joint: int) -> float:
        """Distance [m] from a joint to the nearest skin vertex in the rest pose."""
        rest = self.body.rest_vertices.astype(np.float64)
        return float(np.linalg.norm(rest - self.body.rest_joints[joint], axis=1).min())

    def _target(self) -> np.ndarray:
        low, high = (np.asarray(b, dtype=np.float64) for b in self.shape.bounds())
        center = (low + high) / 2
        if self.target_height is not None:
            center[2] = float(self.target_height)
        return _front_point(self.surface, center, self.facing)

    def _pedestal(self) -> mpm.colliders.Box | None:
        """A static box from the ground up to the object's bottom when the object is raised
        (a table or pedestal to put it at arm's height)."""
        low, high = (np.asarray(b, dtype=np.float64) for b in self.shape.bounds())
        height = low[2] - self.ground
        if height < 0.5 * self.dx:
            return None
        center = ((low[0] + high[0]) / 2, (low[1] + high[1]) / 2, self.ground + height / 2)
        # 1.5x the footprint, so a pushed object slides on it before it can fall off
        extents = (1.5 * (high[0] - low[0]), 1.5 * (high[1] - low[1]), height)
        return mpm.colliders.Box(
            center=center, extents=extents, mode="slip", friction=self.friction
        )

    def _simulator(self) -> mpm.Simulator:
        low, high = (np.asarray(b, dtype=np.float64) for b in self.shape.bounds())
        margin = 0.3
        lo = np.array([low[0] - margin, low[1] - margin, self.ground - 4 * self.dx])
        hi = np.array([high[0] + margin, high[1] + margin, high[2] + margin])
        cells = np.ceil((hi - lo) / self.dx)
        hi = lo + cells * self.dx
        return mpm.Simulator(
            domain_min=tuple(lo), domain_max=tuple(hi), dx=self.dx, seed=self.seed
        )

    def _build(self, posed: Any, away: bool = False) -> mpm.Simulator:
        """The simulator with the object settled on its support, and the body as a moving mesh
        collider starting after the settling. ``away`` lifts the body 1 km up: the reference
        run, identical (same collider speeds, hence same time steps) but never touched."""
        sim = self._simulator()
        sim.add_object("object", self.shape, self.material)
        sim.add_collider(mpm.colliders.Ground(height=self.ground, friction=self.friction))
        pedestal = self._pedestal()
        if pedestal is not None:
            sim.add_collider(pedestal)
        if posed is not None:
            lift = np.float32([0.0, 0.0, 1000.0]) if away else np.float32(0.0)
            sim.add_collider(
                mpm.colliders.MeshCollider(
                    vertices=posed.vertices + lift,
                    faces=posed.faces,
                    fps=self.fps,
                    start_time=self.settle_time,
                    mode="separate",
                    friction=self.friction,
                )
            )
        if self.settle_time > 0:  # let the object come to rest on its support first
            sim.run(duration=self.settle_time, fps=self.fps, progress=False)
        sim.initialize()
        return sim

    def _untouched_reference(self, posed: Any, frames: int) -> np.ndarray:
        """Object particle positions of the same run with the body out of reach, for
        ``frames`` frames: the object's own settling, to compare against before contact."""
        sim = self._build(posed, away=True)
        if frames <= 1:
            return sim.particle_state().x[None]
        traj = sim.run(duration=(frames - 1) / self.fps, fps=self.fps, progress=False)
        return traj.tracks["object"].positions

    def run(self, progress: bool = True) -> HOIResult:
        """Generate the motion, attract it to the object and simulate the interaction."""
        start = time.perf_counter()
        target = self._target()
        action = make_action(
            self.body,
            self.action,
            target,
            contact_time=self.contact_time,
            approach_speed=self.approach_speed,
            effector=self.effector,
            duration=self.duration,
            fps=self.fps,
            ground=self.ground,
            facing=self.facing[:2],
        )
        motion = action.motion
        attraction = None
        if self.use_attraction:
            attraction = attract(
                self.body,
                motion,
                self.surface,
                action.effector_joint,
                action.contact_frame,
                offset=self._skin_thickness(action.effector_joint),
            )
            motion = attraction.motion
        posed = self.body.forward(motion.poses, motion.trans)
        sim = self._build(posed)
        contact = _contact_frame(posed.vertices, sim.particle_state().x, self.dx)
        if contact is None:
            raise ContactError(
                f"the {action.effector} never comes within 1.5 grid cells ({self.dx} m) of the "
                "object; move the object or the target height."
            )
        recorded = sim.run(duration=self.duration, fps=self.fps, progress=progress)
        tracks = dict(recorded.tracks)
        body_frames = posed.vertices[: recorded.num_frames]
        tracks["body"] = mpm.Track(positions=body_frames, faces=posed.faces)
        traj = mpm.Trajectory(
            times=recorded.times - recorded.times[0],  # t = 0 when the motion starts
            tracks=tracks,
            diagnostics=recorded.diagnostics,
            metadata=recorded.metadata,
        )
        reference = self._untouched_reference(posed, contact) if contact > 0 else None
        metrics = _metrics(self, traj, posed, action, attraction, contact, reference)
        metrics["wall_time_s"] = round(time.perf_counter() - start, 2)
        traj.metadata["hoi"] = {
            "action": action.action,
            "effector": action.effector,
            "contact_time": self.contact_time,
            "approach_speed": self.approach_speed,
            "metrics": metrics,
        }
        return HOIResult(trajectory=traj, action=action, attraction=attraction, metrics=metrics)


def _contact_frame(body_vertices: np.ndarray, particles: np.ndarray, dx: float) -> int | None:
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


def _metrics(
    scene: HOIScene,
    traj: mpm.Trajectory,
    posed: Any,
    action: ActionMotion,
    attraction: AttractionResult | None,
    contact: int,
    reference: np.ndarray | None,
) -> dict[str, Any]:
    fps = scene.fps
    joints = posed.joints.astype(np.float64)
    velocity = np.gradient(joints, 1.0 / fps, axis=0)
    effector_velocity = velocity[contact, action.effector_joint]
    window_end = min(contact + max(1, round(0.1 * fps)), len(joints) - 1)
    P = traj.diagnostics["linear_momentum"]
    before = P[max(contact - 1, 0)]
    # the strike's own impulse: a short window (0.1 s) after contact, before support and
    # gravity reactions (a pushed object sliding off its support) dominate the momentum
    after_frame = min(window_end, traj.num_frames - 1)
    after = P[after_frame]
    impulse = after - before
    cosine = float(
        impulse @ effector_velocity
        / max(np.linalg.norm(impulse) * np.linalg.norm(effector_velocity), 1e-12)
    )
    particles = traj.tracks["object"].positions
    # the body's effect before contact: difference to the same run without the body (the
    # object's own settling cancels; the simulation is deterministic)
    displacement_before = 0.0
    if reference is not None and contact > 0:
        n = min(contact, len(reference))
        displacement_before = float(
            np.linalg.norm(particles[:n] - reference[:n], axis=-1).max()
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
        "object_momentum_before_kg_m_s": before.tolist(),
        "object_momentum_after_kg_m_s": after.tolist(),
        "impulse_direction": (impulse / max(np.linalg.norm(impulse), 1e-12)).tolist(),
        "impulse_effector_cosine": cosine,
        "impulse_facing_cosine": float(
            impulse @ scene.facing / max(np.linalg.norm(impulse), 1e-12)
        ),
        "object_displacement_before_contact_m": displacement_before,
        "max_penetration_m": float(depths.max()) if depths.size else 0.0,
        "mean_penetration_m": float(depths.mean()) if depths.size else 0.0,
        "max_penetration_cells": float(depths.max() / scene.dx) if depths.size else 0.0,
        "foot_skating_max_m_s": float(slide.max()) if slide.size else 0.0,
        "attraction_distance_before_m": attraction.distance_before if attraction else None,
        "attraction_distance_after_m": attraction.distance_after if attraction else None,
    }


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

