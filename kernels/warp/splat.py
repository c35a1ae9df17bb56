"""CPU/GPU splatting of sphere particles into image buffers (Warp).

Software rasterisation of particles as sphere impostors: an orthographic-sphere footprint of
radius f r / z pixels around each projected centre, depth z - r sqrt(1 - |d|^2) at offset d.
It replaces per-particle GL primitives, which a CPU OpenGL (llvmpipe) processes one by one on a
single thread. Two passes give an exact z-buffer: ``splat_depth`` takes the atomic minimum of
the depth per pixel, ``splat_resolve`` lets the particle whose depth equals it write depth,
instance id, normal, flow and shaded colour. ``splat_light_depth`` draws the particles into an
orthographic light's depth map for shadows.
"""

from __future__ import annotations

import numpy as np
import warp as wp

wp.config.quiet = True
wp.config.log_level = max(wp.config.log_level, wp.LOG_WARNING)

FAR = 1.0e30  # empty value of the camera depth buffer [m]


@wp.func
def _footprint(
    cam: wp.vec3, radius: float, fx: float, fy: float, cx: float, cy: float
) -> wp.vec4:
    """(u, v, rx, ry): projected centre [px] and footprint radii [px]."""
    z = cam[2]
    return wp.vec4(fx * cam[0] / z + cx, fy * cam[1] / z + cy, fx * radius / z, fy * radius / z)


@wp.func
def _offset(i: int, j: int, fp: wp.vec4, forced: int) -> wp.vec3:
    """Footprint offset d (x, y) of pixel (i, j) and 1 - |d|^2 in z (< 0: outside)."""
    if forced == 1:
        return wp.vec3(0.0, 0.0, 1.0)
    dx = (float(i) - fp[0]) / fp[2]
    dy = (float(j) - fp[1]) / fp[3]
    return wp.vec3(dx, dy, 1.0 - dx * dx - dy * dy)


@wp.func
def _covers_a_pixel(fp: wp.vec4) -> int:
    """1 when some pixel centre lies inside the footprint ellipse."""
    for j in range(int(wp.ceil(fp[1] - fp[3])), int(wp.floor(fp[1] + fp[3])) + 1):
        for i in range(int(wp.ceil(fp[0] - fp[2])), int(wp.floor(fp[0] + fp[2])) + 1):
            dx = (float(i) - fp[0]) / fp[2]
            dy = (float(j) - fp[1]) / fp[3]
            if dx * dx + dy * dy <= 1.0:
                return 1
    return 0


@wp.func
def _pixel_range(fp: wp.vec4, forced: int, width: int, height: int) -> wp.vec4i:
    """Pixel box (i0, i1, j0, j1) inclusive, clipped to the image (i1 < i0 when empty); the
    single nearest pixel when ``forced`` (a footprint between pixel centres still shows)."""
    i0 = int(wp.ceil(fp[0] - fp[2]))
    i1 = int(wp.floor(fp[0] + fp[2]))
    j0 = int(wp.ceil(fp[1] - fp[3]))
    j1 = int(wp.floor(fp[1] + fp[3]))
    if forced == 1:
        i0 = int(wp.round(fp[0]))
        i1 = i0
        j0 = int(wp.round(fp[1]))
        j1 = j0
    return wp.vec4i(wp.max(i0, 0), wp.min(i1, width - 1), wp.max(j0, 0), wp.min(j1, height - 1))


@wp.struct
class Footprint:
    """A particle's image footprint: ellipse (u, v, rx, ry) [px], clipped pixel box
    (i0, i1, j0, j1) and whether it was forced onto the nearest pixel."""

    ellipse: wp.vec4
    box: wp.vec4i
    forced: int


@wp.func
def _particle_footprint(
    cam: wp.vec3, radius: float, intrinsics: wp.vec4, width: int, height: int
) -> Footprint:
    """Footprint of a sphere of ``radius`` at camera point ``cam`` (shared by both passes)."""
    f = Footprint()
    f.ellipse = _footprint(cam, radius, intrinsics[0], intrinsics[1], intrinsics[2], intrinsics[3])
    f.forced = 1 - _covers_a_pixel(f.ellipse)
    f.box = _pixel_range(f.ellipse, f.forced, width, height)
    return f


