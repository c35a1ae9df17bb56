"""Object shapes that the simulator fills with material points.

A :class:`Shape` is a small frozen, validated description of a solid in the world frame (SI
metres, Z up). :meth:`Shape.sample` turns it into particles on a jittered lattice (positions and
rest volumes) and carries the closed surface mesh along, so the simulator can advect the surface
with the particles and export every object as a fixed-topology mesh sequence.

Conventions shared by every shape:

- ``center`` is the world position [m] of the shape's centre.
- ``rotation`` is XYZ Euler angles in degrees, applied as ``R = Rz @ Ry @ Rx`` to the local
  frame, so that ``p_world = R @ p_local + center``.
- Inputs are copied (arrays become tuples or read-only copies); nothing the caller passed is ever
  modified, and sampling is a pure function of the shape, the spacing and the ``rng`` state.
"""

from __future__ import annotations

import logging
import math
import os
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import trimesh

from mpm.errors import ShapeError
from mpm.meshio import Y_UP_TO_Z_UP, RayWinding, load_solid, resolve_mesh_path
from mpm.rotation import euler_to_matrix

__all__ = [
    "MESH_FORMATS",
    "Box",
    "Cylinder",
    "MeshShape",
    "PointSet",
    "SampledShape",
    "Shape",
    "Sphere",
    "Torus",
]

logger = logging.getLogger("emu4d.mpm")

Vec3 = tuple[float, float, float]

MESH_FORMATS: tuple[str, ...] = ("obj", "ply", "stl", "off", "glb", "gltf")
"""Mesh file formats :class:`MeshShape` is meant for (any other format trimesh reads also works)."""

_MAX_LATTICE_POINTS = 200_000_000  # candidate points; beyond this the spacing is surely a typo
_CHUNK_POINTS = 1 << 20  # candidate points tested per batch, bounds the memory of sample()
# glTF is Y up; Z-up world = rotation of +90 degrees about X: (x, y, z) -> (x, -z, y).


# --------------------------------------------------------------------------------------------
# Validation helpers: every message names the parameter, the bad value and the fix.
# --------------------------------------------------------------------------------------------


def _vector(
    owner: str, name: str, value: object, *, positive: bool, unit: str, example: str
) -> Vec3:
    """Validate 3 finite numbers (each > 0 if ``positive``) and return them as a float tuple."""
    need = "3 finite numbers > 0" if positive else "3 finite numbers"
    try:
        arr = np.array(value, dtype=np.float64)  # always a copy
    except (TypeError, ValueError):
        arr = None
    valid = arr is not None and arr.shape == (3,) and bool(np.isfinite(arr).all())
    if not valid or (positive and (arr <= 0).any()):
        raise ShapeError(
            f"{owner}.{name} must be {need} [{unit}], got {value!r}. Fix: pass e.g. {example}."
        )
    return (float(arr[0]), float(arr[1]), float(arr[2]))


def _positive(owner: str, name: str, value: object, *, unit: str, example: str) -> float:
    """Validate one finite number > 0 and return it as a float."""
    try:
        number = float(value) if np.ndim(value) == 0 else math.nan  # type: ignore[arg-type]
    except (TypeError, ValueError):
        number = math.nan
    if isinstance(value, bool) or not math.isfinite(number) or number <= 0:
        raise ShapeError(
            f"{owner}.{name} must be a finite number > 0 [{unit}], got {value!r}. "
            f"Fix: pass e.g. {example}."
        )
    return number


def _center(owner: str, value: object) -> Vec3:
    ex = "center=(0.5, 0.5, 0.3)"
    return _vector(owner, "center", value, positive=False, unit="m", example=ex)


def _rotation(owner: str, value: object) -> Vec3:
    ex = "rotation=(90, 0, 0)"
    return _vector(owner, "rotation", value, positive=False, unit="deg", example=ex)


def _length(owner: str, name: str, value: object) -> float:
    return _positive(owner, name, value, unit="m", example=f"{name}=0.1")


