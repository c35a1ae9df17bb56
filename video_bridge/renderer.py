"""Render a :class:`mpm.Trajectory` headlessly: RGB, metric depth, instance mask, normals and
forward optical flow from the known 3D motion (not estimated from pixels).

Mesh tracks are drawn as triangles by OpenGL (moderngl on EGL) over a checkered ground plane lit
by a directional light with shadow mapping; particle tracks are splatted as sphere impostors of
the particle radius by a Warp kernel into the same buffers (depth-tested against the meshes,
casting and receiving shadows), since a CPU OpenGL processes points one by one.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from os import PathLike
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from kernels.warp.splat import ParticleSplatter
from mpm.export import particle_radii
from mpm.trajectory import Track, Trajectory
from video_bridge import shaders
from video_bridge.camera import Camera, CameraPath, scene_bounds
from video_bridge.collider_meshes import collider_tracks
from video_bridge.colorize import GROUND_ID
from video_bridge.errors import CameraError, RenderConfigError, RenderError
from video_bridge.gl import get_context

logger = logging.getLogger("emu4d.video_bridge")

PASSES = ("rgb", "depth", "mask", "normals", "flow")
# image sides [px]: below 16 the automatic framing and the contact sheet's labels lose meaning
MIN_IMAGE_SIDE, MAX_IMAGE_SIDE = 16, 8192
BACKGROUND_ID = 0
_PALETTE = (
    (0.90, 0.35, 0.30),
    (0.25, 0.55, 0.90),
    (0.35, 0.75, 0.40),
    (0.95, 0.70, 0.20),
    (0.65, 0.40, 0.85),
    (0.20, 0.75, 0.75),
    (0.85, 0.45, 0.65),
    (0.55, 0.55, 0.55),
)
_SKY = np.array([236, 240, 245], dtype=np.uint8)  # background colour of the RGB pass
_LIGHT_DIR = np.array([0.35, 0.45, -1.0]) / np.linalg.norm([0.35, 0.45, -1.0])


@dataclass
class RenderResult:
    """Rendered frames; passes not requested are None.

    Attributes:
        rgb: (T, H, W, 3) uint8. depth: (T, H, W) float32, camera z [m], 0 where nothing is hit.
        mask: (T, H, W) uint16 instance ids; ``labels`` maps id -> name (0 background,
            1 ground, 2.. tracks). normals: (T, H, W, 3) float32 world-space unit normals,
            0 on background. flow: (T, H, W, 2) float32 forward flow [px] (du, dv) from frame t
            to t+1 of the surface seen at each pixel; zero on the last frame and background.
        intrinsics: (T, 3, 3), extrinsics: (T, 4, 4) world-to-camera (OpenCV), times: (T,) [s].
    """

    times: np.ndarray
    intrinsics: np.ndarray
    extrinsics: np.ndarray
    labels: dict[int, str]
    rgb: np.ndarray | None = None
    depth: np.ndarray | None = None
    mask: np.ndarray | None = None
    normals: np.ndarray | None = None
    flow: np.ndarray | None = None

    @property
    def num_frames(self) -> int:
        return len(self.times)

    def arrays(self) -> dict[str, np.ndarray]:
        """Every array by name (for np.savez)."""
        out = {"times": self.times, "intrinsics": self.intrinsics, "extrinsics": self.extrinsics}
        for name in PASSES:
            value = getattr(self, name)
            if value is not None:
                out[name] = value
        return out


@dataclass
class _Drawable:
    name: str
    track: Track
    track_id: int
    color: tuple[float, float, float]
    radii: np.ndarray | None = None
    faces: np.ndarray | None = None
    incidence: Any = None
    buffers: dict[str, Any] = field(default_factory=dict)
    vao: Any = None
    shadow_vao: Any = None


class _ParticleSet:
    """All particle tracks concatenated, for one splatting launch per frame."""

    def __init__(self, drawables: list[_Drawable]) -> None:
        self.drawables = drawables
        if not drawables:
            return
        self.radii = np.concatenate([d.radii for d in drawables]).astype(np.float32)
        self.colors = np.concatenate(
            [np.tile(np.float32(d.color), (d.track.num_points, 1)) for d in drawables]
        )
        self.ids = np.concatenate(
            [np.full(d.track.num_points, d.track_id, np.int32) for d in drawables]
        )

    def __bool__(self) -> bool:
        return bool(self.drawables)

    def positions(self, t: int, nxt: int) -> tuple[np.ndarray, np.ndarray]:
        """Centres at frames t and nxt, (N, 3) float32 each (empty when no particles)."""
        if not self.drawables:
            empty = np.zeros((0, 3), np.float32)
            return empty, empty
        current = np.concatenate([d.track.positions[t] for d in self.drawables])
        following = np.concatenate([d.track.positions[nxt] for d in self.drawables])
        return current.astype(np.float32), following.astype(np.float32)


def _splat_camera(camera: Camera) -> dict[str, Any]:
    return {
        "view": camera.world_to_camera,
        "camera_to_world": camera.camera_to_world,
        "intrinsics": (camera.fx, camera.fy, camera.cx, camera.cy),
        "near": camera.near,
    }


def check_passes(passes: Sequence[str]) -> tuple[str, ...]:
    """Validate pass names; raises RenderError naming the unknown ones."""
    if isinstance(passes, str):  # "rgb,depth" as on the command line, or one pass
        passes = [p.strip() for p in passes.split(",") if p.strip()]
    passes = tuple(passes)
    if not passes:
        raise RenderConfigError(f"no render pass given; choose from {PASSES}.")
    unknown = [p for p in passes if p not in PASSES]
    if unknown:
        raise RenderConfigError(f"unknown render pass(es) {unknown}; valid passes: {PASSES}.")
    return passes


def check_size(size: Any) -> tuple[int, int]:
    """Validate an image size (width, height) [px]; raises RenderConfigError saying why."""
    try:
        width, height = size
    except (TypeError, ValueError):
        raise RenderConfigError(
            f"image size must be a pair (width, height) in pixels, e.g. (512, 512), got {size!r}."
        ) from None
    whole = [
        (isinstance(v, (int, np.integer)) and not isinstance(v, bool))
        or (isinstance(v, (float, np.floating)) and float(v).is_integer())
        for v in (width, height)
    ]
    if not all(whole):
        raise RenderConfigError(f"image size must be whole numbers of pixels, got {size!r}.")
    if not all(MIN_IMAGE_SIDE <= side <= MAX_IMAGE_SIDE for side in (width, height)):
        raise RenderConfigError(
            f"image size must be within {MIN_IMAGE_SIDE}..{MAX_IMAGE_SIDE} px on each side, "
            f"got {size!r}."
        )
    return int(width), int(height)


# default colours by constitutive model, so that sand looks like sand and water like water
_MATERIAL_COLORS = {
    "DruckerPrager": (0.86, 0.72, 0.48),
    "Fluid": (0.25, 0.55, 0.95),
    "Snow": (0.93, 0.95, 0.98),
    "VonMises": (0.72, 0.50, 0.36),
}


def _material_color(traj: Trajectory, track: Track) -> tuple[float, float, float] | None:
    """Colour for the material of the track's object, from the trajectory metadata."""
    for obj in traj.metadata.get("objects", []):
        if obj.get("name") == track.object_name:
            return _MATERIAL_COLORS.get(obj.get("material", {}).get("type"))
    return None