@wp.kernel
def splat_depth(
    centers: wp.array(dtype=wp.vec3),
    radii: wp.array(dtype=float),
    view: wp.mat44,
    intrinsics: wp.vec4,
    near: float,
    scene_depth: wp.array2d(dtype=float),
    depth_key: wp.array2d(dtype=float),
):
    """Atomic-min the surface depth [m] of every particle pixel in front of the scene."""
    p = wp.tid()
    cam = wp.transform_point(view, centers[p])
    if cam[2] <= near + radii[p]:
        return
    f = _particle_footprint(cam, radii[p], intrinsics, depth_key.shape[1], depth_key.shape[0])
    fp = f.ellipse
    forced = f.forced
    box = f.box
    for j in range(box[2], box[3] + 1):
        for i in range(box[0], box[1] + 1):
            d = _offset(i, j, fp, forced)
            if d[2] >= 0.0:
                z = cam[2] - radii[p] * wp.sqrt(d[2])
                behind = scene_depth[j, i]
                if behind <= 0.0 or z < behind:
                    wp.atomic_min(depth_key, j, i, z)


@wp.func
def _sample_map(depth_map: wp.array2d(dtype=float), s: float, t: float, depth: float) -> float:
    """Fraction of the 3x3 texels around normalised light coordinates (s, t) whose stored
    depth is at least ``depth`` (lit)."""
    size = depth_map.shape[0]
    si = int(s * float(size))
    ti = int(t * float(size))
    lit = 0.0
    for dj in range(-1, 2):
        for di in range(-1, 2):
            if depth <= depth_map[wp.clamp(ti + dj, 0, size - 1), wp.clamp(si + di, 0, size - 1)]:
                lit += 1.0
    return lit / 9.0


@wp.func
def _shadow_lookup(
    point: wp.vec3,
    light_view_proj: wp.mat44,
    mesh_shadow: wp.array2d(dtype=float),
    particle_shadow: wp.array2d(dtype=float),
    bias: float,
) -> float:
    """Light visibility of ``point`` (1 = lit) from the mesh and the particle depth maps."""
    lp = wp.transform_point(light_view_proj, point)
    s = lp[0] * 0.5 + 0.5
    t = lp[1] * 0.5 + 0.5
    depth = lp[2] * 0.5 + 0.5 - bias
    if s < 0.0 or t < 0.0 or s >= 1.0 or t >= 1.0 or depth > 1.0:
        return 1.0
    return _sample_map(mesh_shadow, s, t, depth) * _sample_map(particle_shadow, s, t, depth)


