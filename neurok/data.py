"""4D training data for the emulator, generated with :mod:`mpm`.

Each sequence is one object (a primitive or an asset mesh, random scale, aspect and
orientation) of one material (neo-Hookean elastic over a range of E, nu, density, or
plasticine) under one condition: a drop, a toss with spin, a poke by a moving sphere, or an
impulse. For every frame it stores the surface mesh vertices, a fixed random subset of the
particles (positions and velocities, for the emulator's volume and initial conditions) and the
energies (kinetic, gravitational, elastic). Generation is seeded and reproducible; shapes (not
sequences) are split into train / held-out, so held-out evaluation is on unseen geometry.

Layout of a dataset directory::

    index.json          parameters, seed, the split and every sequence's spec
    seq_0000.npz ...    one file per sequence (arrays listed in :class:`Sequence`)
"""

from __future__ import annotations

import json
import zipfile
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
from tqdm.auto import tqdm

import mpm
from mpm.fileio import atomic_path
from neurok.errors import DatasetError

FORMAT_VERSION = 1
FAMILIES = ("box", "sphere", "cylinder", "torus", "bunny", "star_prism")
CONDITIONS = ("drop", "toss", "poke", "impulse")
IMPULSE_TIME = 0.1  # [s] when the blow of an "impulse" condition is given
GRAVITY = 9.81
_MESHES = {"bunny": "assets/meshes/bunny.obj", "star_prism": "assets/meshes/star_prism.obj"}


@dataclass(frozen=True)
class ShapeSpec:
    """One shape instance: family, size of its largest side [m], per-axis aspect, and
    orientation (XYZ Euler angles [deg])."""

    shape_id: int
    family: str
    size: float
    aspect: tuple[float, float, float]
    rotation: tuple[float, float, float]

    def build(self, center: tuple[float, float, float] = (0.0, 0.0, 0.0)) -> mpm.Shape:
        """The mpm shape centred (bounding box) at ``center``."""
        a = np.asarray(self.aspect) * self.size
        if self.family == "box":
            return mpm.Box(size=tuple(a), center=center, rotation=self.rotation)
        if self.family == "sphere":
            return mpm.Sphere(radius=self.size / 2, center=center)
        if self.family == "cylinder":
            radius = 0.5 * min(a[0], a[1])
            return mpm.Cylinder(radius=radius, height=a[2], center=center, rotation=self.rotation)
        if self.family == "torus":
            minor = 0.18 * self.size * self.aspect[2]  # tube radius < ring radius always
            major = 0.5 * self.size - minor
            return mpm.Torus(
                major_radius=major, minor_radius=minor, center=center, rotation=self.rotation
            )
        path = _MESHES[self.family]
        probe = mpm.MeshShape(path, scale=1.0, center=(0.0, 0.0, 0.0))
        low, high = probe.bounds()
        extent = float(np.max(np.asarray(high) - np.asarray(low)))
        scale = tuple((np.asarray(self.aspect) * self.size / extent).tolist())
        return mpm.MeshShape(path, scale=scale, center=center, rotation=self.rotation)


@dataclass(frozen=True)
class SequenceSpec:
    """Everything that defines one sequence; with the seed it reproduces it exactly."""

    index: int
    shape: ShapeSpec
    material: dict[str, Any]
    condition: dict[str, Any]
    seed: int

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> SequenceSpec:
        shape = dict(data["shape"])
        for key in ("aspect", "rotation"):
            shape[key] = tuple(shape[key])
        return cls(
            index=int(data["index"]),
            shape=ShapeSpec(**shape),
            material=dict(data["material"]),
            condition=dict(data["condition"]),
            seed=int(data["seed"]),
        )


