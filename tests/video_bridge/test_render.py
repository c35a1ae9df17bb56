"""Renderer passes against analytic answers (headless OpenGL on EGL / llvmpipe)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import trimesh

import mpm
from mpm.trajectory import Track, Trajectory
from video_bridge.camera import Camera, CameraPath
from video_bridge.errors import CameraError, RenderError
from video_bridge.renderer import render

SIZE = (160, 120)


def _trajectory(tracks: dict[str, Track], frames: int) -> Trajectory:
    return Trajectory(
        times=np.arange(frames, dtype=np.float64) / 30.0, tracks=tracks, diagnostics={}, metadata={}
    )


def _mesh_track(mesh: trimesh.Trimesh, offsets: np.ndarray) -> Track:
    verts = np.asarray(mesh.vertices, dtype=np.float32)
    return Track(positions=verts[None] + offsets[:, None].astype(np.float32), faces=mesh.faces)


def _pixel_grid(camera: Camera) -> np.ndarray:
    v, u = np.mgrid[0 : camera.height, 0 : camera.width]
    return np.stack([u.ravel(), v.ravel()], axis=1).astype(np.float64)


def test_projection_roundtrip() -> None:
    """unproject(project(X), depth) == X to 1e-9 m for points in front of the camera."""
    cam = Camera.look_at(eye=(1.0, -2.0, 1.5), target=(0.1, 0.2, 0.3), size=(320, 240))
    rng = np.random.default_rng(0)
    points = rng.uniform(-0.5, 0.5, size=(200, 3))
    uv, depth = cam.project(points)
    assert np.all(depth > 0)
    np.testing.assert_allclose(cam.unproject(uv, depth), points, atol=1e-9)
    # the target projects to the principal point
    uv_t, _ = cam.project(np.array([[0.1, 0.2, 0.3]]))
    np.testing.assert_allclose(uv_t[0], (cam.cx, cam.cy), atol=1e-9)


def test_image_axes_follow_opencv_convention() -> None:
    """A point right of and above the target appears at larger u and smaller v."""
    cam = Camera.look_at(eye=(0.0, -2.0, 0.0), target=(0.0, 0.0, 0.0), size=(100, 100))
    uv, _ = cam.project(np.array([[0.2, 0.0, 0.1]]))
    assert uv[0, 0] > cam.cx and uv[0, 1] < cam.cy


def test_plane_depth_is_analytic() -> None:
    """Depth of a tilted view of the plane z = 0 equals the ray-plane intersection depth
    within 1 mm at every covered pixel."""
    plane = trimesh.creation.box(extents=(4.0, 4.0, 0.001))
    plane.vertices[:, 2] = np.where(plane.vertices[:, 2] > 0, 0.0, -0.001)
    traj = _trajectory({"plane": _mesh_track(plane, np.zeros((1, 3)))}, 1)
    cam = Camera.look_at(eye=(0.3, -1.2, 0.8), target=(0.0, 0.2, 0.0), size=SIZE)
    result = render(traj, CameraPath.static(cam, 1), size=SIZE, ground=False, shadows=False,
                    passes=("depth", "mask"), progress=False)  # fmt: skip
    pixels = _pixel_grid(cam)
    rays = cam.unproject(pixels, np.ones(len(pixels))) - cam.position  # world dir for z = 1
    t = -cam.position[2] / rays[:, 2]  # z_world(t) = 0; depth equals t for unit-z rays
    expected = t.reshape(cam.height, cam.width)
    covered = result.mask[0] == 2
    assert covered.mean() > 0.5
    error = np.abs(result.depth[0][covered] - expected[covered])
    assert error.max() < 1e-3, error.max()


def _sphere_scene(radius: float, distance: float) -> tuple[Trajectory, Camera]:
    sphere = trimesh.creation.icosphere(subdivisions=5, radius=radius)
    traj = _trajectory({"ball": _mesh_track(sphere, np.zeros((1, 3)))}, 1)
    cam = Camera.look_at(eye=(0.0, -distance, 0.0), target=(0.0, 0.0, 0.0), size=SIZE)
    return traj, cam


def test_sphere_depth_is_analytic() -> None:
    """Depth of a sphere equals the analytic ray-sphere depth within 1 mm (icosphere level 5:
    chord sagitta < 0.1 mm)."""
    radius, distance = 0.3, 1.5
    traj, cam = _sphere_scene(radius, distance)
    result = render(traj, CameraPath.static(cam, 1), size=SIZE, ground=False, shadows=False,
                    passes=("depth", "mask"), progress=False)  # fmt: skip
    pixels = _pixel_grid(cam)
    d = cam.unproject(pixels, np.ones(len(pixels))) - cam.position  # unit-depth ray
    c = cam.position  # sphere at the origin: |c + t d| = R
    a, b, cc = (d * d).sum(1), 2 * (d @ c), c @ c - radius**2
    disc = b * b - 4 * a * cc
    hit = disc > 0
    t = np.where(hit, (-b - np.sqrt(np.maximum(disc, 0))) / (2 * a), 0.0)
    expected = t.reshape(cam.height, cam.width)
    inner = (result.mask[0] == 2) & (disc.reshape(cam.height, cam.width) > 0.05 * disc.max())
    assert inner.sum() > 500
    error = np.abs(result.depth[0][inner] - expected[inner])
    assert error.max() < 1e-3, error.max()


def test_sphere_mask_area_matches_projected_area() -> None:
    """Mask area of a sphere on the optical axis equals the area of its projected disc,
    pi f^2 R^2 / (D^2 - R^2), within 2%."""
    radius, distance = 0.3, 1.5
    traj, cam = _sphere_scene(radius, distance)
    result = render(traj, CameraPath.static(cam, 1), size=SIZE, ground=False, shadows=False,
                    passes=("mask",), progress=False)  # fmt: skip
    area = np.count_nonzero(result.mask[0] == 2)
    expected = math.pi * cam.fx * cam.fy * radius**2 / (distance**2 - radius**2)
    assert abs(area - expected) / expected < 0.02, (area, expected)


def test_flow_of_translating_cube_is_its_projected_displacement() -> None:
    """Forward flow of a cube translating by (2, 1, 0.5) cm per frame equals the projected
    displacement of the visible surface point within 0.5 px (interior pixels)."""
    cube = trimesh.creation.box(extents=(0.3, 0.3, 0.3))
    cube = cube.subdivide().subdivide()
    step = np.array([0.02, 0.01, 0.005])
    traj = _trajectory({"cube": _mesh_track(cube, np.arange(3)[:, None] * step)}, 3)
    cam = Camera.look_at(eye=(0.9, -1.3, 0.8), target=(0.0, 0.0, 0.0), size=SIZE)
    result = render(traj, CameraPath.static(cam, 3), size=SIZE, ground=False, shadows=False,
                    passes=("depth", "mask", "flow"), progress=False)  # fmt: skip
    mask = result.mask[0] == 2
    # keep pixels whose 3x3 neighbourhood is all cube (edges mix two surfaces)
    inner = mask.copy()
    for dv in (-1, 0, 1):
        for du in (-1, 0, 1):
            inner &= np.roll(np.roll(mask, dv, 0), du, 1)
    pixels = _pixel_grid(cam).reshape(cam.height, cam.width, 2)[inner]
    points = cam.unproject(pixels, result.depth[0][inner])
    moved, _ = cam.project(points + step)
    expected = moved - pixels
    error = np.linalg.norm(result.flow[0][inner] - expected, axis=1)
    assert inner.sum() > 300
    assert error.max() < 0.5, error.max()
    assert np.abs(expected).max() > 2.0  # the test is not trivially satisfied by zero flow
    assert np.all(result.flow[-1] == 0.0)  # no next frame: zero flow


def test_particles_render_as_spheres_of_their_radius() -> None:
    """A single particle of volume V renders as a disc of the radius (3V/4pi)^(1/3): the
    mask area matches the projected disc within 5%, and its depth at the centre is D - r."""
    r, distance = 0.1, 1.0
    track = Track(
        positions=np.zeros((1, 1, 3), np.float32),
        attributes={"volume": np.array([4 / 3 * math.pi * r**3], np.float32)},
    )
    traj = _trajectory({"p": track}, 1)
    cam = Camera.look_at(eye=(0.0, -distance, 0.0), target=(0.0, 0.0, 0.0), size=SIZE)
    result = render(traj, CameraPath.static(cam, 1), size=SIZE, ground=False, shadows=False,
                    passes=("depth", "mask"), progress=False)  # fmt: skip
    area = np.count_nonzero(result.mask[0] == 2)
    expected = math.pi * (cam.fx * r / distance) ** 2
    assert abs(area - expected) / expected < 0.05, (area, expected)
    centre = result.depth[0][round(cam.cy), round(cam.cx)]
    assert abs(centre - (distance - r)) < 2e-3


def test_bad_inputs() -> None:
    cube = trimesh.creation.box(extents=(0.2, 0.2, 0.2))
    traj = _trajectory({"cube": _mesh_track(cube, np.zeros((2, 3)))}, 2)
    cam = Camera.look_at(eye=(0.0, -1.0, 0.0), target=(0.0, 0.0, 0.0), size=SIZE)
    with pytest.raises(RenderError, match="unknown render pass"):
        render(traj, CameraPath.static(cam, 2), size=SIZE, passes=("rgb", "albedo"))
    away = Camera.look_at(eye=(0.0, -1.0, 0.0), target=(0.0, -2.0, 0.0), size=SIZE)
    with pytest.raises(CameraError, match="behind the camera"):
        render(traj, CameraPath.static(away, 2), size=SIZE, progress=False)
    aside = Camera.look_at(eye=(3.0, -1.0, 0.0), target=(3.0, 0.0, 0.0), size=SIZE, fov_y=20)
    with pytest.raises(CameraError, match="field of view"):
        render(traj, CameraPath.static(aside, 2), size=SIZE, progress=False)
    with pytest.raises(CameraError, match="3 cameras"):
        render(traj, CameraPath.static(cam, 3), size=SIZE, progress=False)
    with pytest.raises(RenderError, match="unknown track"):
        render(traj, CameraPath.static(cam, 2), size=SIZE, tracks=["nope"], progress=False)


def test_render_takes_a_saved_trajectory_and_refuses_malformed_arguments(tmp_path) -> None:
    """render() takes the path of a saved trajectory and a comma-separated pass list as the
    command line does (the same images as from the object and a tuple), one Camera for all
    frames and a single track name, and renders at the camera path's own size (a default of
    512 x 512 stretched a 160 x 120 path's image); a size that contradicts the path, one
    that is not a pair of whole pixels within 16..8192, an empty pass list, or something that is
    neither a trajectory nor a path is refused with RenderError saying what is wrong (they
    failed with a bare TypeError, IndexError or AttributeError, or in the imaging library)."""
    cube = trimesh.creation.box(extents=(0.2, 0.2, 0.2))
    traj = _trajectory({"cube": _mesh_track(cube, np.zeros((2, 3)))}, 2)
    cam = Camera.look_at(eye=(0.0, -1.0, 0.0), target=(0.0, 0.0, 0.0), size=SIZE)
    path = tmp_path / "trajectory.npz"
    traj.save(path)
    from_path = render(str(path), CameraPath.static(cam, 2), size=SIZE, passes="rgb, depth",
                       progress=False)  # fmt: skip
    direct = render(traj, CameraPath.static(cam, 2), size=SIZE, passes=("rgb", "depth"),
                    progress=False)  # fmt: skip
    np.testing.assert_array_equal(from_path.rgb, direct.rgb)
    for size, message in ((64, "pair"), ((64,), "pair"), ((8, 8), "16..8192"),
                          ((64.5, 64), "whole")):  # fmt: skip
        with pytest.raises(RenderError, match=message):
            render(traj, "orbit", size=size, progress=False)
    with pytest.raises(RenderError, match="no render pass"):
        render(traj, "orbit", size=SIZE, passes="", progress=False)
    with pytest.raises(RenderError, match=r"takes an mpm\.Trajectory"):
        render(123, "orbit", size=SIZE, progress=False)
    one_camera = render(traj, cam, passes="rgb", tracks="cube", progress=False)
    assert one_camera.rgb.shape == (2, SIZE[1], SIZE[0], 3)  # the camera's size, one string
    np.testing.assert_array_equal(one_camera.rgb, direct.rgb)
    with pytest.raises(RenderError, match="made for 160x120 px"):
        render(traj, CameraPath.static(cam, 2), size=(512, 512), progress=False)


def test_rendered_jelly_drop_follows_centre_of_mass() -> None:
    """A rendered drop is not blank, and in every frame the object's mask centroid is within
    2 px of its simulated centre of mass projected into the image."""
    sim = mpm.Simulator(domain_min=(-0.3, -0.3, -0.1), domain_max=(0.3, 0.3, 0.5), dx=0.02)
    sim.add_object(
        "cube", mpm.Box(size=(0.12, 0.12, 0.12), center=(0, 0, 0.25)), mpm.materials.preset("jelly")
    )
    sim.add_collider(mpm.colliders.Ground(height=0.0))
    traj = sim.run(duration=0.5, fps=20, progress=False)
    cam = Camera.look_at(eye=(0.0, -1.2, 0.25), target=(0.0, 0.0, 0.15), size=(200, 200))
    result = render(traj, CameraPath.static(cam, traj.num_frames), size=(200, 200),
                    progress=False)  # fmt: skip
    assert result.rgb.std() > 10  # not blank
    cube_id = next(k for k, v in result.labels.items() if v == "cube_surface")
    com = traj.diagnostics["center_of_mass:cube"]
    uv, _ = cam.project(com)
    for t in range(traj.num_frames):
        rows, cols = np.nonzero(result.mask[t] == cube_id)
        assert len(rows) > 100
        centroid = np.array([cols.mean(), rows.mean()])
        assert np.linalg.norm(centroid - uv[t]) < 2.0, (t, centroid, uv[t])


def test_flow_of_static_ground_seen_by_moving_camera() -> None:
    """Camera motion alone: the flow of a large static plane (two triangles reaching behind
    the camera) equals the reprojection of each pixel's 3D point into the next camera, within
    0.5 px. Per-vertex flow would fail here: it is not affine in the image."""
    plane = trimesh.Trimesh(
        vertices=[[-50, -50, 0], [50, -50, 0], [50, 50, 0], [-50, 50, 0]],
        faces=[[0, 1, 2], [0, 2, 3]],
    )
    traj = _trajectory({"plane": _mesh_track(plane, np.zeros((2, 3)))}, 2)
    path = CameraPath.orbit(center=(0.0, 0.0, 0.0), radius=1.5, height=0.6, num_frames=2,
                            sweep=3.0, size=SIZE)  # fmt: skip
    result = render(traj, path, size=SIZE, ground=False, shadows=False,
                    passes=("depth", "mask", "flow"), progress=False)  # fmt: skip
    covered = result.mask[0] == 2
    pixels = _pixel_grid(path[0]).reshape(SIZE[1], SIZE[0], 2)[covered]
    points = path[0].unproject(pixels, result.depth[0][covered])
    expected = path[1].project(points)[0] - pixels
    error = np.linalg.norm(result.flow[0][covered] - expected, axis=1)
    assert covered.mean() > 0.3 and np.abs(expected).max() > 2.0
    assert error.max() < 0.5, error.max()