def _set(obj: object, **values: object) -> None:
    """Store validated (converted) values on a frozen dataclass."""
    for name, value in values.items():
        object.__setattr__(obj, name, value)


def _check_sampling(spacing: object, rng: object, jitter: object) -> tuple[float, float]:
    """Validate the arguments of :meth:`Shape.sample`; return (spacing, jitter) as floats."""
    try:
        h = float(spacing) if np.ndim(spacing) == 0 else math.nan  # type: ignore[arg-type]
    except (TypeError, ValueError):
        h = math.nan
    if not math.isfinite(h) or h <= 0:
        raise ShapeError(
            f"spacing must be a finite number > 0 [m], got {spacing!r}. Fix: pass the lattice "
            "spacing, normally dx / particles_per_cell**(1/3) (e.g. 0.01 for dx=0.02, ppc=8)."
        )
    try:
        j = float(jitter) if np.ndim(jitter) == 0 else math.nan  # type: ignore[arg-type]
    except (TypeError, ValueError):
        j = math.nan
    if not 0.0 <= j < 0.5:
        raise ShapeError(
            f"jitter must be in [0, 0.5) (fraction of the spacing), got {jitter!r}. "
            "Fix: use 0.25 (default) or 0.0 for a regular lattice."
        )
    if not isinstance(rng, np.random.Generator):
        raise ShapeError(
            f"rng must be a numpy.random.Generator, got {type(rng).__name__}. "
            "Fix: pass np.random.default_rng(seed)."
        )
    return h, j


def _to_world(vertices: np.ndarray, rotation: Vec3, center: Vec3) -> np.ndarray:
    """Local (V, 3) -> world (V, 3): p_world = R @ p_local + center."""
    return vertices @ euler_to_matrix(rotation).T + np.asarray(center)


def _to_local(points: np.ndarray, rotation: Vec3, center: Vec3) -> np.ndarray:
    """World (N, 3) -> local (N, 3): p_local = R^T (p_world - center)."""
    return (points - np.asarray(center)) @ euler_to_matrix(rotation)


# --------------------------------------------------------------------------------------------
# Sampled result and the abstract shape.
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SampledShape:
    """Particles of one object, ready for the simulator.

    Attributes:
        positions: particle positions [m], shape (N, 3) float32.
        volumes: per-particle rest volume [m^3], shape (N,) float32.
        surface_vertices: the object's closed surface mesh in the world frame [m], (V, 3)
            float32, or None (point sets).
        surface_faces: triangles of that mesh, (F, 3) int64, outward winding, or None.
    """

    positions: np.ndarray
    volumes: np.ndarray
    surface_vertices: np.ndarray | None = None
    surface_faces: np.ndarray | None = None

    def __post_init__(self) -> None:
        n = len(self.positions)
        if self.positions.shape != (n, 3) or self.volumes.shape != (n,):
            raise ShapeError(
                f"SampledShape needs positions (N, 3) and volumes (N,), got "
                f"{self.positions.shape} and {self.volumes.shape}."
            )
        if (self.surface_vertices is None) != (self.surface_faces is None):
            raise ShapeError(
                "SampledShape needs both surface_vertices and surface_faces, or neither."
            )

    @property
    def num_particles(self) -> int:
        """Number of particles N."""
        return len(self.positions)

    @property
    def total_volume(self) -> float:
        """Sum of the particle rest volumes [m^3]."""
        return float(self.volumes.sum(dtype=np.float64))