def default_tracks(traj: Trajectory) -> list[str]:
    """Mesh tracks, plus particle tracks of objects that have no mesh track."""
    with_mesh = {t.object_name for t in traj.tracks.values() if t.kind == "mesh"}
    names = []
    for name, track in traj.tracks.items():
        if track.kind == "mesh" or track.object_name is None or track.object_name not in with_mesh:
            names.append(name)
    return names


def ground_height(traj: Trajectory) -> float | None:
    """Height of a horizontal ground collider recorded in the metadata, if any."""
    for collider in traj.metadata.get("colliders", []):
        if collider.get("type") == "HalfSpace" and not any(collider.get("rotation", [0, 0, 0])):
            return float(collider.get("center", [0, 0, 0])[2])
    return None


def vertex_face_matrix(faces: np.ndarray, num_vertices: int) -> Any:
    """Sparse (V, F) incidence matrix: summing face normals onto vertices is one product."""
    from scipy.sparse import csr_matrix

    rows = np.asarray(faces, dtype=np.int64).ravel()
    cols = np.repeat(np.arange(len(faces)), 3)
    return csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(num_vertices, len(faces)))


def vertex_normals(vertices: np.ndarray, faces: np.ndarray, incidence: Any) -> np.ndarray:
    """Area-weighted unit vertex normals (V, 3) float32."""
    v = vertices.astype(np.float64)
    face_n = np.cross(v[faces[:, 1]] - v[faces[:, 0]], v[faces[:, 2]] - v[faces[:, 0]])
    normals = incidence @ face_n
    length = np.sqrt((normals * normals).sum(axis=1, keepdims=True))
    return (normals / np.maximum(length, 1e-12)).astype(np.float32)