@dataclass
class Sequence:
    """One simulated sequence (float32 arrays, SI units, Z up; T frames at ``fps``).

    Attributes:
        rest_vertices (V, 3), faces (F, 3): the surface mesh at rest (frame 0's shape).
        vertices (T, V, 3): the surface mesh over time (advected with the material).
        rest_points (P, 3), points (T, P, 3), velocities (T, P, 3): a fixed random subset of
            the particles, at rest and over time.
        point_mass (P,): masses [kg] of the subset, scaled so they sum to the object's mass.
        energies: (T,) arrays "kinetic", "gravity", "elastic" [J] over all particles.
        spec: the generating :class:`SequenceSpec`. fps: frame rate [1/s].
        dx: MPM grid spacing [m]. wall_time: MPM wall-clock time [s] for the whole sequence.
        cells_per_size: grid cells along the object's largest side.
    """

    rest_vertices: np.ndarray
    faces: np.ndarray
    vertices: np.ndarray
    rest_points: np.ndarray
    points: np.ndarray
    velocities: np.ndarray
    point_mass: np.ndarray
    energies: dict[str, np.ndarray]
    spec: SequenceSpec
    fps: float
    dx: float
    wall_time: float = 0.0
    cells_per_size: float = 16.0

    @property
    def num_frames(self) -> int:
        return int(self.vertices.shape[0])

    def save(self, path: Path) -> None:
        arrays = {
            "rest_vertices": self.rest_vertices,
            "faces": self.faces,
            "vertices": self.vertices,
            "rest_points": self.rest_points,
            "points": self.points,
            "velocities": self.velocities,
            "point_mass": self.point_mass,
            **{f"energy_{k}": v for k, v in self.energies.items()},
        }
        meta = {"spec": self.spec.to_json(), "fps": self.fps, "dx": self.dx,
                "wall_time": self.wall_time, "version": FORMAT_VERSION,
                "cells_per_size": self.cells_per_size}  # fmt: skip
        with atomic_path(path) as tmp, open(tmp, "wb") as handle:
            np.savez_compressed(handle, meta=np.array(json.dumps(meta)), **arrays)

    @classmethod
    def load(cls, path: str | Path) -> Sequence:
        path = Path(path)
        if not path.is_file():
            raise DatasetError(f"sequence file {path} does not exist; regenerate the dataset.")
        with np.load(path) as data:
            meta = json.loads(str(data["meta"]))
            energies = {k[7:]: data[k] for k in data.files if k.startswith("energy_")}
            return cls(
                rest_vertices=data["rest_vertices"], faces=data["faces"],
                vertices=data["vertices"], rest_points=data["rest_points"],
                points=data["points"], velocities=data["velocities"],
                point_mass=data["point_mass"], energies=energies,
                spec=SequenceSpec.from_json(meta["spec"]), fps=float(meta["fps"]),
                dx=float(meta["dx"]), wall_time=float(meta.get("wall_time", 0.0)),
                cells_per_size=float(meta.get("cells_per_size", 16.0)),
            )  # fmt: skip


