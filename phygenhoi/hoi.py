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
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from os import PathLike
from typing import Any

import numpy as np
import trimesh

import mpm
from mpm.config import is_number, require_positive
from phygenhoi.actions import ActionMotion, check_action, make_action
from phygenhoi.attraction import AttractionResult, attract
from phygenhoi.body import BodyModel
from phygenhoi.errors import ActionError, ContactError, SceneError
from phygenhoi.interaction_metrics import contact_frame, impulse_frames, interaction_metrics

logger = logging.getLogger("emu4d.phygenhoi")


@dataclass
class HOIResult:
    """What :meth:`HOIScene.run` produced: the trajectory (object tracks plus a ``body`` mesh
    track), the generated action, the attraction outcome and the metrics."""

    trajectory: mpm.Trajectory
    action: ActionMotion
    attraction: AttractionResult | None
    metrics: dict[str, Any] = field(default_factory=dict)


def _check_domain(
    domain: tuple[Sequence[float], Sequence[float]],
    low: np.ndarray,
    high: np.ndarray,
    ground: float,
) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Validate a user-given simulation domain: it must hold the object and the ground."""
    try:
        lo, hi = (np.asarray(b, dtype=np.float64).reshape(3) for b in domain)
    except (TypeError, ValueError):
        raise SceneError(
            f"domain must be ((xmin, ymin, zmin), (xmax, ymax, zmax)) [m], got {domain!r}."
        ) from None
    if not (np.isfinite(lo).all() and np.isfinite(hi).all() and (hi > lo).all()):
        raise SceneError(f"domain must have finite bounds with max > min, got {domain!r}.")
    if (low < lo).any() or (high > hi).any():
        raise SceneError(
            f"the object (bounds {np.round(low, 3).tolist()} .. {np.round(high, 3).tolist()}) "
            f"is not inside the domain {lo.tolist()} .. {hi.tolist()}; enlarge the domain or "
            "move the object."
        )
    if not lo[2] <= ground < hi[2]:
        raise SceneError(
            f"the ground (z = {ground} m) must lie inside the domain's z range "
            f"[{lo[2]}, {hi[2]}); lower domain_min z."
        )
    return tuple(lo.tolist()), tuple(hi.tolist())


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
        domain: optional ((xmin, ymin, zmin), (xmax, ymax, zmax)) [m] simulation box; by
            default the object's bounds plus 0.3 m around and above.
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
        domain: tuple[Sequence[float], Sequence[float]] | None = None,
    ) -> None:
        self.effector = check_action(action, effector)
        self.action = action
        if not isinstance(shape, mpm.Shape):
            raise SceneError(f"shape must be an mpm shape (e.g. mpm.Box(...)), got {shape!r}.")
        self.shape = shape
        if isinstance(material, (str, Mapping)):  # a preset name or a material table
            material = mpm.materials.from_dict(material)
        if not isinstance(material, mpm.materials.Material):
            raise SceneError(
                f"material must be an mpm material or a preset name ('jelly'), got {material!r}."
            )
        self.material = material
        if isinstance(body, (str, PathLike)):  # a body model file
            body = BodyModel(body)
        if body is not None and not isinstance(body, BodyModel):
            raise SceneError(
                f"body must be a phygenhoi.BodyModel or a body model file, got {body!r}."
            )
        self.body = body or BodyModel()
        self.contact_time = require_positive("contact_time", contact_time, "s")
        self.approach_speed = require_positive("approach_speed", approach_speed, "m/s")
        self.duration = (
            self.contact_time + 0.8
            if duration is None
            else require_positive("duration", duration, "s")
        )
        self.fps = require_positive("fps", fps, "frames/s")
        self.dx = require_positive("dx", dx, "m", "Typical: 0.01-0.03 m.")
        self.ground = float(ground)
        if not np.isfinite(self.ground):
            raise SceneError(f"ground must be a finite height [m], got {ground!r}.")
        face = np.asarray(facing, dtype=np.float64)
        if face.shape != (2,) or not np.isfinite(face).all() or np.linalg.norm(face) < 1e-9:
            raise ActionError(
                f"facing must be a horizontal direction of 2 numbers (x, y), got {facing!r}."
            )
        self.facing = np.array([*(face / np.linalg.norm(face)), 0.0])
        self.use_attraction = attraction
        if not isinstance(attraction, bool):
            raise SceneError(f"attraction must be True or False, got {attraction!r}.")
        self.friction = float(friction)
        if not (np.isfinite(self.friction) and self.friction >= 0.0):
            raise SceneError(f"friction must be >= 0 (Coulomb coefficient), got {friction!r}.")
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
            raise SceneError(f"seed must be a whole number >= 0, got {seed!r}.")
        self.seed = int(seed)
        if not (is_number(settle_time) and 0 <= settle_time < float("inf")):
            raise ActionError(f"settle_time must be a finite time >= 0 [s], got {settle_time!r}.")
        self.settle_time = float(settle_time)
        surface = shape.surface_mesh()
        if surface is None:
            raise ActionError("the object shape has no surface mesh; use a solid shape.")
        self.surface = surface
        low, high = (np.asarray(b, dtype=np.float64) for b in shape.bounds())
        if low[2] < ground - 1e-6:
            raise SceneError(
                f"the object reaches below the ground ({low[2]:.3f} < {ground} m); "
                "raise it so it rests on the ground."
            )
        if target_height is not None and not low[2] <= target_height <= high[2]:
            raise ActionError(
                f"target_height={target_height!r} m is not on the object, which spans heights "
                f"{low[2]:.3f}..{high[2]:.3f} m; aim within that range (None: its centre)."
            )
        self.target_height = target_height
        self.domain = None if domain is None else _check_domain(domain, low, high, ground)

    def _target(self) -> np.ndarray:
        low, high = (np.asarray(b, dtype=np.float64) for b in self.shape.bounds())
        center = (low + high) / 2
        if self.target_height is not None:
            center[2] = float(self.target_height)
        return _front_point(self.surface, center, self.strike_direction())

    def strike_direction(self) -> np.ndarray:
        """Horizontal direction the effector moves in at contact: along ``facing`` for
        thrusts and kicks; across the body for a slap (a right hand sweeps to the subject's
        left), which therefore strikes the object's side facing the incoming hand."""
        if self.action != "slap":
            return self.facing
        left = np.array([-self.facing[1], self.facing[0], 0.0])
        return -left if self.effector.startswith("left") else left

    def pedestal(self) -> mpm.colliders.Box | None:
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
        if self.domain is not None:
            lo, hi = self.domain
            return mpm.Simulator(domain_min=lo, domain_max=hi, dx=self.dx, seed=self.seed)
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
        pedestal = self.pedestal()
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

    def _untouched_reference(self, posed: Any, frames: int) -> tuple[np.ndarray, np.ndarray]:
        """The same run with the body out of reach, for ``frames`` frames: object particle
        positions (F, N, 3) and linear momentum (F, 3). Its difference to the real run is what
        the body did: the object's own settling, support and gravity reactions cancel."""
        sim = self._build(posed, away=True)
        if frames <= 1:
            state = sim.particle_state()
            return state.x[None], mpm.diagnostics.linear_momentum(state.mass, state.v)[None]
        traj = sim.run(duration=(frames - 1) / self.fps, fps=self.fps, progress=False)
        return traj.tracks["object"].positions, traj.diagnostics["linear_momentum"]

    def posed_action(self) -> tuple[ActionMotion, AttractionResult | None, Any]:
        """The action aimed at the object, attracted onto its surface (when ``attraction``),
        and the posed body of its motion."""
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
            )
            motion = attraction.motion
        return action, attraction, self.body.forward(motion.poses, motion.trans)

    def run(self, progress: bool = True, emulator: Any = None) -> HOIResult:
        """Generate the motion, attract it to the object and simulate the interaction.

        With ``emulator`` (a trained :class:`neurok.NeuROK`) the object is emulated instead
        of simulated with MPM, the body acting on it as moving balls
        (:func:`phygenhoi.emulated.emulate_interaction`): seconds instead of minutes, for the
        elastic and plasticine objects the emulator covers."""
        if emulator is not None:
            from phygenhoi.emulated import emulate_interaction

            return emulate_interaction(self, emulator, progress)
        start = time.perf_counter()
        action, attraction, posed = self.posed_action()
        sim = self._build(posed)
        contact = contact_frame(posed.vertices, sim.particle_state().x, self.dx)
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
        # the body-free run up to the end of the impulse window (contact + 0.1 s)
        window_end = min(contact + impulse_frames(self.fps), traj.num_frames - 1)
        reference = self._untouched_reference(posed, window_end + 1)
        metrics = interaction_metrics(self, traj, posed, action, attraction, contact, reference)
        metrics["wall_time_s"] = round(time.perf_counter() - start, 2)
        traj.metadata["hoi"] = {
            "action": action.action,
            "effector": action.effector,
            "contact_time": self.contact_time,
            "approach_speed": self.approach_speed,
            "metrics": metrics,
        }
        return HOIResult(trajectory=traj, action=action, attraction=attraction, metrics=metrics)