class Shape(ABC):
    """A solid in the world frame that can be filled with particles."""

    @abstractmethod
    def bounds(self) -> tuple[np.ndarray, np.ndarray]:
        """Axis-aligned bounding box (min, max) in the world frame [m], each (3,) float64."""

    @abstractmethod
    def surface_mesh(self) -> trimesh.Trimesh | None:
        """Closed, outward-wound surface in the world frame [m] (a new object on each call)."""

    @abstractmethod
    def contains(self, points: np.ndarray) -> np.ndarray:
        """Whether each world point (N, 3) [m] lies inside the solid, (N,) bool."""

    def sample(
        self, spacing: float, rng: np.random.Generator, jitter: float = 0.25
    ) -> SampledShape:
        """Fill the shape with particles on a jittered lattice.

        The lattice points are the cell centres ``(k + 1/2) * spacing`` of a grid anchored at the
        world origin (so with spacing = dx / n they sit at the same place in every MPM cell of a
        grid whose nodes are multiples of dx). Each point moves by an independent uniform offset
        in ``[-jitter, +jitter] * spacing`` per axis (breaks the aliasing of a perfect lattice)
        and is kept if it is inside the shape; each particle gets the volume ``spacing**3``.

        Args:
            spacing: lattice spacing [m], normally ``dx / particles_per_cell**(1/3)``.
            rng: random generator; the result is a deterministic function of its state.
            jitter: maximum displacement per axis as a fraction of the spacing, in [0, 0.5).

        Raises:
            ShapeError: bad arguments, or no lattice point falls inside the shape (the object
                is smaller than the spacing).
        """
        h, j = _check_sampling(spacing, rng, jitter)
        lo, hi = self.bounds()
        reach = j * h
        k_lo = np.floor((lo - reach) / h - 0.5).astype(np.int64)
        k_hi = np.ceil((hi + reach) / h - 0.5).astype(np.int64)
        counts = [int(c) for c in k_hi - k_lo + 1]
        total = math.prod(counts)
        if total > _MAX_LATTICE_POINTS:
            raise ShapeError(
                f"{self._label()} would need {total:.3g} candidate lattice points at "
                f"spacing={h:g} m (limit {_MAX_LATTICE_POINTS:.0e}). Fix: increase the spacing "
                "(a larger dx or fewer particles per cell) or check the object's size and units."
            )
        axes = [(np.arange(c) + k + 0.5) * h for c, k in zip(counts, k_lo.tolist(), strict=True)]
        slab = max(1, _CHUNK_POINTS // (counts[0] * counts[1]))
        kept = []
        for z0 in range(0, counts[2], slab):
            grid = np.meshgrid(axes[0], axes[1], axes[2][z0 : z0 + slab], indexing="ij")
            points = np.stack(grid, -1).reshape(-1, 3)
            if j > 0:
                points += rng.uniform(-reach, reach, size=points.shape)
            kept.append(points[self.contains(points)])
        positions = np.concatenate(kept).astype(np.float32)
        if len(positions) == 0:
            extent = ", ".join(f"{e:.3g}" for e in hi - lo)
            raise ShapeError(
                f"{self._label()} yields no particles at spacing={h:g} m: the object (extent "
                f"{extent} m) is smaller than the particle spacing. Fix: use a smaller dx or "
                "more particles per cell, or make the object larger."
            )
        volumes = np.full(len(positions), h**3, dtype=np.float32)
        mesh = self.surface_mesh()
        logger.debug("%s: %d particles at spacing %g m", self._label(), len(positions), h)
        return SampledShape(
            positions=positions,
            volumes=volumes,
            surface_vertices=None if mesh is None else np.asarray(mesh.vertices, np.float32),
            surface_faces=None if mesh is None else np.asarray(mesh.faces, np.int64),
        )

    def _label(self) -> str:
        """Short description for error messages."""
        return type(self).__name__


# --------------------------------------------------------------------------------------------
# Primitives.
# --------------------------------------------------------------------------------------------


def _box_surface(size: np.ndarray) -> trimesh.Trimesh:
    """Closed box of edge lengths ``size`` (3,) centred at the origin, no edge > max(size)/8.

    Each face is a regular grid of quads (two triangles each), so triangles stay well shaped for
    surface tracking; neighbouring faces use identical edge coordinates and are welded.
    """
    n = np.maximum(1, np.ceil(size / (size.max() / 8.0) - 1e-9)).astype(int)
    half = size / 2.0
    vertices, faces, offset = [], [], 0
    for axis in range(3):
        u, v = (axis + 1) % 3, (axis + 2) % 3  # e_u x e_v = e_axis
        a = np.linspace(-half[u], half[u], n[u] + 1)
        b = np.linspace(-half[v], half[v], n[v] + 1)
        A, B = np.meshgrid(a, b, indexing="ij")
        idx = np.arange(A.size).reshape(A.shape)
        q00, q10, q11, q01 = idx[:-1, :-1], idx[1:, :-1], idx[1:, 1:], idx[:-1, 1:]
        quads = np.stack([q00, q10, q11, q00, q11, q01], -1).reshape(-1, 3)  # normal +axis
        for sign in (-1.0, 1.0):
            p = np.zeros((A.size, 3))
            p[:, axis], p[:, u], p[:, v] = sign * half[axis], A.ravel(), B.ravel()
            vertices.append(p)
            faces.append((quads if sign > 0 else quads[:, ::-1]) + offset)
            offset += A.size
    return trimesh.Trimesh(np.concatenate(vertices), np.concatenate(faces), process=True)


def _cylinder_surface(radius: float, height: float, sections: int = 32) -> trimesh.Trimesh:
    """Closed cylinder along local z, centred at the origin, with ring-subdivided caps and
    side rings about as far apart as the circumferential edges (well-shaped triangles)."""
    edge = 2.0 * math.pi * radius / sections
    n_side = max(1, math.ceil(height / edge))
    n_cap = max(1, round(radius / edge))
    r_cap = np.linspace(0.0, radius, n_cap + 1)
    z_side = np.linspace(-height / 2, height / 2, n_side + 1)
    profile = np.concatenate(
        [
            np.c_[r_cap, np.full(n_cap + 1, -height / 2)],
            np.c_[np.full(n_side - 1, radius), z_side[1:-1]],
            np.c_[r_cap[::-1], np.full(n_cap + 1, height / 2)],
        ]
    )
    mesh = trimesh.creation.revolve(profile, sections=sections)
    mesh.merge_vertices()
    return mesh


@dataclass(frozen=True)
class Box(Shape):
    """Rectangular box.

    Attributes:
        size: full edge lengths (sx, sy, sz) along the local axes [m].
        center: world position of the box centre [m].
        rotation: XYZ Euler angles [deg], R = Rz @ Ry @ Rx.
    """

    size: Vec3
    center: Vec3
    rotation: Vec3 = (0.0, 0.0, 0.0)

    def __post_init__(self) -> None:
        ex = "size=(0.2, 0.2, 0.2)"
        size = _vector("Box", "size", self.size, positive=True, unit="m", example=ex)
        _set(self, size=size, center=_center("Box", self.center))
        _set(self, rotation=_rotation("Box", self.rotation))

    def bounds(self) -> tuple[np.ndarray, np.ndarray]:
        half = np.abs(euler_to_matrix(self.rotation)) @ (np.asarray(self.size) / 2.0)
        c = np.asarray(self.center)
        return c - half, c + half

    def contains(self, points: np.ndarray) -> np.ndarray:
        local = _to_local(np.asarray(points, np.float64), self.rotation, self.center)
        return (np.abs(local) <= np.asarray(self.size) / 2.0).all(axis=1)

    def surface_mesh(self) -> trimesh.Trimesh:
        mesh = _box_surface(np.asarray(self.size))
        mesh.vertices = _to_world(mesh.vertices, self.rotation, self.center)
        return mesh


@dataclass(frozen=True)
class Sphere(Shape):
    """Solid ball.

    Attributes:
        radius: radius [m].
        center: world position of the centre [m].
    """

    radius: float
    center: Vec3

    def __post_init__(self) -> None:
        _set(self, radius=_length("Sphere", "radius", self.radius))
        _set(self, center=_center("Sphere", self.center))

    def bounds(self) -> tuple[np.ndarray, np.ndarray]:
        c = np.asarray(self.center)
        return c - self.radius, c + self.radius

    def contains(self, points: np.ndarray) -> np.ndarray:
        d = np.asarray(points, np.float64) - np.asarray(self.center)
        return np.einsum("ij,ij->i", d, d) <= self.radius**2

    def surface_mesh(self) -> trimesh.Trimesh:
        mesh = trimesh.creation.icosphere(subdivisions=3, radius=self.radius)
        mesh.vertices = mesh.vertices + np.asarray(self.center)
        return mesh


@dataclass(frozen=True)
class Cylinder(Shape):
    """Solid circular cylinder with its axis along the local z axis.

    Attributes:
        radius: radius [m].
        height: length along the axis [m].
        center: world position of the centre (mid-height on the axis) [m].
        rotation: XYZ Euler angles [deg], R = Rz @ Ry @ Rx.
    """

    radius: float
    height: float
    center: Vec3
    rotation: Vec3 = (0.0, 0.0, 0.0)

    def __post_init__(self) -> None:
        _set(self, radius=_length("Cylinder", "radius", self.radius))
        _set(self, height=_length("Cylinder", "height", self.height))
        _set(self, center=_center("Cylinder", self.center))
        _set(self, rotation=_rotation("Cylinder", self.rotation))

    def bounds(self) -> tuple[np.ndarray, np.ndarray]:
        axis = euler_to_matrix(self.rotation)[:, 2]
        # A disc of radius r with unit normal a reaches r * sqrt(1 - a_i^2) along world axis i.
        half = 0.5 * self.height * np.abs(axis) + self.radius * np.sqrt(np.clip(1 - axis**2, 0, 1))
        c = np.asarray(self.center)
        return c - half, c + half

    def contains(self, points: np.ndarray) -> np.ndarray:
        local = _to_local(np.asarray(points, np.float64), self.rotation, self.center)
        radial = local[:, 0] ** 2 + local[:, 1] ** 2 <= self.radius**2
        return radial & (np.abs(local[:, 2]) <= 0.5 * self.height)

    def surface_mesh(self) -> trimesh.Trimesh:
        mesh = _cylinder_surface(self.radius, self.height)
        mesh.vertices = _to_world(mesh.vertices, self.rotation, self.center)
        return mesh


@dataclass(frozen=True)
class Torus(Shape):
    """Solid ring torus: a tube of radius ``minor_radius`` around a circle of radius
    ``major_radius`` in the local xy plane.

    Attributes:
        major_radius: distance from the centre to the tube's centre line [m].
        minor_radius: tube radius [m], smaller than ``major_radius``.
        center: world position of the centre [m].
        rotation: XYZ Euler angles [deg], R = Rz @ Ry @ Rx.
    """

    major_radius: float
    minor_radius: float
    center: Vec3
    rotation: Vec3 = (0.0, 0.0, 0.0)

    def __post_init__(self) -> None:
        major = _length("Torus", "major_radius", self.major_radius)
        minor = _length("Torus", "minor_radius", self.minor_radius)
        if minor >= major:
            raise ShapeError(
                f"Torus.minor_radius ({minor:g} m) must be smaller than major_radius ({major:g} m);"
                " otherwise the tube intersects itself. Fix: reduce minor_radius or increase "
                "major_radius (e.g. major_radius=0.2, minor_radius=0.05)."
            )
        _set(self, major_radius=major, minor_radius=minor)
        _set(self, center=_center("Torus", self.center))
        _set(self, rotation=_rotation("Torus", self.rotation))

    def bounds(self) -> tuple[np.ndarray, np.ndarray]:
        normal = euler_to_matrix(self.rotation)[:, 2]
        # Centre circle reaches R * sqrt(1 - n_i^2) along world axis i; the tube adds r.
        half = self.major_radius * np.sqrt(np.clip(1 - normal**2, 0, 1)) + self.minor_radius
        c = np.asarray(self.center)
        return c - half, c + half

    def contains(self, points: np.ndarray) -> np.ndarray:
        local = _to_local(np.asarray(points, np.float64), self.rotation, self.center)
        ring = np.hypot(local[:, 0], local[:, 1]) - self.major_radius
        return ring**2 + local[:, 2] ** 2 <= self.minor_radius**2

    def surface_mesh(self) -> trimesh.Trimesh:
        mesh = trimesh.creation.torus(
            self.major_radius, self.minor_radius, major_sections=48, minor_sections=24
        )
        mesh.vertices = _to_world(mesh.vertices, self.rotation, self.center)
        return mesh


@dataclass(frozen=True)
class MeshShape(Shape):
    """Solid bounded by a closed triangle mesh read from a file (OBJ, PLY, STL, OFF, GLB, ...).

    The file's vertices are (1) converted to Z up if the file is Y up, (2) scaled by ``scale``
    and rotated by ``rotation`` about the file's origin, then (3) translated so the bounding-box
    centre is at ``center`` (if ``center`` is None, the position from step 2 is kept).

    Attributes:
        path: mesh file; relative paths are looked up in the cwd, then in the repository root.
            Stored as the resolved absolute path.
        scale: uniform factor, or per-axis (sx, sy, sz), from file units to metres.
        center: world position of the bounding-box centre [m], or None.
        rotation: XYZ Euler angles [deg], R = Rz @ Ry @ Rx.
        up_axis: "z", "y", or "auto" (glTF/GLB files are Y up by specification, others Z up).
    """

    path: Path
    scale: float | Vec3 = 1.0
    center: Vec3 | None = None
    rotation: Vec3 = (0.0, 0.0, 0.0)
    up_axis: str = "auto"
    _mesh: trimesh.Trimesh = field(init=False, repr=False, compare=False)
    _inside: RayWinding = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not isinstance(self.path, (str, os.PathLike)):
            raise ShapeError(
                f"MeshShape.path must be a str or pathlib.Path, got {type(self.path).__name__}. "
                "Fix: pass e.g. path='assets/meshes/bunny.obj'."
            )
        ex = "scale=0.01 (centimetres to metres) or scale=(1, 1, 2)"
        scale: float | Vec3 = (
            _positive("MeshShape", "scale", self.scale, unit="-", example=ex)
            if np.ndim(self.scale) == 0
            else _vector("MeshShape", "scale", self.scale, positive=True, unit="-", example=ex)
        )
        center = None if self.center is None else _center("MeshShape", self.center)
        rotation = _rotation("MeshShape", self.rotation)
        if self.up_axis not in ("auto", "y", "z"):
            raise ShapeError(
                f"MeshShape.up_axis must be 'auto', 'y' or 'z', got {self.up_axis!r}. "
                "Fix: use 'y' for Y-up files (glTF, most DCC exports), 'z' for Z-up ones."
            )
        path = resolve_mesh_path(self.path)
        mesh = load_solid(path)
        up = self.up_axis
        if up == "auto":
            up = "y" if path.suffix.lower() in (".glb", ".gltf") else "z"
        vertices = np.asarray(mesh.vertices, np.float64)
        if up == "y":
            vertices = vertices @ Y_UP_TO_Z_UP.T
        vertices = (vertices * np.asarray(scale)) @ euler_to_matrix(rotation).T
        if center is not None:
            mid = 0.5 * (vertices.min(0) + vertices.max(0))
            vertices = vertices + (np.asarray(center) - mid)
        world = trimesh.Trimesh(vertices, np.asarray(mesh.faces, np.int64), process=False)
        _set(self, path=path, scale=scale, center=center, rotation=rotation, _mesh=world)
        _set(self, _inside=RayWinding(world.vertices, world.faces))

    def bounds(self) -> tuple[np.ndarray, np.ndarray]:
        lo, hi = np.array(self._mesh.bounds, dtype=np.float64)
        return lo, hi

    def contains(self, points: np.ndarray) -> np.ndarray:
        points = np.asarray(points, np.float64)
        lo, hi = self.bounds()
        inside = ((points >= lo) & (points <= hi)).all(axis=1)  # cheap box test first
        inside[inside] = self._inside(points[inside])
        return inside

    def surface_mesh(self) -> trimesh.Trimesh:
        return self._mesh.copy()

    def _label(self) -> str:
        return f"MeshShape({self.path.name!r})"


# --------------------------------------------------------------------------------------------
# Point sets.
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class PointSet(Shape):
    """Given particle positions, e.g. the centres of a 3D Gaussian splat.

    Sampling returns the points unchanged (no lattice, no jitter, the rng is not used) and no
    surface mesh. Per-point volumes come from ``volumes``, else ``particle_volume`` for every
    point, else ``spacing**3`` at sample time.

    Attributes:
        points: positions [m], (N, 3); stored as a read-only float32 copy.
        volumes: per-point rest volume [m^3], (N,), or None; stored as a read-only float32 copy.
        particle_volume: one rest volume for every point [m^3], or None.
    """

    points: np.ndarray
    volumes: np.ndarray | None = None
    particle_volume: float | None = None

    def __post_init__(self) -> None:
        try:
            pts = np.array(self.points, dtype=np.float32)  # always a copy
        except (TypeError, ValueError):
            pts = np.zeros((0, 0), np.float32)
        if pts.ndim != 2 or pts.shape[1] != 3 or len(pts) == 0 or not np.isfinite(pts).all():
            raise ShapeError(
                f"PointSet.points must be a non-empty (N, 3) array of finite positions [m], got "
                f"shape {np.shape(self.points)}. Fix: pass e.g. points=np.random.rand(1000, 3)."
            )
        pts.flags.writeable = False
        _set(self, points=pts)
        if self.volumes is not None and self.particle_volume is not None:
            raise ShapeError(
                "PointSet got both volumes and particle_volume. Fix: pass per-point volumes or "
                "one particle_volume, not both."
            )
        if self.volumes is not None:
            try:
                vol = np.array(self.volumes, dtype=np.float32)
            except (TypeError, ValueError):
                vol = np.zeros(0, np.float32)
            if vol.shape != (len(pts),) or not np.isfinite(vol).all() or (vol <= 0).any():
                raise ShapeError(
                    f"PointSet.volumes must be {len(pts)} finite numbers > 0 [m^3] (one per "
                    f"point), got shape {np.shape(self.volumes)}. Fix: pass volumes of shape "
                    f"({len(pts)},) with positive entries, or a single particle_volume."
                )
            vol.flags.writeable = False
            _set(self, volumes=vol)
        if self.particle_volume is not None:
            pv = self.particle_volume
            ex = "particle_volume=1e-6"
            _set(self, particle_volume=_positive("PointSet", "particle_volume", pv, unit="m^3",
                                                 example=ex))

    def bounds(self) -> tuple[np.ndarray, np.ndarray]:
        pts = self.points.astype(np.float64)
        return pts.min(0), pts.max(0)

    def contains(self, points: np.ndarray) -> np.ndarray:
        raise ShapeError("a PointSet has no interior; it cannot classify points as inside.")

    def surface_mesh(self) -> None:
        return None

    def sample(
        self, spacing: float, rng: np.random.Generator, jitter: float = 0.25
    ) -> SampledShape:
        """Return the points as particles (copies); ``rng`` and ``jitter`` are not used.

        ``spacing`` [m] only sets the default particle volume ``spacing**3``.
        """
        h, _ = _check_sampling(spacing, rng, jitter)
        if self.volumes is not None:
            volumes = self.volumes.copy()
        else:
            v = self.particle_volume if self.particle_volume is not None else h**3
            volumes = np.full(len(self.points), v, dtype=np.float32)
        return SampledShape(positions=self.points.copy(), volumes=volumes)
