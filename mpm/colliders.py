"""Boundaries and kinematic colliders: ground, half-spaces, spheres, boxes, capsules, meshes.

Colliders are scripted, not simulated: their pose follows a constant velocity or keyframes,
and the grid takes their surface velocity (moving colliders push material). Each exposes
``state_at(t)`` returning what the kernels need at time t.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from kernels import ColliderSpec, MeshColliderSpec
from mpm.config import as_vec3, build_dataclass, require_positive
from mpm.errors import ConfigError
from mpm.rotation import (
    axis_angle_quat,
    euler_to_matrix,
    matrix_to_quat,
    quat_multiply,
    relative_rotation_vector,
    slerp,
)

MODES = ("sticky", "slip", "separate")

__all__ = [
    "MODES",
    "Box",
    "Capsule",
    "Collider",
    "Ground",
    "HalfSpace",
    "Keyframe",
    "MeshCollider",
    "Sphere",
]


def _check_contact(mode: str, friction: float, owner: str) -> None:
    if mode not in MODES:
        raise ConfigError(f"{owner}: mode must be one of {MODES}, got {mode!r}.")
    if not math.isfinite(friction) or friction < 0:
        raise ConfigError(f"{owner}: friction must be >= 0 (Coulomb coefficient), got {friction}.")


@dataclass(frozen=True)
class Keyframe:
    """Collider pose at a time: position [m] and XYZ Euler rotation [degrees]."""

    time: float
    position: tuple[float, float, float]
    rotation: tuple[float, float, float] = (0.0, 0.0, 0.0)


@dataclass(frozen=True)
class _Pose:
    position: np.ndarray
    quat: np.ndarray
    velocity: np.ndarray
    angular_velocity: np.ndarray


@dataclass(frozen=True)
class Collider:
    """Base of analytic colliders.

    Attributes:
        center: initial position [m]. rotation: initial XYZ Euler angles [degrees].
        velocity: constant linear velocity [m/s]. angular_velocity: [rad/s] about the centre.
        keyframes: optional pose keyframes; when given they override center/velocity and the
            pose is interpolated (linear / slerp), held constant outside the keyed times.
        mode: "sticky", "slip" or "separate". friction: Coulomb coefficient [-].
    """

    center: tuple[float, float, float] = (0.0, 0.0, 0.0)
    rotation: tuple[float, float, float] = (0.0, 0.0, 0.0)
    velocity: tuple[float, float, float] = (0.0, 0.0, 0.0)
    angular_velocity: tuple[float, float, float] = (0.0, 0.0, 0.0)
    keyframes: tuple[Keyframe, ...] = ()
    mode: str = "sticky"
    friction: float = 0.0

    kind = "half_space"

    def __post_init__(self) -> None:
        name = type(self).__name__
        for attr in ("center", "rotation", "velocity", "angular_velocity"):
            object.__setattr__(self, attr, as_vec3(f"{name}.{attr}", getattr(self, attr)))
        frames = tuple(
            k if isinstance(k, Keyframe) else build_dataclass(Keyframe, k, f"{name}.keyframes[{i}]")
            for i, k in enumerate(self.keyframes)
        )
        times = [k.time for k in frames]
        if any(b <= a for a, b in itertools.pairwise(times)):
            raise ConfigError(f"{name}.keyframes: times must increase strictly, got {times}.")
        object.__setattr__(self, "keyframes", frames)
        _check_contact(self.mode, self.friction, name)

    def size(self) -> tuple[float, float, float]:
        """Shape parameters passed to the kernels (see kernels.interface.ColliderSpec)."""
        return (0.0, 0.0, 0.0)

    @property
    def is_static(self) -> bool:
        """True when the collider never moves (its kernel description is constant)."""
        return not self.keyframes and not any(self.velocity) and not any(self.angular_velocity)

    def pose_at(self, t: float) -> _Pose:
        """Position, orientation and velocities at time t [s]."""
        if not self.keyframes:
            q0 = matrix_to_quat(euler_to_matrix(self.rotation))
            w = np.asarray(self.angular_velocity)
            return _Pose(
                position=np.asarray(self.center) + t * np.asarray(self.velocity),
                quat=quat_multiply(axis_angle_quat(w * t), q0),
                velocity=np.asarray(self.velocity, dtype=np.float64),
                angular_velocity=w,
            )
        frames = self.keyframes
        quats = [matrix_to_quat(euler_to_matrix(k.rotation)) for k in frames]
        if t < frames[0].time or len(frames) == 1:
            return _Pose(np.asarray(frames[0].position), quats[0], np.zeros(3), np.zeros(3))
        if t >= frames[-1].time:
            return _Pose(np.asarray(frames[-1].position), quats[-1], np.zeros(3), np.zeros(3))
        i = int(np.searchsorted([k.time for k in frames], t, side="right")) - 1
        a, b = frames[i], frames[i + 1]
        span = b.time - a.time
        s = (t - a.time) / span
        pa, pb = np.asarray(a.position), np.asarray(b.position)
        return _Pose(
            position=pa + s * (pb - pa),
            quat=slerp(quats[i], quats[i + 1], s),
            velocity=(pb - pa) / span,
            angular_velocity=relative_rotation_vector(quats[i], quats[i + 1]) / span,
        )

    def state_at(self, t: float) -> ColliderSpec:
        """The kernel-side description of this collider at time t."""
        pose = self.pose_at(t)
        return ColliderSpec(
            kind=self.kind,
            mode=self.mode,
            friction=float(self.friction),
            position=tuple(pose.position.tolist()),
            rotation=tuple(pose.quat.tolist()),
            linear_velocity=tuple(pose.velocity.tolist()),
            angular_velocity=tuple(pose.angular_velocity.tolist()),
            size=self.size(),
        )

    def max_speed(self, extent: float) -> float:
        """Upper bound of the surface speed [m/s] within ``extent`` of the centre."""
        if self.keyframes:
            speeds = [0.0]
            for a, b in itertools.pairwise(self.keyframes):
                span = b.time - a.time
                lin = np.linalg.norm(np.subtract(b.position, a.position)) / span
                qa = matrix_to_quat(euler_to_matrix(a.rotation))
                qb = matrix_to_quat(euler_to_matrix(b.rotation))
                ang = np.linalg.norm(relative_rotation_vector(qa, qb)) / span
                speeds.append(lin + ang * extent)
            return float(max(speeds))
        return float(
            np.linalg.norm(self.velocity) + np.linalg.norm(self.angular_velocity) * extent
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready description."""
        return {"type": type(self).__name__, **dataclasses.asdict(self)}