def sample_specs(num_sequences: int, seed: int, per_shape: int = 2) -> list[SequenceSpec]:
    """``num_sequences`` random sequence specs; each shape instance gets ``per_shape``
    sequences with different materials and conditions."""
    if num_sequences < 1:
        raise DatasetError(f"the number of sequences must be >= 1, got {num_sequences}.")
    rng = np.random.default_rng(seed)
    specs: list[SequenceSpec] = []
    shape: ShapeSpec | None = None
    for index in range(num_sequences):
        if index % per_shape == 0:
            family = FAMILIES[(index // per_shape) % len(FAMILIES)]
            aspect = tuple(np.round(rng.uniform(0.6, 1.0, 3), 3).tolist())
            aspect = tuple((np.asarray(aspect) / max(aspect)).round(3).tolist())
            rotation = tuple(np.round(rng.uniform(-180, 180, 3), 1).tolist())
            shape = ShapeSpec(
                shape_id=index // per_shape,
                family=family,
                size=round(float(rng.uniform(0.16, 0.28)), 3),
                aspect=aspect,  # type: ignore[arg-type]
                rotation=rotation,  # type: ignore[arg-type]
            )
        assert shape is not None
        specs.append(
            SequenceSpec(
                index=index,
                shape=shape,
                material=_sample_material(rng),
                condition=_sample_condition(rng, CONDITIONS[index % len(CONDITIONS)]),
                seed=int(rng.integers(0, 2**31 - 1)),
            )
        )
    return specs


def _sample_material(rng: np.random.Generator) -> dict[str, Any]:
    if rng.uniform() < 0.2:  # plasticine: elastic until it yields, then keeps its dent
        return {"type": "von_mises", "E": float(np.round(10 ** rng.uniform(4.7, 5.2), -2)),
                "nu": 0.3, "density": float(np.round(rng.uniform(1200, 1600))),
                "yield_stress": float(np.round(rng.uniform(2e3, 5e3), -1)),
                "viscosity": 10.0}  # fmt: skip
    return {"type": "elastic", "model": "neohookean",
            "E": float(np.round(10 ** rng.uniform(4.3, 5.0), -2)),
            "nu": float(np.round(rng.uniform(0.25, 0.4), 3)),
            "density": float(np.round(rng.uniform(600, 1400))),
            "viscosity": float(np.round(rng.uniform(5, 15), 2))}  # fmt: skip


def _sample_condition(rng: np.random.Generator, kind: str) -> dict[str, Any]:
    direction = rng.normal(size=3)
    direction[2] = 0.0
    direction /= max(float(np.linalg.norm(direction)), 1e-9)
    if kind == "drop":
        return {"kind": kind, "height": float(np.round(rng.uniform(0.05, 0.35), 3))}
    if kind == "toss":
        spin = rng.normal(size=3)
        spin *= rng.uniform(2.0, 6.0) / np.linalg.norm(spin)
        velocity = np.append(direction[:2] * rng.uniform(0.0, 0.6), rng.uniform(0.3, 1.5))
        return {"kind": kind, "height": float(np.round(rng.uniform(0.1, 0.3), 3)),
                "velocity": np.round(velocity, 3).tolist(),
                "angular_velocity": np.round(spin, 3).tolist()}  # fmt: skip
    if kind == "poke":
        return {"kind": kind, "direction": np.round(direction, 4).tolist(),
                "speed": float(np.round(rng.uniform(1.0, 2.0), 3)),
                "depth": float(np.round(rng.uniform(0.2, 0.35), 3))}  # fmt: skip
    return {"kind": "impulse", "direction": np.round(direction, 4).tolist(),
            "delta_v": float(np.round(rng.uniform(0.5, 1.5), 3)),
            "lift": float(np.round(rng.uniform(0.0, 0.5), 3))}  # fmt: skip


def build_material(spec: dict[str, Any]) -> mpm.materials.Material:
    """The mpm material of a spec's ``material`` dict."""
    values = {k: v for k, v in spec.items() if k != "type"}
    if spec["type"] == "von_mises":
        return mpm.materials.VonMises(**values)
    return mpm.materials.Elastic(**values)


def simulate_sequence(
    spec: SequenceSpec,
    duration: float = 1.0,
    fps: float = 30.0,
    cells_per_size: float = 16.0,
    num_points: int = 512,
) -> Sequence:
    """Run one sequence with mpm and record it (see :class:`Sequence`)."""
    import time

    start = time.perf_counter()
    center, extent, dx = placement(spec, cells_per_size)
    condition = spec.condition
    shape = spec.shape.build(center)
    low_corner = np.array([-1.0, -1.0, -3 * dx])  # 1 m of horizontal room for tosses
    top = center[2] + extent[2] / 2
    cells = np.ceil((np.array([1.0, 1.0, top + 1.0]) - low_corner) / dx)
    sim = mpm.Simulator(
        domain_min=tuple(low_corner.tolist()),
        domain_max=tuple((low_corner + cells * dx).tolist()),
        dx=dx,
        seed=spec.seed,
    )
    material = build_material(spec.material)
    velocity = tuple(condition.get("velocity", (0.0, 0.0, 0.0)))
    spin = tuple(condition.get("angular_velocity", (0.0, 0.0, 0.0)))
    sim.add_object("object", shape, material, velocity=velocity, angular_velocity=spin)
    sim.add_collider(mpm.colliders.Ground(height=0.0, friction=0.4))
    _add_condition(sim, shape, condition, center, extent, material)
    frames = round(duration * fps)
    record = _Recorder(np.random.default_rng(spec.seed), num_points, material)
    sim.initialize()
    record.add_state(sim.particle_state())
    for frame in range(frames):
        segment = sim.run(duration=1.0 / fps, fps=fps, progress=False, record_velocities=True)
        if frame == 0:
            record.add_frame(segment, 0)
        record.add_frame(segment, 1)
        record.add_state(sim.particle_state())
    sequence = record.finish(spec, fps, dx, time.perf_counter() - start)
    sequence.cells_per_size = float(cells_per_size)
    return sequence


def placement(
    spec: SequenceSpec, cells_per_size: float = 16.0
) -> tuple[tuple[float, float, float], np.ndarray, float]:
    """Where a sequence's object starts: (centre [m], bounding-box extent [m], grid spacing
    [m]); it rests a quarter cell above its condition's height, centred over the origin."""
    low, high = (np.asarray(b, dtype=np.float64) for b in spec.shape.build().bounds())
    extent = high - low
    dx = float(max(extent) / cells_per_size)
    bottom = float(spec.condition.get("height", 0.0)) + 0.25 * dx
    return (0.0, 0.0, bottom + extent[2] / 2), extent, dx


def impulse_blow(
    condition: dict[str, Any], center: tuple[float, float, float], extent: np.ndarray,
    mass: float,
) -> tuple[np.ndarray, mpm.Box]:  # fmt: skip
    """The blow of an "impulse" condition (given at IMPULSE_TIME): the impulse [N s] on an
    object of ``mass`` [kg], sideways and a little up, and the region of the object's upper
    part it acts on (at the starting placement)."""
    direction = np.asarray(condition.get("direction", (1.0, 0.0, 0.0)), dtype=np.float64)
    push = direction.copy()
    push[2] = float(condition["lift"])
    push /= np.linalg.norm(push)
    c = np.asarray(center)
    region = mpm.Box(
        size=tuple((extent * np.array([1.2, 1.2, 0.6])).tolist()),
        center=(c[0], c[1], c[2] + 0.25 * extent[2]),
    )
    return push * mass * float(condition["delta_v"]), region


def poke_sphere(
    condition: dict[str, Any], center: tuple[float, float, float], extent: np.ndarray
) -> mpm.colliders.Sphere:
    """The moving sphere of a poke condition, for an object placed at ``center`` with
    bounding-box ``extent`` [m] (:func:`placement`): it moves in from the side along the
    condition's direction, aimed a little below the centre, dents the object by ``depth`` x
    its largest extent at ``speed``, and backs off over 0.25 s."""
    direction = np.asarray(condition["direction"], dtype=np.float64)
    c = np.asarray(center, dtype=np.float64)
    half = 0.5 * float(np.linalg.norm(extent[:2] * np.abs(direction[:2])) + 1e-9)
    radius = 0.3 * float(max(extent))
    speed, depth = float(condition["speed"]), float(condition["depth"]) * float(max(extent))
    aim = c.copy()
    aim[2] = c[2] - 0.1 * extent[2]
    far = aim - direction * (half + radius + 0.05)
    near = aim - direction * (half + radius - depth)
    t_in = 0.15 + float(np.linalg.norm(near - far)) / speed
    keys = (
        mpm.colliders.Keyframe(0.15, tuple(far.tolist())),
        mpm.colliders.Keyframe(t_in, tuple(near.tolist())),
        mpm.colliders.Keyframe(t_in + 0.25, tuple(far.tolist())),
    )
    return mpm.colliders.Sphere(radius=radius, center=tuple(far.tolist()), keyframes=keys,
                                mode="separate", friction=0.2)  # fmt: skip


def _add_condition(
    sim: mpm.Simulator,
    shape: mpm.Shape,
    condition: dict[str, Any],
    center: tuple[float, float, float],
    extent: np.ndarray,
    material: mpm.materials.Material,
) -> None:
    kind = condition["kind"]
    if kind == "poke":  # a sphere moves in from the side, dents the object, and backs off
        sim.add_collider(poke_sphere(condition, center, extent))
    elif kind == "impulse":  # a blow on the upper part, sideways and a little up
        mass = float(shape.surface_mesh().volume) * material.density  # delta_v: whole object
        impulse, region = impulse_blow(condition, center, extent, mass)
        sim.add_impulse("object", tuple(impulse.tolist()), IMPULSE_TIME, region=region)


class _Recorder:
    """Collects a sequence's frames from consecutive one-frame runs."""

    def __init__(
        self, rng: np.random.Generator, num_points: int, material: mpm.materials.Material
    ) -> None:
        self.rng = rng
        self.num_points = num_points
        self.material = material
        self.subset: np.ndarray | None = None
        self.vertices: list[np.ndarray] = []
        self.points: list[np.ndarray] = []
        self.velocities: list[np.ndarray] = []
        self.energies: dict[str, list[float]] = {"kinetic": [], "gravity": [], "elastic": []}
        self.faces: np.ndarray | None = None
        self.point_mass: np.ndarray | None = None

    def add_state(self, state: Any) -> None:
        """Energies of the full particle state at a frame (and, once, the subset)."""
        m = state.mass.astype(np.float64)
        if self.subset is None:
            n = len(state.x)
            self.subset = np.sort(self.rng.choice(n, size=min(self.num_points, n), replace=False))
            self.point_mass = np.full(len(self.subset), m.sum() / len(self.subset), np.float32)
        v = state.v.astype(np.float64)
        self.energies["kinetic"].append(float(0.5 * np.sum(m[:, None] * v * v)))
        self.energies["gravity"].append(float(GRAVITY * np.sum(m * state.x[:, 2])))
        self.energies["elastic"].append(_elastic_energy(state, self.material))

    def add_frame(self, segment: mpm.Trajectory, frame: int) -> None:
        """Surface vertices and the particle subset of one recorded frame."""
        assert self.subset is not None
        surface = segment.tracks["object_surface"]
        self.faces = surface.faces
        velocities = segment.tracks["object"].velocities
        assert velocities is not None
        self.vertices.append(surface.positions[frame])
        self.points.append(segment.tracks["object"].positions[frame][self.subset])
        self.velocities.append(velocities[frame][self.subset])

    def finish(self, spec: SequenceSpec, fps: float, dx: float, wall: float) -> Sequence:
        assert self.faces is not None and self.point_mass is not None
        vertices = np.stack(self.vertices).astype(np.float32)
        points = np.stack(self.points).astype(np.float32)
        return Sequence(
            rest_vertices=vertices[0], faces=self.faces.astype(np.int32), vertices=vertices,
            rest_points=points[0], points=points,
            velocities=np.stack(self.velocities).astype(np.float32),
            point_mass=self.point_mass,
            energies={k: np.asarray(v, np.float64) for k, v in self.energies.items()},
            spec=spec, fps=fps, dx=dx, wall_time=wall,
        )  # fmt: skip


def _elastic_energy(state: Any, material: mpm.materials.Material) -> float:
    """Stored elastic energy [J]: neo-Hookean density of each particle's (elastic) F times
    its rest volume."""
    E, nu = float(material.E), float(material.nu)  # type: ignore[attr-defined]
    mu, lam = E / (2 * (1 + nu)), E * nu / ((1 + nu) * (1 - 2 * nu))
    F = state.F.astype(np.float64)
    J = np.clip(np.linalg.det(F), 1e-6, None)
    log_j = np.log(J)
    psi = 0.5 * mu * (np.sum(F * F, axis=(1, 2)) - 3) - mu * log_j + 0.5 * lam * log_j**2
    return float(np.sum(psi * state.volume.astype(np.float64)))


@dataclass(frozen=True)
class DatasetIndex:
    """A dataset directory's index: parameters, the split (sequence indices) and specs."""

    root: Path
    seed: int
    specs: list[SequenceSpec]
    train: list[int]
    heldout: list[int]
    fps: float
    duration: float

    def path(self, index: int) -> Path:
        return self.root / f"seq_{index:04d}.npz"

    def load(self, index: int) -> Sequence:
        return Sequence.load(self.path(index))

    def sequences(self, split: str = "train") -> Iterator[Sequence]:
        """Load every sequence of ``split`` ("train", "heldout" or "all")."""
        chosen = {"train": self.train, "heldout": self.heldout}.get(split)
        if chosen is None and split != "all":
            raise DatasetError(f"split must be 'train', 'heldout' or 'all', got {split!r}.")
        for index in chosen if chosen is not None else range(len(self.specs)):
            yield self.load(index)


def split_by_shape(
    specs: list[SequenceSpec], heldout_fraction: float, seed: int
) -> tuple[list[int], list[int]]:
    """(train, held-out) sequence indices; whole shape instances go to one side."""
    shapes = sorted({s.shape.shape_id for s in specs})
    rng = np.random.default_rng(seed + 1)
    count = max(1, round(heldout_fraction * len(shapes))) if len(shapes) > 1 else 0
    held = set(rng.choice(shapes, size=count, replace=False).tolist()) if count else set()
    train = [s.index for s in specs if s.shape.shape_id not in held]
    heldout = [s.index for s in specs if s.shape.shape_id in held]
    return train, heldout


def generate_dataset(
    out_dir: str | Path,
    num_sequences: int,
    seed: int = 0,
    duration: float = 1.0,
    fps: float = 30.0,
    heldout_fraction: float = 0.2,
    cells_per_size: float = 16.0,
    progress: bool = True,
) -> DatasetIndex:
    """Simulate ``num_sequences`` sequences into ``out_dir`` (grid spacing: the object's
    largest side / ``cells_per_size``); existing complete sequences with the same spec and
    resolution, frame rate and length are kept (generation resumes). Writes ``index.json``
    last.

    Raises:
        DatasetError: a non-positive duration or fps, a held-out fraction outside [0, 1),
            fewer than 2 cells per object size, or fewer than 1 sequence.
    """
    checks = (("duration", duration, duration > 0, "> 0 [s]"), ("fps", fps, fps > 0, "> 0"),
              ("heldout_fraction", heldout_fraction, 0 <= heldout_fraction < 1, "in [0, 1)"),
              ("cells_per_size", cells_per_size, cells_per_size >= 2,
               ">= 2 (16 is the default)"))  # fmt: skip
    for name, value, ok, allowed in checks:
        if not (ok and np.isfinite(value)):
            raise DatasetError(f"dataset {name} must be {allowed}, got {value}.")
    frames = round(duration * fps) + 1  # simulate_sequence records frame 0 and each frame
    root = Path(out_dir)
    root.mkdir(parents=True, exist_ok=True)
    specs = sample_specs(num_sequences, seed)
    train, heldout = split_by_shape(specs, heldout_fraction, seed)
    bar = tqdm(specs, desc="neurok data", unit="seq", disable=not progress)
    for spec in bar:
        path = root / f"seq_{spec.index:04d}.npz"
        if path.is_file() and _same_spec(path, spec, cells_per_size, fps, frames):
            continue
        sequence = simulate_sequence(
            spec, duration=duration, fps=fps, cells_per_size=cells_per_size
        )
        sequence.save(path)
        bar.set_postfix(shape=spec.shape.family, cond=spec.condition["kind"])
    index = {
        "version": FORMAT_VERSION, "seed": seed, "num_sequences": num_sequences,
        "duration": duration, "fps": fps, "heldout_fraction": heldout_fraction,
        "cells_per_size": cells_per_size,
        "train": train, "heldout": heldout, "specs": [s.to_json() for s in specs],
    }  # fmt: skip
    with atomic_path(root / "index.json") as tmp:
        tmp.write_text(json.dumps(index, indent=1) + "\n")
    return load_index(root)


def _same_spec(
    path: Path, spec: SequenceSpec, cells_per_size: float, fps: float, frames: int
) -> bool:
    """Whether the sequence file at ``path`` was made with this spec, resolution, frame rate
    and number of frames (read from the vertex array's header, not the array)."""
    try:
        with np.load(path) as data:
            meta = json.loads(str(data["meta"]))
        with zipfile.ZipFile(path) as archive, archive.open("vertices.npy") as header:
            version = np.lib.format.read_magic(header)
            read = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                    else np.lib.format.read_array_header_2_0)  # fmt: skip
            shape = read(header)[0]
    except (OSError, KeyError, ValueError, zipfile.BadZipFile):
        return False
    same_spec = meta["spec"] == json.loads(json.dumps(spec.to_json()))
    return (same_spec and meta.get("cells_per_size") == cells_per_size
            and meta.get("fps") == fps and shape[0] == frames)  # fmt: skip


def load_index(root: str | Path) -> DatasetIndex:
    """Read a dataset directory's ``index.json``.

    Raises:
        DatasetError: no index (generate with ``emu4d neurok data -o DIR``) or a bad version.
    """
    root = Path(root)
    path = root / "index.json"
    if not path.is_file():
        raise DatasetError(
            f"{root} has no index.json; generate a dataset with `emu4d neurok data -o {root}`."
        )
    data = json.loads(path.read_text())
    if data.get("version") != FORMAT_VERSION:
        raise DatasetError(
            f"{path} is dataset format {data.get('version')}, this emu4d reads "
            f"{FORMAT_VERSION}; regenerate it."
        )
    return DatasetIndex(
        root=root, seed=int(data["seed"]),
        specs=[SequenceSpec.from_json(s) for s in data["specs"]],
        train=list(data["train"]), heldout=list(data["heldout"]),
        fps=float(data["fps"]), duration=float(data["duration"]),
    )  # fmt: skip