@wp.kernel
def splat_resolve(
    centers: wp.array(dtype=wp.vec3),
    next_centers: wp.array(dtype=wp.vec3),
    radii: wp.array(dtype=float),
    colors: wp.array(dtype=wp.vec3),
    ids: wp.array(dtype=int),
    view: wp.mat44,
    camera_to_world: wp.mat44,
    intrinsics: wp.vec4,
    near: float,
    next_view: wp.mat44,
    next_intrinsics: wp.vec4,
    light_dir: wp.vec3,
    light_view_proj: wp.mat44,
    light_depth_per_meter: float,
    use_shadow: int,
    mesh_shadow: wp.array2d(dtype=float),
    particle_shadow: wp.array2d(dtype=float),
    depth_key: wp.array2d(dtype=float),
    out_rgb: wp.array3d(dtype=wp.uint8),
    out_depth: wp.array2d(dtype=float),
    out_mask: wp.array2d(dtype=wp.uint16),
    out_normal: wp.array2d(dtype=wp.vec3),
    out_flow: wp.array2d(dtype=wp.vec2),
):
    """Write the attributes of the particle that won each pixel's depth test."""
    p = wp.tid()
    cam = wp.transform_point(view, centers[p])
    if cam[2] <= near + radii[p]:
        return
    f = _particle_footprint(cam, radii[p], intrinsics, depth_key.shape[1], depth_key.shape[0])
    fp = f.ellipse
    forced = f.forced
    box = f.box
    nxt = wp.transform_point(next_view, next_centers[p])
    next_u = next_intrinsics[0] * nxt[0] / nxt[2] + next_intrinsics[2]
    next_v = next_intrinsics[1] * nxt[1] / nxt[2] + next_intrinsics[3]
    shift = wp.vec2(next_u - fp[0], next_v - fp[1])  # the sphere translates as a whole
    bias = 2.0 * radii[p] * light_depth_per_meter + 0.002
    for j in range(box[2], box[3] + 1):
        for i in range(box[0], box[1] + 1):
            d = _offset(i, j, fp, forced)
            if d[2] >= 0.0:
                nz = wp.sqrt(d[2])
                z = cam[2] - radii[p] * nz
                if z == depth_key[j, i]:  # same arithmetic as splat_depth: exact match
                    n_cam = wp.vec3(d[0], d[1], -nz)
                    normal = wp.normalize(wp.transform_vector(camera_to_world, n_cam))
                    surface = wp.transform_point(
                        camera_to_world, cam + radii[p] * n_cam
                    )
                    lit = 1.0
                    if use_shadow == 1:
                        lit = _shadow_lookup(
                            surface, light_view_proj, mesh_shadow, particle_shadow, bias
                        )
                    shade = 0.32 + 0.68 * wp.max(wp.dot(normal, -light_dir), 0.0) * lit
                    c = colors[p] * shade
                    out_rgb[j, i, 0] = wp.uint8(int(wp.clamp(c[0], 0.0, 1.0) * 255.0 + 0.5))
                    out_rgb[j, i, 1] = wp.uint8(int(wp.clamp(c[1], 0.0, 1.0) * 255.0 + 0.5))
                    out_rgb[j, i, 2] = wp.uint8(int(wp.clamp(c[2], 0.0, 1.0) * 255.0 + 0.5))
                    out_depth[j, i] = z
                    out_mask[j, i] = wp.uint16(ids[p])
                    out_normal[j, i] = normal
                    out_flow[j, i] = shift


@wp.kernel
def splat_light_depth(
    centers: wp.array(dtype=wp.vec3),
    radii: wp.array(dtype=float),
    light_dir: wp.vec3,
    light_view_proj: wp.mat44,
    texels_per_meter: float,
    light_depth: wp.array2d(dtype=float),
):
    """Atomic-min the light-space depth (0..1) of each particle's light-facing point over its
    footprint in the light's depth map."""
    p = wp.tid()
    front = centers[p] - radii[p] * light_dir
    lp = wp.transform_point(light_view_proj, front)
    size = light_depth.shape[0]
    s = (lp[0] * 0.5 + 0.5) * float(size)
    t = (lp[1] * 0.5 + 0.5) * float(size)
    depth = lp[2] * 0.5 + 0.5
    r = wp.max(radii[p] * texels_per_meter, 0.5)
    for tj in range(int(wp.floor(t - r)), int(wp.floor(t + r)) + 1):
        for si in range(int(wp.floor(s - r)), int(wp.floor(s + r)) + 1):
            if si >= 0 and tj >= 0 and si < size and tj < size:
                ds = float(si) + 0.5 - s
                dt = float(tj) + 0.5 - t
                if ds * ds + dt * dt <= r * r + 0.5:
                    wp.atomic_min(light_depth, tj, si, depth)


def _mat44(matrix: np.ndarray) -> wp.mat44:
    return wp.mat44(*np.asarray(matrix, dtype=np.float32).ravel().tolist())