@dataclass(frozen=True)
class HalfSpace(Collider):
    """Everything below the plane through ``center`` with normal local +z (rotate to tilt)."""

    kind = "half_space"


@dataclass(frozen=True)
class Sphere(Collider):
    """A ball of ``radius`` [m]."""

    radius: float = 0.1
    kind = "sphere"

    def __post_init__(self) -> None:
        super().__post_init__()
        require_positive("Sphere.radius", self.radius, "m")

    def size(self) -> tuple[float, float, float]:
        return (float(self.radius), 0.0, 0.0)


@dataclass(frozen=True)
class Box(Collider):
    """A box of full edge lengths ``size`` [m] (named ``extents`` to avoid the method)."""

    extents: tuple[float, float, float] = (0.1, 0.1, 0.1)
    kind = "box"

    def __post_init__(self) -> None:
        super().__post_init__()
        extents = as_vec3("Box.extents", self.extents)
        for e in extents:
            require_positive("Box.extents", e, "m")
        object.__setattr__(self, "extents", extents)

    def size(self) -> tuple[float, float, float]:
        return tuple(0.5 * e for e in self.extents)  # type: ignore[return-value]


@dataclass(frozen=True)
class Capsule(Collider):
    """A capsule: segment of ``length`` [m] along local z, inflated by ``radius`` [m]."""

    radius: float = 0.05
    length: float = 0.2
    kind = "capsule"

    def __post_init__(self) -> None:
        super().__post_init__()
        require_positive("Capsule.radius", self.radius, "m")
        require_positive("Capsule.length", self.length, "m")

    def size(self) -> tuple[float, float, float]:
        return (float(self.radius), 0.5 * float(self.length), 0.0)


