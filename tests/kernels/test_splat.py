"""Warp particle splatting against a brute-force numpy z-buffer."""

from __future__ import annotations

import numpy as np

from kernels.warp.splat import ParticleSplatter


def _reference(centers, radii, view, intr, scene_depth):
    """Per pixel, the nearest sphere-impostor surface (same footprint rule as the kernel)."""
    fx, fy, cx, cy = intr
    h, w = scene_depth.shape
    depth = np.where(scene_depth > 0, scene_depth, np.inf).astype(np.float64)
    owner = np.full((h, w), -1)
    jj, ii = np.mgrid[0:h, 0:w]
    for p, (c, r) in enumerate(zip(centers, radii, strict=True)):
        cam = view[:3, :3] @ c + view[:3, 3]
        u, v = fx * cam[0] / cam[2] + cx, fy * cam[1] / cam[2] + cy
        rx, ry = fx * r / cam[2], fy * r / cam[2]
        q = 1 - ((ii - u) / rx) ** 2 - ((jj - v) / ry) ** 2
        inside = q >= 0
        if not inside.any():  # sub-pixel: the nearest pixel, at the centre depth
            inside = (ii == int(np.round(u))) & (jj == int(np.round(v)))
            q = np.ones_like(q)
        z = cam[2] - r * np.sqrt(np.clip(q, 0, None))
        win = inside & (z < depth)
        depth[win] = z[win]
        owner[win] = p
    return depth, owner


def test_splat_matches_numpy_zbuffer() -> None:
    """Depth equals the brute-force nearest impostor depth (1e-5 m) and the instance id the
    owning particle's, with scene geometry occluding particles behind it."""
    rng = np.random.default_rng(0)
    n, w, h = 60, 48, 40
    centers = rng.uniform([-0.3, -0.25, 1.0], [0.3, 0.25, 1.6], size=(n, 3)).astype(np.float32)
    radii = rng.uniform(0.005, 0.05, n).astype(np.float32)
    view = np.eye(4)
    intr = (40.0, 40.0, (w - 1) / 2, (h - 1) / 2)
    scene = np.zeros((h, w), np.float32)
    scene[:, : w // 3] = 1.2  # a wall in front of some particles
    outputs = {
        "rgb": np.zeros((h, w, 3), np.uint8),
        "depth": scene.copy(),
        "mask": np.zeros((h, w), np.uint16),
        "normals": np.zeros((h, w, 3), np.float32),
        "flow": np.zeros((h, w, 2), np.float32),
    }
    camera = {"view": view, "camera_to_world": view, "intrinsics": intr, "near": 0.01}
    light = {
        "dir": np.array([0.0, 0.0, 1.0]),
        "view_proj": np.eye(4),
        "depth_per_meter": 0.5,
        "use_shadow": 0,
        "mesh_shadow": np.ones((8, 8), np.float32),
        "particle_shadow": np.ones((8, 8), np.float32),
    }
    ids = np.arange(n, dtype=np.int32) + 2
    shifted = centers + np.float32([0.01, 0.0, 0.0])
    ParticleSplatter(w, h).splat(
        centers, shifted, radii, np.ones((n, 3), np.float32), ids, camera, camera, light, outputs
    )
    depth, owner = _reference(centers.astype(np.float64), radii, view, intr, scene)
    hit = owner >= 0
    assert hit.sum() > 100
    np.testing.assert_allclose(outputs["depth"][hit], depth[hit], atol=1e-5)
    np.testing.assert_array_equal(outputs["mask"][hit], owner[hit] + 2)
    np.testing.assert_array_equal(outputs["mask"][~hit], 0)  # scene or empty: untouched
    np.testing.assert_array_equal(outputs["depth"][~hit], scene[~hit])
    normals = outputs["normals"][hit]
    np.testing.assert_allclose(np.linalg.norm(normals, axis=1), 1.0, atol=1e-5)
    assert np.all(normals[:, 2] <= 0)  # facing the camera (which looks along +z)
    # flow: the projected shift of the owning particle's centre (fx * 0.01 / z)
    z = centers[owner[hit], 2]
    np.testing.assert_allclose(outputs["flow"][hit][:, 0], 40.0 * 0.01 / z, rtol=1e-4)
