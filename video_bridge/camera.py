"""Pinhole cameras and camera paths, in one convention.

Convention (OpenCV): the camera looks down its +z axis, +x is right and +y is down in the image.
A world point X projects to pixel coordinates u = fx x/z + cx, v = fy y/z + cy, where
(x, y, z) = R X + t are its camera coordinates; pixel (i, j) (column i, row j) has its centre
at (u, v) = (i, j). "Depth" is z, the distance along the optical axis [m], not the ray length.
The world is Z-up (emu4d convention).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from mpm.trajectory import Trajectory
from video_bridge.errors import CameraError

__all__ = ["FRAMINGS", "Camera", "CameraPath"]

# the automatic camera paths of CameraPath.framing (and of `--camera` on the command line)
FRAMINGS = ("orbit", "static", "dolly", "follow")


def _vec3(name: str, value: Sequence[float]) -> np.ndarray:
    array = np.asarray(value, dtype=np.float64)
    if array.shape != (3,) or not np.isfinite(array).all():
        raise CameraError(f"{name} must be 3 finite numbers, got {value!r}.")
    return array


@dataclass(frozen=True, eq=False)
class Camera:
    """A pinhole camera.

    Attributes:
        width, height: image size [px].
        fx, fy: focal lengths [px]. cx, cy: principal point [px] (pixel-centre convention).
        world_to_camera: (4, 4) float64 rigid transform [R | t] from world to camera coordinates.
        near, far: clipping distances along the optical axis [m].
    """

    width: int
    height: int
    fx: float
    fy: float
    cx: float
    cy: float
    world_to_camera: np.ndarray = field(repr=False)
    near: float = 0.01
    far: float = 100.0

    def __post_init__(self) -> None:
        if int(self.width) < 1 or int(self.height) < 1:
            raise CameraError(f"image size must be positive, got {self.width}x{self.height}.")
        if not (self.fx > 0 and self.fy > 0):
            raise CameraError(f"focal lengths must be positive, got fx={self.fx}, fy={self.fy}.")
        if not 0 < self.near < self.far:
            raise CameraError(f"need 0 < near < far, got near={self.near}, far={self.far}.")
        matrix = np.array(self.world_to_camera, dtype=np.float64)  # copy
        if matrix.shape != (4, 4) or not np.isfinite(matrix).all():
            raise CameraError("world_to_camera must be a finite (4, 4) matrix.")
        rotation = matrix[:3, :3]
        if not np.allclose(rotation @ rotation.T, np.eye(3), atol=1e-6) or np.linalg.det(
            rotation
        ) < 0:
            raise CameraError("world_to_camera must be a rigid transform (rotation + translation).")
        object.__setattr__(self, "world_to_camera", matrix)
        object.__setattr__(self, "width", int(self.width))
        object.__setattr__(self, "height", int(self.height))

    # -- constructors -------------------------------------------------------------------------
    @classmethod
    def look_at(
        cls,
        eye: Sequence[float],
        target: Sequence[float],
        up: Sequence[float] = (0.0, 0.0, 1.0),
        fov_y: float = 45.0,
        size: tuple[int, int] = (512, 512),
        near: float = 0.01,
        far: float = 100.0,
    ) -> Camera:
        """A camera at ``eye`` looking at ``target`` with vertical field of view ``fov_y``
        [degrees] and image ``size`` = (width, height) [px]."""
        eye_v, target_v, up_v = _vec3("eye", eye), _vec3("target", target), _vec3("up", up)
        forward = target_v - eye_v
        if np.linalg.norm(forward) < 1e-9:
            raise CameraError("eye and target coincide; the camera has no viewing direction.")
        forward /= np.linalg.norm(forward)
        right = np.cross(forward, up_v)
        if np.linalg.norm(right) < 1e-6:
            raise CameraError("the viewing direction is parallel to `up`; choose another up.")
        right /= np.linalg.norm(right)
        down = np.cross(forward, right)
        rotation = np.stack([right, down, forward])
        matrix = np.eye(4)
        matrix[:3, :3] = rotation
        matrix[:3, 3] = -rotation @ eye_v
        if not 0 < fov_y < 180:
            raise CameraError(f"fov_y must lie in (0, 180) degrees, got {fov_y}.")
        width, height = int(size[0]), int(size[1])
        focal = 0.5 * height / math.tan(math.radians(fov_y) / 2)
        return cls(
            width=width,
            height=height,
            fx=focal,
            fy=focal,
            cx=(width - 1) / 2,
            cy=(height - 1) / 2,
            world_to_camera=matrix,
            near=near,
            far=far,
        )

    # -- geometry -----------------------------------------------------------------------------
    @property
    def K(self) -> np.ndarray:  # noqa: N802 - the standard name of the intrinsic matrix
        """Intrinsic matrix (3, 3) float64."""
        return np.array([[self.fx, 0.0, self.cx], [0.0, self.fy, self.cy], [0.0, 0.0, 1.0]])

    @property
    def camera_to_world(self) -> np.ndarray:
        """Inverse of ``world_to_camera``, (4, 4)."""
        return np.linalg.inv(self.world_to_camera)

    @property
    def position(self) -> np.ndarray:
        """Camera centre in world coordinates [m], (3,)."""
        return self.camera_to_world[:3, 3]

    def to_camera(self, points: np.ndarray) -> np.ndarray:
        """World points (N, 3) -> camera coordinates (N, 3) [m]."""
        p = np.asarray(points, dtype=np.float64)
        return p @ self.world_to_camera[:3, :3].T + self.world_to_camera[:3, 3]

    def project(self, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """World points (N, 3) -> pixel coordinates (N, 2) and depth z (N,) [m]."""
        cam = self.to_camera(points)
        z = cam[:, 2]
        with np.errstate(divide="ignore", invalid="ignore"):
            u = self.fx * cam[:, 0] / z + self.cx
            v = self.fy * cam[:, 1] / z + self.cy
        return np.stack([u, v], axis=1), z

    def unproject(self, uv: np.ndarray, depth: np.ndarray) -> np.ndarray:
        """Pixel coordinates (N, 2) and depth z (N,) [m] -> world points (N, 3)."""
        uv = np.asarray(uv, dtype=np.float64)
        z = np.asarray(depth, dtype=np.float64)
        cam = np.stack(
            [(uv[:, 0] - self.cx) / self.fx * z, (uv[:, 1] - self.cy) / self.fy * z, z], axis=1
        )
        c2w = self.camera_to_world
        return cam @ c2w[:3, :3].T + c2w[:3, 3]

    def gl_projection(self) -> np.ndarray:
        """(4, 4) clip transform for camera coordinates in the OpenCV frame.

        Image row v maps to framebuffer row v counted from the bottom, so reading the
        framebuffer bottom-up gives the image top-down with no flip.
        """
        w, h, n, f = self.width, self.height, self.near, self.far
        return np.array(
            [
                [2 * self.fx / w, 0.0, (2 * self.cx + 1) / w - 1, 0.0],
                [0.0, 2 * self.fy / h, (2 * self.cy + 1) / h - 1, 0.0],
                [0.0, 0.0, (f + n) / (f - n), -2 * f * n / (f - n)],
                [0.0, 0.0, 1.0, 0.0],
            ]
        )

    def resized(self, size: tuple[int, int]) -> Camera:
        """The same view at another image size (intrinsics scaled)."""
        sx, sy = size[0] / self.width, size[1] / self.height
        return Camera(
            width=size[0],
            height=size[1],
            fx=self.fx * sx,
            fy=self.fy * sy,
            cx=(self.cx + 0.5) * sx - 0.5,
            cy=(self.cy + 0.5) * sy - 0.5,
            world_to_camera=self.world_to_camera,
            near=self.near,
            far=self.far,
        )


def scene_bounds(traj: Trajectory, tracks: Sequence[str] | None = None) -> np.ndarray:
    """(2, 3) min/max over all frames of the selected tracks [m]."""
    names = list(tracks) if tracks else list(traj.tracks)
    if not names:
        raise CameraError("the trajectory has no tracks to frame.")
    # per-coordinate reductions: numpy reduces a strided (M, 3) array along axis 0 ~20x slower
    lows = [[traj.tracks[n].positions[..., k].min() for k in range(3)] for n in names]
    highs = [[traj.tracks[n].positions[..., k].max() for k in range(3)] for n in names]
    return np.stack([np.min(lows, axis=0), np.max(highs, axis=0)]).astype(np.float64)


@dataclass(frozen=True)
class CameraPath:
    """One camera per frame."""

    cameras: tuple[Camera, ...]

    def __post_init__(self) -> None:
        if not self.cameras:
            raise CameraError("a camera path needs at least one camera.")
        sizes = {(c.width, c.height) for c in self.cameras}
        if len(sizes) != 1:
            raise CameraError(f"all cameras of a path must share one image size, got {sizes}.")
        object.__setattr__(self, "cameras", tuple(self.cameras))

    def __len__(self) -> int:
        return len(self.cameras)

    def __getitem__(self, index: int) -> Camera:
        return self.cameras[index]

    @property
    def size(self) -> tuple[int, int]:
        """(width, height) [px]."""
        return self.cameras[0].width, self.cameras[0].height

    def intrinsics(self) -> np.ndarray:
        """(T, 3, 3) float64."""
        return np.stack([c.K for c in self.cameras])

    def extrinsics(self) -> np.ndarray:
        """(T, 4, 4) float64 world-to-camera matrices."""
        return np.stack([c.world_to_camera for c in self.cameras])

    # -- constructors -------------------------------------------------------------------------
    @classmethod
    def static(cls, camera: Camera, num_frames: int) -> CameraPath:
        """The same camera for every frame."""
        return cls(tuple([camera] * int(num_frames)))

    @classmethod
    def orbit(
        cls,
        center: Sequence[float],
        radius: float,
        height: float,
        num_frames: int,
        sweep: float = 90.0,
        start_angle: float = -90.0,
        fov_y: float = 45.0,
        size: tuple[int, int] = (512, 512),
    ) -> CameraPath:
        """Circle ``center`` at ``radius`` [m] and ``height`` [m] above it, sweeping ``sweep``
        degrees from ``start_angle`` (0 = on the +x side) over the frames."""
        c = _vec3("center", center)
        if radius <= 0:
            raise CameraError(f"orbit radius must be positive, got {radius}.")
        cams = []
        for k in range(int(num_frames)):
            s = k / max(int(num_frames) - 1, 1)
            angle = math.radians(start_angle + sweep * s)
            eye = c + np.array([radius * math.cos(angle), radius * math.sin(angle), height])
            cams.append(Camera.look_at(eye, c, fov_y=fov_y, size=size))
        return cls(tuple(cams))

    @classmethod
    def dolly(
        cls,
        eye_start: Sequence[float],
        eye_end: Sequence[float],
        target: Sequence[float],
        num_frames: int,
        fov_y: float = 45.0,
        size: tuple[int, int] = (512, 512),
    ) -> CameraPath:
        """Move the eye on a straight line while looking at ``target``."""
        a, b = _vec3("eye_start", eye_start), _vec3("eye_end", eye_end)
        cams = []
        for k in range(int(num_frames)):
            s = k / max(int(num_frames) - 1, 1)
            cams.append(Camera.look_at(a + s * (b - a), target, fov_y=fov_y, size=size))
        return cls(tuple(cams))

    @classmethod
    def follow(
        cls,
        traj: Trajectory,
        track: str,
        offset: Sequence[float] = (0.0, -1.0, 0.5),
        fov_y: float = 45.0,
        size: tuple[int, int] = (512, 512),
    ) -> CameraPath:
        """Look at the centroid of ``track`` every frame from centroid + ``offset`` [m]."""
        if track not in traj.tracks:
            raise CameraError(f"no track {track!r}; tracks: {sorted(traj.tracks)}.")
        off = _vec3("offset", offset)
        centroids = traj.tracks[track].positions.astype(np.float64).mean(axis=1)
        return cls(tuple(Camera.look_at(c + off, c, fov_y=fov_y, size=size) for c in centroids))

    @classmethod
    def framing(
        cls,
        traj: Trajectory,
        kind: str = "orbit",
        size: tuple[int, int] = (512, 512),
        fov_y: float = 40.0,
        tracks: Sequence[str] | None = None,
    ) -> CameraPath:
        """A path that keeps the whole trajectory in view: "static", "orbit", "dolly" or
        "follow" (follows the first track), placed from the scene's bounding box."""
        low, high = scene_bounds(traj, tracks)
        center = (low + high) / 2
        center[2] = low[2] + 0.4 * (high[2] - low[2])
        extent = float(np.linalg.norm(high - low))
        distance = 0.5 * extent / math.tan(math.radians(fov_y) / 2) + 1e-3
        n = traj.num_frames
        elevation = math.radians(25.0)
        radius, height = distance * math.cos(elevation), distance * math.sin(elevation)
        if kind == "orbit":
            return cls.orbit(center, radius, height, n, fov_y=fov_y, size=size)
        if kind == "static":
            eye = center + np.array([0.0, -radius, height])
            return cls.static(Camera.look_at(eye, center, fov_y=fov_y, size=size), n)
        if kind == "dolly":
            start = center + np.array([0.0, -1.3 * radius, 1.3 * height])
            end = center + np.array([0.0, -0.8 * radius, 0.8 * height])
            return cls.dolly(start, end, center, n, fov_y=fov_y, size=size)
        if kind == "follow":
            name = (list(tracks) if tracks else list(traj.tracks))[0]
            return cls.follow(traj, name, (0.0, -radius, height), fov_y=fov_y, size=size)
        raise CameraError(f"unknown camera path {kind!r}; use one of {FRAMINGS}.")