class ParticleSplatter:
    """Host side of the splatting kernels for one image size (numpy in, numpy out)."""

    def __init__(self, width: int, height: int, device: str = "cpu") -> None:
        wp.init()
        self.device = device
        self.width, self.height = int(width), int(height)
        self.key = wp.zeros((self.height, self.width), dtype=float, device=device)
        self._light: wp.array | None = None

    def light_depth(
        self,
        centers: np.ndarray,
        radii: np.ndarray,
        light_dir: np.ndarray,
        light_view_proj: np.ndarray,
        texels_per_meter: float,
        size: int,
    ) -> np.ndarray:
        """(size, size) float32 light depth map of the particles, 1.0 where empty. The array
        is reused by the next call."""
        if self._light is None or self._light.shape != (size, size):
            self._light = wp.zeros((size, size), dtype=float, device=self.device)
        self._light.fill_(1.0)
        wp.launch(
            splat_light_depth,
            dim=len(centers),
            inputs=[
                wp.array(centers, dtype=wp.vec3, device=self.device),
                wp.array(radii, dtype=float, device=self.device),
                wp.vec3(*np.asarray(light_dir, np.float32).tolist()),
                _mat44(light_view_proj),
                float(texels_per_meter),
                self._light,
            ],
            device=self.device,
        )
        return self._light.numpy()

    def splat(
        self,
        centers: np.ndarray,
        next_centers: np.ndarray,
        radii: np.ndarray,
        colors: np.ndarray,
        ids: np.ndarray,
        camera: dict,
        next_camera: dict,
        light: dict,
        outputs: dict[str, np.ndarray],
    ) -> None:
        """Draw particles into the (H, W[, C]) arrays of ``outputs`` (rgb uint8, depth float32
        with 0 = empty, mask uint16, normals float32 x3, flow float32 x2), in place, where they
        are in front of ``outputs["depth"]``.

        ``camera``/``next_camera``: view (4x4 world->camera), camera_to_world, intrinsics
        (fx, fy, cx, cy), near. ``light``: dir, view_proj, depth_per_meter, use_shadow,
        mesh_shadow and particle_shadow (S, S) float32 maps.
        """
        d = self.device
        self.key.fill_(FAR)
        c = wp.array(np.ascontiguousarray(centers, np.float32), dtype=wp.vec3, device=d)
        r = wp.array(np.ascontiguousarray(radii, np.float32), dtype=float, device=d)
        view = _mat44(camera["view"])
        intr = wp.vec4(*[float(v) for v in camera["intrinsics"]])
        wp.launch(
            splat_depth,
            dim=len(centers),
            inputs=[
                c, r, view, intr, float(camera["near"]),
                wp.array(outputs["depth"], dtype=float, device=d, copy=False), self.key,
            ],
            device=d,
        )  # fmt: skip
        wp.launch(
            splat_resolve,
            dim=len(centers),
            inputs=[
                c,
                wp.array(np.ascontiguousarray(next_centers, np.float32), dtype=wp.vec3, device=d),
                r,
                wp.array(np.ascontiguousarray(colors, np.float32), dtype=wp.vec3, device=d),
                wp.array(np.ascontiguousarray(ids, np.int32), dtype=int, device=d),
                view,
                _mat44(camera["camera_to_world"]),
                intr,
                float(camera["near"]),
                _mat44(next_camera["view"]),
                wp.vec4(*[float(v) for v in next_camera["intrinsics"]]),
                wp.vec3(*np.asarray(light["dir"], np.float32).tolist()),
                _mat44(light["view_proj"]),
                float(light["depth_per_meter"]),
                int(light["use_shadow"]),
                wp.array(light["mesh_shadow"], dtype=float, device=d, copy=False),
                wp.array(light["particle_shadow"], dtype=float, device=d, copy=False),
                self.key,
                wp.array(outputs["rgb"], dtype=wp.uint8, device=d, copy=False),
                wp.array(outputs["depth"], dtype=float, device=d, copy=False),
                wp.array(outputs["mask"], dtype=wp.uint16, device=d, copy=False),
                wp.array(outputs["normals"], dtype=wp.vec3, device=d, copy=False),
                wp.array(outputs["flow"], dtype=wp.vec2, device=d, copy=False),
            ],
            device=d,
        )