def _light_matrix(low: np.ndarray, high: np.ndarray) -> tuple[np.ndarray, float]:
    """Orthographic world -> light clip matrix covering the box, and its scale: clip units per
    metre / 2 (times the shadow map size: texels per metre)."""
    center = (low + high) / 2
    radius = float(np.linalg.norm(high - low)) / 2 + 1e-3
    forward = _LIGHT_DIR
    right = np.cross(forward, [0.0, 0.0, 1.0])
    right /= np.linalg.norm(right)
    up = np.cross(right, forward)
    rot = np.stack([right, up, -forward])
    view = np.eye(4)
    view[:3, :3] = rot
    view[:3, 3] = -rot @ (center - forward * 2 * radius)
    ortho = np.diag([1 / radius, 1 / radius, -1 / (2 * radius), 1.0])
    ortho[2, 3] = -1.0
    return ortho @ view, 1.0 / (2 * radius)


def _gl(matrix: np.ndarray) -> bytes:
    """Column-major float32 bytes of a row-major matrix for a GLSL uniform."""
    return np.ascontiguousarray(np.asarray(matrix, dtype=np.float32).T).tobytes()


class Renderer:
    """A reusable renderer of trajectories at one image size."""

    def __init__(
        self,
        size: tuple[int, int] = (512, 512),
        shadows: bool = True,
        shadow_map: int | None = None,
    ) -> None:
        """``shadow_map``: light depth-map resolution [texels]; default twice the larger image
        side, within 512..2048, so a shadow texel is about half an image pixel."""
        self.size = width, height = check_size(size)
        self.shadows = bool(shadows)
        self.ctx = ctx = get_context()
        import moderngl

        self._moderngl = moderngl
        self.mesh_prog = ctx.program(
            vertex_shader=shaders.MESH_VERTEX, fragment_shader=shaders.MESH_FRAGMENT
        )
        self.shadow_mesh_prog = ctx.program(
            vertex_shader=shaders.SHADOW_MESH_VERTEX, fragment_shader=shaders.SHADOW_FRAGMENT
        )
        self.color_tex = ctx.texture(self.size, 4, dtype="f1")
        self.normal_tex = ctx.texture(self.size, 4, dtype="f4")
        self.geo_tex = ctx.texture(self.size, 4, dtype="f4")
        self.depth_rb = ctx.depth_renderbuffer(self.size)
        self.fbo = ctx.framebuffer(
            color_attachments=[self.color_tex, self.normal_tex, self.geo_tex],
            depth_attachment=self.depth_rb,
        )
        if shadow_map is None:
            shadow_map = int(np.clip(2 * max(width, height), 512, 2048))
        self.shadow_size = int(shadow_map)
        self.shadow_tex = ctx.depth_texture((self.shadow_size, self.shadow_size))
        self.shadow_tex.compare_func = "<="
        self.shadow_tex.filter = (moderngl.LINEAR, moderngl.LINEAR)
        self.shadow_fbo = ctx.framebuffer(depth_attachment=self.shadow_tex)
        # particles are small and many: their light map at half resolution costs a quarter
        self.particle_shadow_size = max(self.shadow_size // 2, 1)
        psize = (self.particle_shadow_size, self.particle_shadow_size)
        self.particle_shadow_tex = ctx.texture(psize, 1, dtype="f4")
        self.particle_shadow_tex.filter = (moderngl.NEAREST, moderngl.NEAREST)
        self._empty_particle_shadow = np.ones(psize[::-1], np.float32)
        self.splatter = ParticleSplatter(width, height)

    def release(self) -> None:
        """Free the GL objects."""
        for obj in (self.fbo, self.shadow_fbo, self.color_tex, self.normal_tex, self.geo_tex,
                    self.depth_rb, self.shadow_tex, self.particle_shadow_tex):  # fmt: skip
            obj.release()

    # -- scene setup ---------------------------------------------------------------------------
    def _prepare(
        self,
        traj: Trajectory,
        names: Sequence[str],
        colors: Mapping[str, Sequence[float]] | None,
        ground: float | None,
    ) -> tuple[list[_Drawable], _Drawable | None]:
        ctx = self.ctx
        drawables = []
        for index, name in enumerate(names):
            track = traj.tracks[name]
            default = _material_color(traj, track) or _PALETTE[index % len(_PALETTE)]
            color = tuple(float(c) for c in (colors or {}).get(name, default))
            d = _Drawable(name=name, track=track, track_id=index + 2, color=color)  # type: ignore[arg-type]
            n = track.num_points
            if track.kind == "mesh":
                d.faces = np.asarray(track.faces, dtype=np.int64)
                d.incidence = vertex_face_matrix(d.faces, n)
                d.buffers = {
                    "pos": ctx.buffer(reserve=n * 12),
                    "next": ctx.buffer(reserve=n * 12),
                    "normal": ctx.buffer(reserve=n * 12),
                    "index": ctx.buffer(np.asarray(track.faces, dtype=np.int32).tobytes()),
                }
                d.vao = ctx.vertex_array(
                    self.mesh_prog,
                    [
                        (d.buffers["pos"], "3f", "in_pos"),
                        (d.buffers["next"], "3f", "in_next"),
                        (d.buffers["normal"], "3f", "in_normal"),
                    ],
                    index_buffer=d.buffers["index"],
                )
                d.shadow_vao = ctx.vertex_array(
                    self.shadow_mesh_prog,
                    [(d.buffers["pos"], "3f", "in_pos")],
                    index_buffer=d.buffers["index"],
                )
            else:
                d.radii = particle_radii(track)
            drawables.append(d)
        plane = None
        if ground is not None:
            low, high = _bounds(traj, names)
            center = (low + high) / 2
            half = 2.0 * float(np.max(high - low)) + 1.0
            corners = np.array(
                [[-half, -half], [half, -half], [half, half], [-half, half]], dtype=np.float64
            )
            verts = np.column_stack(
                [corners + center[:2], np.full(4, ground, dtype=np.float64)]
            ).astype(np.float32)
            faces = np.array([[0, 1, 2], [0, 2, 3]], dtype=np.int64)
            plane_track = Track(positions=verts[None], faces=faces)
            plane = _Drawable(
                name="ground", track=plane_track, track_id=GROUND_ID, color=(0.7, 0.7, 0.7)
            )
            normal = np.tile(np.float32([0, 0, 1]), (4, 1))
            plane.buffers = {
                "pos": ctx.buffer(verts.tobytes()),
                "next": ctx.buffer(verts.tobytes()),
                "normal": ctx.buffer(normal.tobytes()),
                "index": ctx.buffer(faces.astype(np.int32).tobytes()),
            }
            plane.vao = ctx.vertex_array(
                self.mesh_prog,
                [
                    (plane.buffers["pos"], "3f", "in_pos"),
                    (plane.buffers["next"], "3f", "in_next"),
                    (plane.buffers["normal"], "3f", "in_normal"),
                ],
                index_buffer=plane.buffers["index"],
            )
        return drawables, plane

    @staticmethod
    def _upload(d: _Drawable, frame: int, next_frame: int) -> None:
        positions = d.track.positions
        current = np.ascontiguousarray(positions[frame], dtype=np.float32)
        d.buffers["pos"].write(current.tobytes())
        d.buffers["next"].write(np.ascontiguousarray(positions[next_frame], np.float32).tobytes())
        d.buffers["normal"].write(vertex_normals(current, d.faces, d.incidence).tobytes())

    # -- drawing -------------------------------------------------------------------------------
    def render(
        self,
        traj: Trajectory,
        camera_path: CameraPath,
        passes: Sequence[str] = PASSES,
        tracks: Sequence[str] | None = None,
        colors: Mapping[str, Sequence[float]] | None = None,
        ground: bool | float = True,
        progress: bool = True,
    ) -> RenderResult:
        """Render every frame of ``traj`` through ``camera_path`` (one camera per frame)."""
        passes = check_passes(passes)
        if traj.num_frames == 0 or not traj.tracks:
            raise RenderError("the trajectory is empty (no frames or no tracks).")
        names = list(tracks) if tracks is not None else default_tracks(traj)
        missing = [n for n in names if n not in traj.tracks]
        if missing or not names:
            raise RenderConfigError(
                f"unknown track(s) {missing or names}; available: {sorted(traj.tracks)}."
            )
        if len(camera_path) != traj.num_frames:
            raise CameraError(
                f"the camera path has {len(camera_path)} cameras but the trajectory has "
                f"{traj.num_frames} frames; build it with num_frames=traj.num_frames."
            )
        if camera_path.size != self.size:
            camera_path = CameraPath(tuple(c.resized(self.size) for c in camera_path.cameras))
        low, high = _bounds(traj, names)
        _check_visible(camera_path[0], low, high)
        if ground is True:
            height = ground_height(traj)
            ground_z = float(low[2]) if height is None else height
        elif ground is False:
            ground_z = None
        else:
            ground_z = float(ground)
        drawables, plane = self._prepare(traj, names, colors, ground_z)
        scene_low, scene_high = low.copy(), high.copy()
        if ground_z is not None:
            scene_low[2] = min(scene_low[2], ground_z)
        light_vp, light_scale = _light_matrix(scene_low, scene_high)
        width, height = self.size
        T = traj.num_frames
        out: dict[str, np.ndarray] = {}
        if "rgb" in passes:
            out["rgb"] = np.zeros((T, height, width, 3), np.uint8)
        if "depth" in passes:
            out["depth"] = np.zeros((T, height, width), np.float32)
        if "mask" in passes:
            out["mask"] = np.zeros((T, height, width), np.uint16)
        if "normals" in passes:
            out["normals"] = np.zeros((T, height, width, 3), np.float32)
        if "flow" in passes:
            out["flow"] = np.zeros((T, height, width, 2), np.float32)
        meshes = [d for d in drawables if d.track.kind == "mesh"]
        particles = _ParticleSet([d for d in drawables if d.track.kind == "points"])
        object_pixels = 0
        try:
            for t in tqdm(range(T), desc="render", unit="frame", disable=not progress):
                nxt = min(t + 1, T - 1)
                frame = self._render_frame(
                    meshes, particles, plane, t, nxt, camera_path, light_vp, light_scale
                )
                object_pixels += int(np.count_nonzero(frame["mask"] >= 2))
                for name, value in frame.items():
                    if name in out and (name != "flow" or t < T - 1):
                        out[name][t] = value
        finally:
            for d in [*drawables, *([plane] if plane else [])]:
                for buffer in d.buffers.values():
                    buffer.release()
                for vao in (d.vao, d.shadow_vao):
                    if vao is not None:
                        vao.release()
        if object_pixels == 0:
            raise CameraError(
                "the camera sees none of the rendered tracks in any frame; aim it at the scene "
                "(e.g. CameraPath.framing(traj)) or widen fov_y."
            )
        labels = {BACKGROUND_ID: "background", GROUND_ID: "ground"}
        labels.update({d.track_id: d.name for d in drawables})
        return RenderResult(
            times=np.asarray(traj.times, dtype=np.float64),
            intrinsics=camera_path.intrinsics(),
            extrinsics=camera_path.extrinsics(),
            labels=labels,
            **out,
        )

    def _render_frame(
        self,
        meshes: list[_Drawable],
        particles: _ParticleSet,
        plane: _Drawable | None,
        t: int,
        nxt: int,
        camera_path: CameraPath,
        light_vp: np.ndarray,
        light_scale: float,
    ) -> dict[str, np.ndarray]:
        """All passes of frame ``t`` as (H, W, ...) arrays."""
        width, height = self.size
        for d in meshes:
            self._upload(d, t, nxt)
        centers, next_centers = particles.positions(t, nxt)
        particle_shadow = self._empty_particle_shadow
        if self.shadows:
            self._shadow_pass(meshes, light_vp)
            if particles:
                particle_shadow = self.splatter.light_depth(
                    centers, particles.radii, _LIGHT_DIR, light_vp,
                    light_scale * self.particle_shadow_size, self.particle_shadow_size,
                )  # fmt: skip
            self.particle_shadow_tex.write(particle_shadow)
        camera, next_camera = camera_path[t], camera_path[nxt]
        self._color_pass(meshes, plane, camera, next_camera, light_vp)
        rgba = np.frombuffer(
            self.fbo.read(attachment=0, components=4, alignment=1), np.uint8
        ).reshape(height, width, 4)
        normal_id = np.frombuffer(
            self.fbo.read(attachment=1, components=4, dtype="f4"), np.float32
        ).reshape(height, width, 4)
        geo = np.frombuffer(
            self.fbo.read(attachment=2, components=4, dtype="f4"), np.float32
        ).reshape(height, width, 4)
        frame = {
            "rgb": np.where(rgba[..., 3:] > 0, rgba[..., :3], _SKY),
            "depth": np.ascontiguousarray(geo[..., 2]),
            "mask": np.rint(normal_id[..., 3]).astype(np.uint16),
            "normals": np.ascontiguousarray(normal_id[..., :3]),
            "flow": np.ascontiguousarray(geo[..., :2]),
        }
        if particles:
            mesh_shadow = self._empty_particle_shadow
            if self.shadows:
                mesh_shadow = np.frombuffer(self.shadow_tex.read(), np.float32).reshape(
                    self.shadow_size, self.shadow_size
                )
            self.splatter.splat(
                centers,
                next_centers,
                particles.radii,
                particles.colors,
                particles.ids,
                _splat_camera(camera),
                _splat_camera(next_camera),
                {
                    "dir": _LIGHT_DIR,
                    "view_proj": light_vp,
                    "depth_per_meter": 0.5 * light_scale,
                    "use_shadow": int(self.shadows),
                    "mesh_shadow": mesh_shadow,
                    "particle_shadow": particle_shadow,
                },
                frame,
            )
        return frame

    def _shadow_pass(self, meshes: list[_Drawable], light_vp: np.ndarray) -> None:
        ctx, mgl = self.ctx, self._moderngl
        self.shadow_fbo.use()
        self.shadow_fbo.clear(depth=1.0)
        ctx.enable(mgl.DEPTH_TEST)
        self.shadow_mesh_prog["light_view_proj"].write(_gl(light_vp))
        for d in meshes:
            d.shadow_vao.render(mgl.TRIANGLES)

    def _color_pass(
        self,
        meshes: list[_Drawable],
        plane: _Drawable | None,
        camera: Camera,
        next_camera: Camera,
        light_vp: np.ndarray,
    ) -> None:
        ctx, mgl = self.ctx, self._moderngl
        self.fbo.use()
        ctx.viewport = (0, 0, *self.size)
        # every target starts at zero (id 0 = background); the sky colour is composited from
        # the colour target's alpha after read-back
        self.fbo.clear(0.0, 0.0, 0.0, 0.0, depth=1.0)
        ctx.enable(mgl.DEPTH_TEST)
        self.shadow_tex.use(location=0)
        self.particle_shadow_tex.use(location=1)
        prog = self.mesh_prog
        prog["view"].write(_gl(camera.world_to_camera))
        prog["proj"].write(_gl(camera.gl_projection()))
        prog["next_view_proj"].write(
            _gl(next_camera.gl_projection() @ next_camera.world_to_camera)
        )
        prog["image_size"].value = (float(self.size[0]), float(self.size[1]))
        prog["light_dir"].value = tuple(_LIGHT_DIR.tolist())
        prog["shadow_map"].value = 0
        prog["particle_shadow"].value = 1
        prog["use_shadow"].value = int(self.shadows)
        prog["shadow_texel"].value = 1.0 / self.shadow_size
        prog["light_view_proj"].write(_gl(light_vp))
        prog["camera_pos"].value = tuple(camera.position.tolist())
        if plane is not None:
            prog["checker"].value = 1
            prog["checker_size"].value = 0.1
            self._draw_mesh(plane)
        prog["checker"].value = 0
        for d in meshes:
            self._draw_mesh(d)

    def _draw_mesh(self, d: _Drawable) -> None:
        self.mesh_prog["color"].value = d.color
        self.mesh_prog["track_id"].value = float(d.track_id)
        d.vao.render(self._moderngl.TRIANGLES)


def _bounds(traj: Trajectory, names: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    low, high = scene_bounds(traj, names)
    return low, high


def _check_visible(camera: Camera, low: np.ndarray, high: np.ndarray) -> None:
    """Raise CameraError when the scene box is entirely behind or beside the first camera."""
    corners = np.array(
        [[x, y, z] for x in (low[0], high[0]) for y in (low[1], high[1]) for z in (low[2], high[2])]
    )
    uv, z = camera.project(corners)
    if np.all(z <= camera.near):
        raise CameraError(
            "the scene is behind the camera; point it at the scene, e.g. with "
            "Camera.look_at(eye, target=<scene centre>) or CameraPath.framing(traj)."
        )
    front = z > camera.near
    u, v = uv[front, 0], uv[front, 1]
    if np.all(front) and (
        np.all(u < -0.5) or np.all(u > camera.width - 0.5)
        or np.all(v < -0.5) or np.all(v > camera.height - 0.5)
    ):  # fmt: skip
        raise CameraError(
            "the scene lies outside the camera's field of view; aim the camera at it or use "
            "CameraPath.framing(traj)."
        )


def render(
    traj: Trajectory | str | PathLike,
    camera_path: CameraPath | Camera | str | None = None,
    size: tuple[int, int] | None = None,
    passes: Sequence[str] = PASSES,
    tracks: Sequence[str] | None = None,
    colors: Mapping[str, Sequence[float]] | None = None,
    ground: bool | float = True,
    shadows: bool = True,
    progress: bool = True,
    show_colliders: bool = True,
) -> RenderResult:
    """Render ``traj`` along ``camera_path`` (a CameraPath, one Camera for all frames, or
    "orbit" / "static" / "dolly" / "follow" for an automatic framing) at ``size`` = (width,
    height) pixels (default: the path's own size, else 512 x 512). Sphere, box and
    capsule colliders recorded in the metadata are drawn in grey (``show_colliders``).
    ``traj`` may also be the path of a saved trajectory, ``passes`` a comma-separated text."""
    passes = check_passes(passes)
    if isinstance(traj, (str, PathLike)):
        traj = Trajectory.load(traj)
    if not isinstance(traj, Trajectory):
        raise RenderConfigError(
            f"render takes an mpm.Trajectory or the path of a trajectory.npz, got "
            f"{type(traj).__name__}."
        )
    if isinstance(camera_path, Camera):  # one camera for every frame
        camera_path = CameraPath.static(camera_path, traj.num_frames)
    if isinstance(camera_path, CameraPath):
        made_for = (camera_path[0].width, camera_path[0].height)
        if size is not None and tuple(size) != made_for:
            raise RenderConfigError(
                f"the camera path was made for {made_for[0]}x{made_for[1]} px but size asks "
                f"{size}; leave size out (the path's size is used) or build the path for it."
            )
        size = made_for
    size = check_size((512, 512) if size is None else size)
    if isinstance(tracks, str):
        tracks = [tracks]
    if traj.num_frames == 0 or not traj.tracks:
        raise RenderError("the trajectory is empty (no frames or no tracks): nothing to render.")
    names = list(tracks) if tracks is not None else default_tracks(traj)
    if camera_path is None or isinstance(camera_path, str):
        camera_path = CameraPath.framing(traj, camera_path or "orbit", size=size, tracks=names)
    extra = collider_tracks(traj) if show_colliders else {}
    if extra:  # drawn after the scene's own tracks, in grey
        traj = Trajectory(traj.times, {**traj.tracks, **extra}, traj.diagnostics, traj.metadata)
        tracks = names + list(extra)
        colors = {**dict.fromkeys(extra, (0.55, 0.56, 0.6)), **(colors or {})}
    renderer = Renderer(size=size, shadows=shadows)
    try:
        return renderer.render(traj, camera_path, passes, tracks, colors, ground, progress)
    finally:
        renderer.release()


__all__ = [
    "PASSES",
    "RenderResult",
    "Renderer",
    "check_passes",
    "check_size",
    "default_tracks",
    "render",
]
