"""The friendly front of the simulator: collect objects and colliders, then ``run``.

Typical use::

    sim = mpm.Simulator(domain_min=(-1, -1, 0), domain_max=(1, 1, 2), dx=0.02)
    sim.add_object("cube", mpm.Box(size=(0.2, 0.2, 0.2), center=(0, 0, 0.5)),
                   mpm.materials.preset("jelly"))
    sim.add_collider(mpm.colliders.Ground(height=0.0, friction=0.5))
    traj = sim.run(duration=1.0, fps=30)

The time step is chosen per output frame from the CFL bound
dt <= cfl * dx / (c_max + |v|_max) (wave speed of the stiffest material plus the fastest particle
or collider), and every frame the state is checked for NaN and particles leaving the grid.
"""

from __future__ import annotations

import logging
import math
import platform
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from kernels import (
    GridSpec,
    MaterialGroup,
    MPMKernels,
    ParticleData,
    available_backends,
    create_backend,
)
from kernels.interface import TRANSFERS
from mpm.colliders import MODES, Collider, HalfSpace, MeshCollider
from mpm.config import as_vec3, closest_key_hint, is_number, require_positive
from mpm.errors import (
    BackendError,
    ConfigError,
    DomainError,
    SimulationError,
    StabilityError,
    TrajectoryError,
)
from mpm.forces import Force, Impulse
from mpm.materials import Material
from mpm.recorder import FrameRecorder
from mpm.rotation import quat_to_matrix
from mpm.shapes import PointSet, SampledShape, Shape
from mpm.trajectory import Trajectory, check_name

logger = logging.getLogger("emu4d.mpm")

# more substeps than this per frame means a hopeless run (hours per frame): an initial speed
# in mm/s typed as m/s, or a stiffness in Pa typed as kPa; refused instead of attempted
MAX_SUBSTEPS_PER_FRAME = 1_000_000

WALL_CELLS = 2  # domain walls sit this many cells inside the grid boundary
BOUNDARIES = (*MODES, "none")


@dataclass
class SimObject:
    """An object as added: its shape, material, initial motion and sampled particles."""

    name: str
    shape: Shape
    material: Material
    velocity: tuple[float, float, float]
    angular_velocity: tuple[float, float, float]
    sample: SampledShape
    start: int = 0  # particle range [start, end) in the simulator's arrays
    end: int = 0
    tracer_start: int = 0  # surface vertex range in the tracer array
    tracer_end: int = 0
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def num_particles(self) -> int:
        return len(self.sample.positions)


def _skew(w: np.ndarray) -> np.ndarray:
    """[w]_x such that [w]_x r = w × r."""
    return np.array([[0.0, -w[2], w[1]], [w[2], 0.0, -w[0]], [-w[1], w[0], 0.0]])


def _describe(obj: Any) -> dict[str, Any]:
    """A JSON-ready description of a shape/collider for the trajectory metadata."""
    if hasattr(obj, "to_dict"):
        return obj.to_dict()
    out: dict[str, Any] = {"type": type(obj).__name__}
    for key, value in getattr(obj, "__dict__", {}).items():
        if key.startswith("_"):
            continue
        if isinstance(value, np.ndarray):
            out[key] = value.tolist() if value.size <= 16 else f"array{value.shape}"
        elif isinstance(value, (int, float, str, bool, type(None))):
            out[key] = value
        elif isinstance(value, (tuple, list)):
            out[key] = [v if isinstance(v, (int, float, str)) else str(v) for v in value]
        else:
            out[key] = str(value)
    return out