def Ground(height: float = 0.0, friction: float = 0.5, mode: str = "slip") -> HalfSpace:  # noqa: N802
    """The ground plane z = ``height`` [m] with Coulomb ``friction``; material stays above it."""
    return HalfSpace(center=(0.0, 0.0, float(height)), friction=friction, mode=mode)


@dataclass(frozen=True)
class MeshCollider:
    """A kinematic triangle mesh whose vertices are given per frame (e.g. a human body).

    Attributes:
        vertices: (T, V, 3) or (V, 3) float32 [m], world frame.
        faces: (F, 3) int. The mesh should be closed so inside/outside is defined.
        fps: frame rate of ``vertices`` [1/s]; frame k is at time ``start_time + k / fps``.
        start_time: time of frame 0 [s]. Before it the mesh holds frame 0, after the last
            frame it holds the last one (zero velocity).
        mode, friction: contact model. thickness: contact offset outside the surface [m].
    """

    vertices: np.ndarray
    faces: np.ndarray
    fps: float = 30.0
    start_time: float = 0.0
    mode: str = "sticky"
    friction: float = 0.0
    thickness: float = 0.0
    _frames: np.ndarray = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        frames = np.array(self.vertices, dtype=np.float32)  # copy: never alias the caller
        if frames.ndim == 2:
            frames = frames[None]
        if frames.ndim != 3 or frames.shape[2] != 3 or frames.shape[1] < 3:
            raise ConfigError(
                f"MeshCollider.vertices must be (T, V, 3) or (V, 3), got {np.shape(self.vertices)}."
            )
        if not np.isfinite(frames).all():
            raise ConfigError("MeshCollider.vertices contain NaN or inf.")
        faces = np.array(self.faces, dtype=np.int64)
        if faces.ndim != 2 or faces.shape[1] != 3 or len(faces) == 0:
            raise ConfigError(f"MeshCollider.faces must be (F, 3), got {faces.shape}.")
        if faces.min() < 0 or faces.max() >= frames.shape[1]:
            raise ConfigError(
                f"MeshCollider.faces index vertices 0..{frames.shape[1] - 1}, "
                f"found {faces.min()}..{faces.max()}."
            )
        require_positive("MeshCollider.fps", self.fps, "1/s")
        _check_contact(self.mode, self.friction, "MeshCollider")
        object.__setattr__(self, "_frames", frames)
        object.__setattr__(self, "vertices", frames)
        object.__setattr__(self, "faces", faces)

    @property
    def num_frames(self) -> int:
        return int(self._frames.shape[0])

    def state_at(self, t: float) -> MeshColliderSpec:
        """Vertices (linearly interpolated) and their velocities at time t."""
        u = (t - self.start_time) * self.fps
        last = self.num_frames - 1
        if u <= 0 or last == 0:
            k, s, moving = 0, 0.0, False
        elif u >= last:
            k, s, moving = last - 1, 1.0, False
        else:
            k = int(np.floor(u))
            s, moving = u - k, True
        a = self._frames[k]
        b = self._frames[min(k + 1, last)]
        verts = (a + np.float32(s) * (b - a)).astype(np.float32)
        vel = ((b - a) * np.float32(self.fps)) if moving else np.zeros_like(a)
        return MeshColliderSpec(
            vertices=verts,
            velocities=vel.astype(np.float32),
            faces=self.faces.astype(np.int32),
            mode=self.mode,
            friction=float(self.friction),
            thickness=float(self.thickness),
        )

    def max_speed(self, extent: float = 0.0) -> float:
        """Largest vertex speed over all frames [m/s]."""
        if self.num_frames < 2:
            return 0.0
        return float(np.linalg.norm(np.diff(self._frames, axis=0), axis=2).max() * self.fps)