class Simulator:
    """MLS-MPM simulation of several objects with colliders on a regular grid.

    Args:
        domain_min, domain_max: corners of the simulated box [m]; Z is up.
        dx: grid spacing [m]; the domain extent must be a whole number of cells.
        gravity: [m/s^2].
        backend: kernel backend name (see ``kernels.available_backends()``).
        device: "cpu" or "cuda" / "cuda:0" where the backend supports it.
        seed: seeds particle jitter; recorded in the trajectory metadata.
        particles_per_cell: sampling density (8 = 2 per axis).
        cfl: Courant number of the automatic time step, in (0, 1).
        dt: optional fixed substep [s]; must not exceed the stability bound.
        boundary: domain walls: "separate" (default), "slip", "sticky" or "none".
        wall_friction: Coulomb friction of the domain walls.
        transfer: "apic" (default). "pic" drops the affine matrix C after each step; it loses
            angular momentum and is kept only as a comparison baseline.
    """

    def __init__(
        self,
        domain_min: Sequence[float] = (-1.0, -1.0, 0.0),
        domain_max: Sequence[float] = (1.0, 1.0, 2.0),
        dx: float = 0.02,
        gravity: Sequence[float] = (0.0, 0.0, -9.81),
        backend: str = "warp",
        device: str = "cpu",
        seed: int = 0,
        particles_per_cell: int = 8,
        cfl: float = 0.4,
        dt: float | None = None,
        boundary: str = "separate",
        wall_friction: float = 0.0,
        transfer: str = "apic",
    ) -> None:
        self.domain_min = np.asarray(as_vec3("domain_min", domain_min), dtype=np.float64)
        self.domain_max = np.asarray(as_vec3("domain_max", domain_max), dtype=np.float64)
        self.dx = require_positive("dx", dx, "m", "Typical: 0.01-0.05 m.")
        extent = self.domain_max - self.domain_min
        if np.any(extent <= 0):
            raise ConfigError(
                f"domain_max {self.domain_max.tolist()} must exceed domain_min "
                f"{self.domain_min.tolist()} on every axis."
            )
        cells = extent / self.dx
        if np.any(np.abs(cells - np.round(cells)) > 1e-4 * np.maximum(cells, 1)):
            raise ConfigError(
                f"the domain extent {np.round(extent, 6).tolist()} m is not a whole number of "
                f"cells of dx={self.dx} m ({np.round(cells, 3).tolist()} cells); adjust dx or "
                "domain_max."
            )
        self.cells = np.round(cells).astype(int)
        if np.any(self.cells < 2 * WALL_CELLS + 3):
            raise ConfigError(f"the grid has only {self.cells.tolist()} cells; make dx smaller.")
        if np.prod(self.cells + 1) > 400**3:
            raise ConfigError(
                f"the grid would have {tuple(self.cells + 1)} nodes; make dx larger or "
                "the domain smaller."
            )
        self.gravity = np.asarray(as_vec3("gravity", gravity), dtype=np.float64)
        if backend not in available_backends():
            raise BackendError(
                f"unknown backend {backend!r}.{closest_key_hint(backend, available_backends())} "
                f"Available: {available_backends()}."
            )
        self.backend_name = backend
        self.device = device
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
            raise ConfigError(f"seed must be a whole number >= 0, got {seed!r}.")
        self.seed = int(seed)
        if int(particles_per_cell) != particles_per_cell or not 1 <= particles_per_cell <= 64:
            raise ConfigError(
                f"particles_per_cell must be an integer in 1..64, got {particles_per_cell!r}; "
                "8 is standard."
            )
        self.particles_per_cell = int(particles_per_cell)
        if not 0.0 < cfl < 1.0:
            raise ConfigError(f"cfl must lie in (0, 1), got {cfl!r}; 0.3-0.5 is typical.")
        self.cfl = float(cfl)
        self.fixed_dt = None if dt is None else require_positive("dt", dt, "s")
        if boundary not in BOUNDARIES:
            raise ConfigError(
                f"boundary must be one of {BOUNDARIES}, got {boundary!r}."
                f"{closest_key_hint(boundary, BOUNDARIES)}"
            )
        self.boundary = boundary
        if not (is_number(wall_friction) and 0.0 <= wall_friction < math.inf):
            raise ConfigError(
                f"wall_friction must be a Coulomb coefficient >= 0, got {wall_friction!r}."
            )
        self.wall_friction = float(wall_friction)
        if transfer not in TRANSFERS:
            raise ConfigError(f"transfer must be one of {TRANSFERS}, got {transfer!r}.")
        self.transfer = transfer
        self.objects: dict[str, SimObject] = {}
        self.colliders: list[Collider] = []
        self.mesh_colliders: list[MeshCollider] = []
        self.forces: list[Force] = []
        self.impulses: list[Impulse] = []
        self._rng = np.random.default_rng(self.seed)
        self._kernels: MPMKernels | None = None
        self._time = 0.0

    # -- scene building ---------------------------------------------------------------------
    @property
    def grid(self) -> GridSpec:
        """The background grid (nodes per axis = cells + 1)."""
        return GridSpec(
            origin=tuple(self.domain_min.tolist()),
            dx=self.dx,
            shape=tuple(int(c) + 1 for c in self.cells),
        )

    def interior_bounds(self) -> tuple[np.ndarray, np.ndarray]:
        """Region [m] where material may start: between the wall planes."""
        margin = WALL_CELLS * self.dx
        return self.domain_min + margin, self.domain_max - margin

    def add_object(
        self,
        name: str,
        shape: Shape,
        material: Material,
        velocity: Sequence[float] = (0.0, 0.0, 0.0),
        angular_velocity: Sequence[float] = (0.0, 0.0, 0.0),
    ) -> SimObject:
        """Sample ``shape`` into particles of ``material`` with an initial rigid motion.

        velocity [m/s] is the centre-of-mass velocity, angular_velocity [rad/s] spins the
        object about its centre of mass (both set v and the APIC matrix C consistently).
        """
        self._require_not_started("add_object")
        if not isinstance(name, str) or not name or name in self.objects:
            raise ConfigError(
                f"object name {name!r} must be a non-empty string not used before "
                f"(existing: {sorted(self.objects)})."
            )
        try:  # it names tracks, and so files and folders of the exports
            check_name(name, "object")
        except TrajectoryError as exc:
            raise ConfigError(str(exc)) from None
        taken = {n for other in self.objects for n in (other, f"{other}_surface")}
        if name in taken or f"{name}_surface" in self.objects:
            raise ConfigError(
                f"object name {name!r} would clash with the tracks of the objects "
                f"{sorted(self.objects)}: each object records a track of its own name and "
                f"one named '<name>_surface'. Rename it."
            )
        if not isinstance(shape, Shape):
            raise ConfigError(
                f"object {name!r}: shape must be an mpm shape (e.g. mpm.Box(size=(0.1, 0.1, "
                f"0.1), center=(0, 0, 0.2))), got {shape!r}."
            )
        if not isinstance(material, Material):
            raise ConfigError(
                f"object {name!r}: material must be an mpm.materials.Material (e.g. "
                f"mpm.materials.preset('jelly')), got {type(material).__name__}."
            )
        spacing = self.dx / self.particles_per_cell ** (1.0 / 3.0)
        sample = shape.sample(spacing, self._rng)
        self._check_sampled_volume(name, shape, sample, spacing)
        lo, hi = self.interior_bounds()
        pmin, pmax = sample.positions.min(axis=0), sample.positions.max(axis=0)
        if np.any(pmin < lo) or np.any(pmax > hi):
            raise DomainError(
                f"object {name!r} spans {np.round(pmin, 4).tolist()} .. "
                f"{np.round(pmax, 4).tolist()} m but material must start inside "
                f"{np.round(lo, 4).tolist()} .. {np.round(hi, 4).tolist()} m (the domain "
                f"minus {WALL_CELLS} boundary cells). Move the object or enlarge "
                "domain_min/domain_max."
            )
        obj = SimObject(
            name=name,
            shape=shape,
            material=material,
            velocity=as_vec3(f"{name}.velocity", velocity),
            angular_velocity=as_vec3(f"{name}.angular_velocity", angular_velocity),
            sample=sample,
        )
        self.objects[name] = obj
        logger.info("object %r: %d particles", name, obj.num_particles)
        return obj

    def add_collider(self, collider: Collider | MeshCollider) -> None:
        """Add an analytic collider (mpm.colliders.*) or a moving MeshCollider."""
        self._require_not_started("add_collider")
        if isinstance(collider, MeshCollider):
            self.mesh_colliders.append(collider)
        elif isinstance(collider, Collider):
            self.colliders.append(collider)
        else:
            raise ConfigError(
                f"add_collider expects an mpm.colliders object, got {type(collider).__name__}."
            )

    def add_force(
        self,
        object_name: str,
        force: Sequence[float],
        start: float,
        end: float,
        region: Shape | None = None,
    ) -> None:
        """Apply a total force [N] to an object (or the part inside ``region``) in [start, end)."""
        self._require_object(object_name)
        self.forces.append(Force(object_name, force, start, end, region))  # Force checks them

    def add_impulse(
        self, object_name: str, impulse: Sequence[float], time: float, region: Shape | None = None
    ) -> None:
        """Apply an impulse [N s] at ``time`` [s] to an object (or the part inside ``region``)."""
        self._require_object(object_name)
        self.impulses.append(Impulse(object_name, impulse, time, region))  # Impulse checks them

    def _require_object(self, name: str) -> None:
        if name not in self.objects:
            raise ConfigError(
                f"no object named {name!r}.{closest_key_hint(name, list(self.objects))} "
                f"Objects: {sorted(self.objects)}."
            )

    def _require_not_started(self, what: str) -> None:
        if self._kernels is not None:
            raise ConfigError(f"{what} must be called before the first run().")

    # -- time step ----------------------------------------------------------------------------
    def max_wave_speed(self) -> float:
        """Largest material wave speed c [m/s] among the objects."""
        return max((o.material.wave_speed() for o in self.objects.values()), default=0.0)

    def stable_dt(self, max_speed: float = 0.0) -> float:
        """Stable substep [s]: the CFL bound cfl * dx / (c_max + max_speed) for a particle speed
        [m/s], and the viscous bound dx^2 rho / (6 eta) of damped materials."""
        collider_speed = max(
            [c.max_speed(float(np.max(self.domain_max - self.domain_min))) for c in self.colliders]
            + [m.max_speed() for m in self.mesh_colliders]
            + [0.0]
        )
        speed = self.max_wave_speed() + max(max_speed, collider_speed)
        viscous = min((o.material.viscous_dt(self.dx) for o in self.objects.values()), default=1.0)
        return min(self.cfl * self.dx / max(speed, 1e-9), viscous)

    # -- running ------------------------------------------------------------------------------
    def _wall_colliders(self) -> list[Collider]:
        if self.boundary == "none":
            return []
        lo = self.domain_min + WALL_CELLS * self.dx
        hi = self.domain_max - WALL_CELLS * self.dx
        walls = []
        # each wall is a half-space whose local +z normal points into the domain
        rotations = {
            (0, +1): (0.0, 90.0, 0.0),
            (0, -1): (0.0, -90.0, 0.0),
            (1, +1): (-90.0, 0.0, 0.0),
            (1, -1): (90.0, 0.0, 0.0),
            (2, +1): (0.0, 0.0, 0.0),
            (2, -1): (180.0, 0.0, 0.0),
        }
        for axis in range(3):
            for sign, plane in ((+1, lo[axis]), (-1, hi[axis])):
                center = [0.0, 0.0, 0.0]
                center[axis] = float(plane)
                walls.append(
                    HalfSpace(
                        center=tuple(center),
                        rotation=rotations[(axis, sign)],
                        mode=self.boundary,
                        friction=self.wall_friction,
                    )
                )
        return walls

    def _initial_state(self) -> tuple[ParticleData, list[MaterialGroup], np.ndarray]:
        xs, vs, Cs, vols, masses, groups, tracers = [], [], [], [], [], [], []
        start = 0
        tracer_start = 0
        for obj in self.objects.values():
            x = obj.sample.positions.astype(np.float64)
            vol = obj.sample.volumes.astype(np.float64)
            mass = vol * obj.material.density
            com = (mass[:, None] * x).sum(axis=0) / mass.sum()
            w = np.asarray(obj.angular_velocity)
            v = np.asarray(obj.velocity) + np.cross(w, x - com)
            xs.append(x)
            vs.append(v)
            Cs.append(np.broadcast_to(_skew(w), (len(x), 3, 3)))
            vols.append(vol)
            masses.append(mass)
            obj.start, obj.end = start, start + len(x)
            groups.append(
                MaterialGroup(
                    obj.start, obj.end, obj.material.kernel_model, obj.material.kernel_params()
                )
            )
            start = obj.end
            verts = obj.sample.surface_vertices
            n_verts = 0 if verts is None else len(verts)
            obj.tracer_start, obj.tracer_end = tracer_start, tracer_start + n_verts
            tracer_start += n_verts
            if n_verts:
                tracers.append(np.asarray(verts, dtype=np.float32))
        n = start
        particles = ParticleData(
            x=np.concatenate(xs).astype(np.float32),
            v=np.concatenate(vs).astype(np.float32),
            C=np.concatenate(Cs).astype(np.float32),
            F=np.broadcast_to(np.eye(3, dtype=np.float32), (n, 3, 3)).copy(),
            Jp=np.ones(n, dtype=np.float32),
            volume=np.concatenate(vols).astype(np.float32),
            mass=np.concatenate(masses).astype(np.float32),
        )
        tracer_x = np.concatenate(tracers) if tracers else np.zeros((0, 3), np.float32)
        return particles, groups, tracer_x

    def _start(self) -> None:
        if not self.objects:
            raise ConfigError("add at least one object (sim.add_object) before run().")
        self._check_placement()
        if self.fixed_dt is not None:
            bound = self.stable_dt(self._initial_speed())
            if self.fixed_dt > bound:
                raise StabilityError(
                    f"dt={self.fixed_dt:.3e} s exceeds the stability bound {bound:.3e} s "
                    f"(cfl={self.cfl} * dx={self.dx} / (wave speed {self.max_wave_speed():.3g}"
                    f" m/s + max speed)). Use dt <= {bound:.3e}, or omit dt for automatic "
                    "substeps."
                )
        try:
            self._kernels = create_backend(
                self.backend_name, self.grid, self.device, self.transfer
            )
        except Exception as exc:  # backend import / device errors
            raise BackendError(
                f"backend {self.backend_name!r} on device {self.device!r} is unavailable: "
                f"{exc}. Use device='cpu', or check the GPU driver."
            ) from exc
        particles, groups, tracer_x = self._initial_state()
        self._groups = groups
        self._kernels.load_particles(particles, groups)
        self._kernels.load_tracers(tracer_x)
        self._state = particles
        self._tracers = tracer_x

    def _check_sampled_volume(
        self, name: str, shape: Shape, sample: SampledShape, spacing: float
    ) -> None:
        """Warn when the particles hold a volume (so a mass) more than 5 % off the shape's:
        each carries spacing^3, and a shape a few spacings across is cut to whole ones."""
        if isinstance(shape, PointSet):
            return
        surface = shape.surface_mesh()
        if surface is None or not surface.is_watertight or not surface.volume > 0:
            return
        ratio = sample.total_volume / float(surface.volume)
        if abs(ratio - 1.0) > 0.05:
            logger.warning(
                "object %r: its particles hold %.2f of its volume at particle spacing %.3g m "
                "(dx %.3g m), so its mass is %+.0f%% off density x volume while its surface "
                "mesh keeps the true size. Use a smaller dx (or more particles_per_cell).",
                name, ratio, spacing, self.dx, 100 * (ratio - 1.0),
            )

    def _check_placement(self) -> None:
        """Refuse an object that starts inside a half-space (the ground), and warn when two
        objects overlap: MPM would fuse their overlap into one body of summed density."""
        tolerance = 0.5 * self.dx  # half a cell: a mesh set a few mm into the ground still runs
        for index, collider in enumerate(self.colliders):
            if not isinstance(collider, HalfSpace):
                continue
            pose = collider.pose_at(0.0)
            normal = quat_to_matrix(pose.quat)[:, 2]
            for obj in self.objects.values():
                depth = (obj.sample.positions - pose.position) @ normal
                if depth.min() < -tolerance:
                    share = float(np.mean(depth < 0.0))
                    raise DomainError(
                        f"object {obj.name!r} starts {-depth.min():.3g} m inside collider "
                        f"{index} (a half-space, e.g. the ground, through "
                        f"{np.round(pose.position, 4).tolist()} with normal "
                        f"{np.round(normal, 4).tolist()}); {share:.0%} of its particles are "
                        f"below it. Move the object {-depth.min():.3g} m along the normal "
                        "(raise its center), or lower the ground."
                    )
        objects = list(self.objects.values())
        for i, a in enumerate(objects):
            for b in objects[i + 1 :]:
                for inner, outer in ((b, a), (a, b)):
                    if isinstance(outer.shape, PointSet):  # a point cloud has no inside
                        continue
                    share = float(np.mean(outer.shape.contains(inner.sample.positions)))
                    if share > 0.01:
                        logger.warning(
                            "objects %r and %r overlap: %.0f%% of %r's particles lie inside "
                            "%r, and MPM fuses the overlap into one body of summed density. "
                            "Separate them unless that is intended.",
                            a.name, b.name, 100 * share, inner.name, outer.name,
                        )
                        break

    def _initial_speed(self) -> float:
        speeds = [0.0]
        for obj in self.objects.values():
            x = obj.sample.positions
            radius = float(np.linalg.norm(x - x.mean(axis=0), axis=1).max())
            speeds.append(
                float(np.linalg.norm(obj.velocity))
                + float(np.linalg.norm(obj.angular_velocity)) * radius
            )
        return max(speeds)

    def _selection(self, obj: SimObject, region: Shape | None, x: np.ndarray) -> np.ndarray:
        """Particle indices of ``obj`` inside ``region`` (all when region is None)."""
        idx = np.arange(obj.start, obj.end)
        if region is None:
            return idx
        inside = region.contains(x[obj.start : obj.end])
        if not inside.any():
            raise ConfigError(
                f"the force/impulse region selects no particle of object {obj.name!r}."
            )
        return idx[inside]

    def run(
        self,
        duration: float,
        fps: float = 30.0,
        progress: bool = True,
        record_velocities: bool = False,
    ) -> Trajectory:
        """Simulate ``duration`` seconds and record ``fps`` frames per second.

        Frame 0 is the state at the current time; a second ``run`` continues where the
        previous one stopped. Returns a :class:`mpm.Trajectory` with a particle track per
        object, a ``<name>_surface`` mesh track for objects with a surface, and diagnostics.

        Raises:
            SimulationError: NaN or a particle leaving the grid (names object and frame).
        """
        duration = require_positive("duration", duration, "s")
        fps = require_positive("fps", fps, "1/s")
        num_frames = round(duration * fps)
        if num_frames < 1:
            raise ConfigError(f"duration={duration} s at fps={fps} gives no frame; lengthen it.")
        if abs(duration * fps - num_frames) > 1e-6:
            logger.warning(
                "duration %.6g s at %.6g fps is %.4g frames: simulating %d frames (%.6g s).",
                duration, fps, duration * fps, num_frames, num_frames / fps,
            )  # fmt: skip
        self.initialize()
        kernels = self._kernels
        assert kernels is not None
        frame_dt = 1.0 / fps
        analytic = self._wall_colliders() + self.colliders
        static_specs = {i: c.state_at(0.0) for i, c in enumerate(analytic) if c.is_static}
        recorder = FrameRecorder(self, record_velocities)
        recorder.record(self._time, self._state, self._tracers, substeps=0, dt=0.0)
        pending_impulses = sorted(
            (i for i in self.impulses if i.time >= self._time - 1e-12), key=lambda i: i.time
        )
        active_forces: tuple[int, ...] = ()
        bar = tqdm(range(1, num_frames + 1), desc="mpm", unit="frame", disable=not progress)
        for frame in bar:
            speed = float(np.sqrt((self._state.v.astype(np.float64) ** 2).sum(axis=1).max()))
            dt_bound = self.stable_dt(speed)
            dt_target = dt_bound if self.fixed_dt is None else min(self.fixed_dt, dt_bound)
            substeps = max(1, math.ceil(frame_dt / dt_target - 1e-9))
            if substeps > MAX_SUBSTEPS_PER_FRAME:
                raise StabilityError(
                    f"at frame {frame} the fastest particle moves at {speed:.3g} m/s (sound "
                    f"speed {self.max_wave_speed():.3g} m/s), so one frame of {frame_dt:.3g} s "
                    f"needs {substeps:,} substeps of {dt_target:.2e} s, more than "
                    f"{MAX_SUBSTEPS_PER_FRAME:,}. Check the initial velocities (m/s) and the "
                    "material's stiffness, or use a coarser dx."
                )
            dt = frame_dt / substeps
            active = self._active_nodes(speed, frame_dt)
            for s in range(substeps):
                t = self._time + s * dt
                while pending_impulses and pending_impulses[0].time <= t + 0.5 * dt:
                    self._apply_impulse(pending_impulses.pop(0))
                now_active = tuple(
                    i for i, f in enumerate(self.forces) if f.start <= t + 0.5 * dt < f.end
                )
                if now_active != active_forces:
                    self._apply_forces(now_active)
                    active_forces = now_active
                specs = [
                    static_specs[i] if i in static_specs else c.state_at(t)
                    for i, c in enumerate(analytic)
                ]
                if self.mesh_colliders:
                    kernels.set_mesh_colliders([m.state_at(t) for m in self.mesh_colliders])
                kernels.substep(dt, tuple(self.gravity.tolist()), specs, active)
            self._time += frame_dt
            self._state = kernels.read_particles()
            self._tracers = kernels.read_tracers()
            self._check_state(frame, kernels.first_escaped_particle())
            recorder.record(self._time, self._state, self._tracers, substeps=substeps, dt=dt)
            bar.set_postfix(dt=f"{dt:.1e}", substeps=substeps)
        return recorder.finish()

    def _active_nodes(
        self, speed: float, frame_dt: float
    ) -> tuple[tuple[int, int, int], tuple[int, int, int]]:
        """Grid node box that can hold material during the next frame: the bounding box of
        particles and surface points, grown by the distance they can travel plus the stencil."""
        points = self._state.x
        if len(self._tracers):
            points = np.concatenate([points, self._tracers])
        reach = (speed + float(np.linalg.norm(self.gravity)) * frame_dt) * frame_dt * 1.5
        cells = math.ceil(reach / self.dx) + 3
        lo = np.floor((points.min(axis=0) - self.domain_min) / self.dx).astype(int) - cells
        hi = np.ceil((points.max(axis=0) - self.domain_min) / self.dx).astype(int) + cells + 1
        return tuple(lo.tolist()), tuple(hi.tolist())  # type: ignore[return-value]

    def _apply_impulse(self, impulse: Impulse) -> None:
        obj = self.objects[impulse.object_name]
        idx = self._selection(obj, impulse.region, self._current_positions())
        total_mass = float(self._state.mass[idx].astype(np.float64).sum())
        delta_v = np.zeros((len(self._state.x), 3), dtype=np.float32)
        delta_v[idx] = np.asarray(impulse.impulse) / total_mass
        assert self._kernels is not None
        self._kernels.add_velocity(delta_v)

    def _apply_forces(self, active: tuple[int, ...]) -> None:
        assert self._kernels is not None
        if not active:
            self._kernels.set_external_acceleration(None)
            return
        accel = np.zeros((len(self._state.x), 3), dtype=np.float32)
        x = self._current_positions()
        for i in active:
            force = self.forces[i]
            obj = self.objects[force.object_name]
            idx = self._selection(obj, force.region, x)
            accel[idx] += np.asarray(force.force) / float(self._state.mass[idx].sum())
        self._kernels.set_external_acceleration(accel)

    def particle_state(self) -> ParticleData:
        """A copy of the current particle state (x, v, C, F, Jp, volume, mass) as numpy.

        Particles of object ``name`` are ``sim.objects[name].start:end``.
        """
        if self._kernels is None:
            raise ConfigError("particle_state() is available after the first run().")
        return self._kernels.read_particles()

    def set_particle_state(
        self,
        *,
        x: np.ndarray | None = None,
        v: np.ndarray | None = None,
        C: np.ndarray | None = None,
        F: np.ndarray | None = None,
    ) -> None:
        """Overwrite parts of the particle state, e.g. an initial velocity field or pre-stress.

        Arrays cover all particles (see ``particle_state``); position [m] (N, 3), velocity
        [m/s] (N, 3), affine matrix C [1/s] (N, 3, 3), deformation gradient F (N, 3, 3).
        Call after ``initialize()`` (or a first ``run``).
        """
        if self._kernels is None:
            raise ConfigError("call sim.initialize() (or run) before set_particle_state().")
        state = self._kernels.read_particles()
        n = len(state.x)
        values = {}
        for name, array, shape in (
            ("x", x, (n, 3)),
            ("v", v, (n, 3)),
            ("C", C, (n, 3, 3)),
            ("F", F, (n, 3, 3)),
        ):
            if array is None:
                values[name] = getattr(state, name)
                continue
            array = np.array(array, dtype=np.float32)  # copy: never alias the caller
            if array.shape != shape or not np.isfinite(array).all():
                raise ConfigError(
                    f"set_particle_state: {name} must be a finite array of shape {shape}, "
                    f"got {np.shape(array)}."
                )
            values[name] = array
        if F is not None and np.any(np.linalg.det(values["F"]) <= 0):
            raise ConfigError("set_particle_state: every F must have a positive determinant.")
        self._state = ParticleData(
            x=values["x"],
            v=values["v"],
            C=values["C"],
            F=values["F"],
            Jp=state.Jp,
            volume=state.volume,
            mass=state.mass,
        )
        self._kernels.load_particles(self._state, self._groups)
        if x is not None and len(self._tracers):
            self._tracers = self._moved_tracers(state.x, values["x"])
            self._kernels.load_tracers(self._tracers)

    def _moved_tracers(self, old_x: np.ndarray, new_x: np.ndarray) -> np.ndarray:
        """Surface vertices carried along with edited particle positions: each vertex moves by
        the inverse-distance-weighted displacement of its object's 8 nearest particles, so
        the surface mesh stays on the material (a shift moves it exactly)."""
        from scipy.spatial import cKDTree

        tracers = self._tracers.astype(np.float64)
        for obj in self.objects.values():
            if obj.tracer_end <= obj.tracer_start:
                continue
            before = old_x[obj.start : obj.end].astype(np.float64)
            moved = new_x[obj.start : obj.end].astype(np.float64) - before
            rows = slice(obj.tracer_start, obj.tracer_end)
            k = min(8, len(before))
            distance, nearest = cKDTree(before).query(tracers[rows], k=k)
            distance, nearest = distance.reshape(-1, k), nearest.reshape(-1, k)
            weight = 1.0 / np.maximum(distance, 1e-9)
            weight /= weight.sum(axis=1, keepdims=True)
            tracers[rows] += np.einsum("vk,vkd->vd", weight, moved[nearest])
        return tracers.astype(self._tracers.dtype)

    def initialize(self) -> None:
        """Upload the scene to the compute backend (the first run does it too), so that the
        particle state can be read or edited before stepping."""
        if self._kernels is None:
            self._start()

    def _current_positions(self) -> np.ndarray:
        assert self._kernels is not None
        return self._kernels.read_particles().x

    def _owner(self, index: int) -> tuple[str, str]:
        n = len(self._state.x)
        for obj in self.objects.values():
            if obj.start <= index < obj.end:
                return obj.name, "particle"
            if obj.tracer_start <= index - n < obj.tracer_end:
                return obj.name, "surface vertex"
        return "?", "particle"

    def _check_state(self, frame: int, escaped: int) -> None:
        x, v = self._state.x, self._state.v
        bad = ~(np.isfinite(x).all(axis=1) & np.isfinite(v).all(axis=1))
        if bad.any():
            name, _ = self._owner(int(np.argmax(bad)))
            raise SimulationError(
                f"the state of object {name!r} became NaN/inf at frame {frame} "
                f"(t={self._time:.4f} s). The material is probably too stiff for the step or "
                "was inverted by a collider: lower cfl, set a smaller dt, or soften the material.",
                object_name=name,
                frame=frame,
            )
        if escaped >= 0:
            name, what = self._owner(escaped)
            walls = (
                "turn the walls on (boundary='separate'; it is 'none')"
                if self.boundary == "none"
                else f"keep the walls on (boundary={self.boundary!r})"
            )
            raise SimulationError(
                f"a {what} of object {name!r} left the simulation grid at frame {frame} "
                f"(t={self._time:.4f} s). Enlarge the domain (domain_min/domain_max), {walls}, "
                "or reduce the object's speed.",
                object_name=name,
                frame=frame,
            )
        speed = float(np.sqrt((v.astype(np.float64) ** 2).sum(axis=1).max()))
        limit = self.dx / self.stable_dt(0.0) * 10.0 / self.cfl
        if speed > limit:
            name, _ = self._owner(int(np.argmax((v.astype(np.float64) ** 2).sum(axis=1))))
            raise SimulationError(
                f"blow-up: object {name!r} reached {speed:.3g} m/s at frame {frame}, over ten "
                f"times its wave speed; lower cfl or dt, or soften the material.",
                object_name=name,
                frame=frame,
            )

    def metadata(self) -> dict[str, Any]:
        """JSON-ready description of the run configuration."""
        import importlib.metadata as md

        def version(pkg: str) -> str:
            try:
                return md.version(pkg)
            except md.PackageNotFoundError:
                return "unknown"

        return {
            "simulator": {
                "domain_min": self.domain_min.tolist(),
                "domain_max": self.domain_max.tolist(),
                "dx": self.dx,
                "gravity": self.gravity.tolist(),
                "backend": self.backend_name,
                "device": self.device,
                "seed": self.seed,
                "particles_per_cell": self.particles_per_cell,
                "cfl": self.cfl,
                "dt": self.fixed_dt,
                "boundary": self.boundary,
                "transfer": self.transfer,
                "wall_friction": self.wall_friction,
            },
            "objects": [
                {
                    "name": o.name,
                    "shape": _describe(o.shape),
                    "material": o.material.to_dict(),
                    "velocity": list(o.velocity),
                    "angular_velocity": list(o.angular_velocity),
                    "num_particles": o.num_particles,
                }
                for o in self.objects.values()
            ],
            "colliders": [c.to_dict() for c in self.colliders]
            + [
                {"type": "MeshCollider", "frames": m.num_frames, "fps": m.fps, "mode": m.mode}
                for m in self.mesh_colliders
            ],
            "forces": [_describe(f) for f in self.forces],
            "impulses": [_describe(i) for i in self.impulses],
            "seed": self.seed,
            "versions": {
                "emu4d": version("emu4d"),
                "warp-lang": version("warp-lang"),
                "numpy": version("numpy"),
                "python": platform.python_version(),
            },
        }
