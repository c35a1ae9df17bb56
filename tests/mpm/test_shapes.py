"""Tests of mpm.shapes: sampled volume and placement, determinism, surface meshes, mesh files,
point sets, and the error raised for each kind of bad input."""

from __future__ import annotations

import dataclasses
import math
import os
from pathlib import Path

import numpy as np
import pytest
import trimesh

from assets import ASSETS_DIR, asset_path
from mpm.errors import MeshFileError, ShapeError
from mpm.meshio import RayWinding, surface_distance
from mpm.rotation import euler_to_matrix
from mpm.shapes import (
    Box,
    Cylinder,
    MeshShape,
    PointSet,
    SampledShape,
    Shape,
    Sphere,
    Torus,
)

BUNNY = "assets/meshes/bunny.obj"


def rng(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)


def local(points: np.ndarray, center, rotation=(0.0, 0.0, 0.0)) -> np.ndarray:
    """World -> shape frame, computed independently of mpm.shapes."""
    return (np.asarray(points, np.float64) - np.asarray(center)) @ euler_to_matrix(rotation)


# shape, analytic volume [m^3], analytic inside test in the shape frame (with tolerance tol)
SPHERE = Sphere(radius=0.1, center=(0.3, 0.2, 0.5))
BOX = Box(size=(0.2, 0.1, 0.15), center=(0.5, 0.5, 0.5), rotation=(10, 20, 30))
TORUS = Torus(major_radius=0.2, minor_radius=0.1, center=(0.0, 0.0, 1.0), rotation=(30, 0, 0))
CYLINDER = Cylinder(radius=0.1, height=0.3, center=(1.0, 1.0, 1.0), rotation=(0, 45, 0))
TOL = 1e-6  # [m] float32 rounding of positions near 1 m


def in_sphere(p):
    return np.linalg.norm(local(p, SPHERE.center), axis=1) <= 0.1 + TOL


def in_box(p):
    return (np.abs(local(p, BOX.center, BOX.rotation)) <= np.array([0.1, 0.05, 0.075]) + TOL).all(1)


def in_torus(p):
    q = local(p, TORUS.center, TORUS.rotation)
    return np.hypot(np.hypot(q[:, 0], q[:, 1]) - 0.2, q[:, 2]) <= 0.1 + TOL


def in_cylinder(p):
    q = local(p, CYLINDER.center, CYLINDER.rotation)
    return (np.hypot(q[:, 0], q[:, 1]) <= 0.1 + TOL) & (np.abs(q[:, 2]) <= 0.15 + TOL)


PRIMITIVES = {
    "sphere": (SPHERE, 4.0 / 3.0 * math.pi * 0.1**3, in_sphere),
    "box": (BOX, 0.2 * 0.1 * 0.15, in_box),
    "torus": (TORUS, 2.0 * math.pi**2 * 0.2 * 0.1**2, in_torus),
    "cylinder": (CYLINDER, math.pi * 0.1**2 * 0.3, in_cylinder),
}


# ------------------------------------------------------------------------------------------
# Primitives: volume, placement, determinism, rotation.
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", PRIMITIVES)
def test_sampled_volume_matches_analytic(name: str) -> None:
    shape, volume, inside = PRIMITIVES[name]
    lo, hi = shape.bounds()
    spacing = float((hi - lo).max()) / 20.0
    sample = shape.sample(spacing, rng(0))
    assert isinstance(sample, SampledShape)
    assert sample.positions.dtype == np.float32 and sample.positions.shape[1] == 3
    assert sample.volumes.dtype == np.float32 and sample.volumes.shape == (len(sample.positions),)
    # every particle carries the lattice cell volume spacing^3
    np.testing.assert_allclose(sample.volumes, spacing**3, rtol=1e-6)
    # sum of particle volumes = analytic volume within 3 % at spacing = size / 20
    assert abs(sample.total_volume / volume - 1.0) < 0.03, (name, sample.total_volume, volume)
    # every particle lies inside the analytic solid (float32 tolerance 1e-6 m)
    assert inside(sample.positions).all(), name


@pytest.mark.parametrize("name", PRIMITIVES)
def test_jitter_within_bound_and_deterministic(name: str) -> None:
    shape = PRIMITIVES[name][0]
    spacing = 0.02
    a = shape.sample(spacing, rng(1), jitter=0.25)
    b = shape.sample(spacing, rng(1), jitter=0.25)
    c = shape.sample(spacing, rng(2), jitter=0.25)
    # same seed -> bit-identical particles
    np.testing.assert_array_equal(a.positions, b.positions)
    # another seed -> different jitter
    assert a.positions.shape != c.positions.shape or not np.array_equal(a.positions, c.positions)
    # each particle is within jitter*spacing of a lattice cell centre (k + 1/2) * spacing per axis
    offset = a.positions / spacing - 0.5
    assert np.abs(offset - np.round(offset)).max() <= 0.25 + 1e-3


def test_zero_jitter_is_the_regular_lattice_and_leaves_rng_alone() -> None:
    generator = rng(3)
    state = generator.bit_generator.state
    sample = SPHERE.sample(0.02, generator, jitter=0.0)
    offset = sample.positions.astype(np.float64) / 0.02 - 0.5
    # positions are exactly cell centres (to float32 precision)
    assert np.abs(offset - np.round(offset)).max() < 1e-4
    assert generator.bit_generator.state == state  # no random numbers drawn without jitter


def test_rotated_box_extents() -> None:
    box = Box(size=(0.4, 0.1, 0.1), center=(0.0, 0.0, 0.0), rotation=(0, 0, 45))
    lo, hi = box.bounds()
    diag = (0.4 + 0.1) / math.sqrt(2.0)
    # exact AABB of a box turned 45 degrees about z: (sx + sy) / sqrt(2) in x and y
    np.testing.assert_allclose(hi - lo, [diag, diag, 0.1], atol=1e-12)
    spacing = 0.005
    p = box.sample(spacing, rng(0)).positions
    extent = p.max(0) - p.min(0)
    # particle extents match the rotated box within two lattice spacings
    np.testing.assert_allclose(extent, [diag, diag, 0.1], atol=2 * spacing)
    # the long axis now runs along (1, 1, 0): particles far out along it exist, not along (1,-1,0)
    along = p[:, :2] @ np.array([1.0, 1.0]) / math.sqrt(2.0)
    across = p[:, :2] @ np.array([1.0, -1.0]) / math.sqrt(2.0)
    assert along.max() > 0.19 and np.abs(across).max() < 0.05 + 1e-6


def test_cylinder_and_torus_bounds_when_rotated() -> None:
    cyl = Cylinder(radius=0.1, height=0.4, center=(0, 0, 0), rotation=(90, 0, 0))
    lo, hi = cyl.bounds()
    # axis along -y after 90 deg about x: half extents (r, h/2, r)
    np.testing.assert_allclose(hi, [0.1, 0.2, 0.1], atol=1e-12)
    tor = Torus(major_radius=0.3, minor_radius=0.05, center=(1, 2, 3), rotation=(0, 90, 0))
    lo, hi = tor.bounds()
    # ring in the yz plane: half extents (r, R + r, R + r)
    np.testing.assert_allclose(hi - np.array([1, 2, 3]), [0.05, 0.35, 0.35], atol=1e-12)
    for shape in (cyl, tor):  # sampled particles stay inside bounds()
        p = shape.sample(0.02, rng(0)).positions
        lo, hi = shape.bounds()
        assert (p >= lo - 1e-6).all() and (p <= hi + 1e-6).all()


# ------------------------------------------------------------------------------------------
# Surface meshes.
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", PRIMITIVES)
def test_surface_mesh_closed_and_accurate(name: str) -> None:
    shape, volume, _ = PRIMITIVES[name]
    mesh = shape.surface_mesh()
    assert mesh.is_watertight and mesh.is_winding_consistent, name
    assert mesh.volume > 0, "outward winding gives positive volume"
    # enclosed volume within 2 % of the analytic solid (polygonal approximation)
    assert abs(mesh.volume / volume - 1.0) < 0.02, (name, mesh.volume, volume)
    # the sampled object carries the same mesh, float32 vertices and int64 faces
    sample = shape.sample(0.03, rng(0))
    assert sample.surface_vertices.dtype == np.float32
    assert sample.surface_faces.dtype == np.int64
    np.testing.assert_allclose(sample.surface_vertices, mesh.vertices, atol=1e-6)


def test_surface_vertices_on_analytic_surface() -> None:
    v = SPHERE.surface_mesh().vertices
    # icosphere vertices lie on the sphere
    np.testing.assert_allclose(np.linalg.norm(v - SPHERE.center, axis=1), 0.1, rtol=1e-9)
    q = local(BOX.surface_mesh().vertices, BOX.center, BOX.rotation)
    # every box vertex lies on a face: max |q_i| / half_i == 1
    assert np.allclose((np.abs(q) / [0.1, 0.05, 0.075]).max(1), 1.0)
    edges = BOX.surface_mesh().edges_unique_length
    # subdivided for surface tracking: no edge longer than size / 8 (diagonals up to sqrt 2)
    assert edges.max() <= math.sqrt(2) * 0.2 / 8 + 1e-9 and len(BOX.surface_mesh().faces) > 12


# ------------------------------------------------------------------------------------------
# Mesh files.
# ------------------------------------------------------------------------------------------


def test_bunny_asset_is_a_closed_manifold() -> None:
    mesh = trimesh.load(asset_path("meshes", "bunny.obj"), force="mesh")
    assert mesh.is_watertight and mesh.is_winding_consistent and mesh.volume > 0
    assert mesh.euler_number == 2 and mesh.body_count == 1, "one genus-0 solid"
    assert len(mesh.faces) < 4000
    # about one unit tall, bounding box centred at the origin (Z up)
    np.testing.assert_allclose(mesh.extents[2], 1.0, atol=1e-5)
    np.testing.assert_allclose(mesh.bounds.mean(0), 0.0, atol=1e-5)
    star = trimesh.load(asset_path("meshes", "star_prism.obj"), force="mesh")
    assert star.is_watertight and star.is_winding_consistent and star.volume > 0


def test_bunny_meshshape_samples_inside_its_bounds() -> None:
    shape = MeshShape(BUNNY, scale=0.3, center=(0.5, 0.5, 0.2))
    lo, hi = shape.bounds()
    # bounding-box centre placed at `center`; uniform scale 0.3 of a 1-unit-tall mesh
    np.testing.assert_allclose(0.5 * (lo + hi), [0.5, 0.5, 0.2], atol=1e-9)
    np.testing.assert_allclose(hi[2] - lo[2], 0.3, atol=1e-6)
    sample = shape.sample(0.3 / 25, rng(0))
    assert (sample.positions >= lo - 1e-6).all() and (sample.positions <= hi + 1e-6).all()
    mesh = shape.surface_mesh()
    assert mesh.is_watertight
    # sampled volume within 3 % of the mesh's enclosed volume
    assert abs(sample.total_volume / mesh.volume - 1.0) < 0.03
    # the inside test agrees with trimesh's ray test on random points (independent reference)
    pts = rng(5).uniform(lo, hi, size=(400, 3))
    np.testing.assert_array_equal(shape.contains(pts), mesh.contains(pts))


def test_meshshape_paths_from_any_cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    a = MeshShape(BUNNY)  # relative to the repository root, not the cwd
    b = MeshShape(Path(BUNNY))  # pathlib.Path accepted
    c = MeshShape(ASSETS_DIR / "meshes" / "bunny.obj")
    assert a.path == b.path == c.path and a.path.is_absolute()
    # center=None keeps the file position (the bunny's box is centred at the origin)
    np.testing.assert_allclose(np.add(*a.bounds()) / 2, 0.0, atol=1e-5)


def test_meshshape_scale_and_rotation() -> None:
    base = MeshShape(BUNNY)
    tall = MeshShape(BUNNY, scale=(1.0, 1.0, 2.0))
    turned = MeshShape(BUNNY, rotation=(0, 0, 90), center=(0, 0, 0))
    ext = base.bounds()[1] - base.bounds()[0]
    # per-axis scale doubles the height only
    np.testing.assert_allclose(tall.bounds()[1] - tall.bounds()[0], ext * [1, 1, 2], rtol=1e-6)
    # 90 degrees about z swaps the x and y extents
    np.testing.assert_allclose(
        turned.bounds()[1] - turned.bounds()[0], ext[[1, 0, 2]], rtol=1e-6
    )


def test_glb_scene_is_merged_and_converted_to_z_up(tmp_path: Path) -> None:
    a = trimesh.creation.box(extents=(0.1, 0.3, 0.2))  # 0.3 along glTF's up axis (Y)
    b = trimesh.creation.box(extents=(0.1, 0.3, 0.2))
    b.apply_translation((1.0, 0.0, 0.0))
    path = tmp_path / "two_boxes.glb"
    trimesh.Scene([a, b]).export(path)
    shape = MeshShape(path, center=(0, 0, 1))
    ext = shape.bounds()[1] - shape.bounds()[0]
    # both boxes kept; glTF +Y becomes world +Z, so the 0.3 edge is vertical
    np.testing.assert_allclose(ext, [1.1, 0.2, 0.3], atol=1e-6)
    np.testing.assert_allclose(shape.surface_mesh().volume, 2 * 0.1 * 0.3 * 0.2, rtol=1e-6)
    kept = MeshShape(path, up_axis="z")
    np.testing.assert_allclose(kept.bounds()[1] - kept.bounds()[0], [1.1, 0.3, 0.2], atol=1e-6)


def _write_obj(path: Path, mesh: trimesh.Trimesh, faces: np.ndarray | None = None) -> Path:
    f = mesh.faces if faces is None else faces
    lines = [f"v {x} {y} {z}" for x, y, z in mesh.vertices]
    lines += [f"f {i + 1} {j + 1} {k + 1}" for i, j, k in f]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_meshshape_repairs_trivial_defects(tmp_path: Path) -> None:
    box = trimesh.creation.box(extents=(0.2, 0.2, 0.2))
    holed = _write_obj(tmp_path / "holed.obj", box, box.faces[1:])  # one triangle missing
    inverted = _write_obj(tmp_path / "inverted.obj", box, box.faces[:, ::-1])  # inward normals
    mixed = box.faces.copy()
    mixed[::3] = mixed[::3, ::-1]
    scrambled = _write_obj(tmp_path / "scrambled.obj", box, mixed)  # inconsistent winding
    for path in (holed, inverted, scrambled):
        mesh = MeshShape(path).surface_mesh()
        # repaired into a closed, outward solid of the right volume
        assert mesh.is_watertight and mesh.is_winding_consistent and mesh.volume > 0
        np.testing.assert_allclose(mesh.volume, 0.008, rtol=1e-9)


def test_ray_winding_is_robust_on_edges_and_vertices() -> None:
    box = trimesh.creation.box(extents=(1.0, 1.0, 1.0))
    inside = RayWinding(box.vertices, box.faces)
    # vertical rays through the projected face diagonals and centre (degenerate cases)
    grid = np.stack(np.meshgrid(*[[-0.25, 0.0, 0.25]] * 3, indexing="ij"), -1).reshape(-1, 3)
    assert inside(grid).all() and not inside(grid + np.array([0, 0, 1.0])).any()
    ico = trimesh.creation.icosphere(subdivisions=3)
    inside = RayWinding(ico.vertices, ico.faces)
    for xyz in (ico.vertices, ico.vertices[ico.edges_unique].mean(1)):
        xyz = xyz[np.abs(xyz[:, 2]) > 0.1]  # rays exactly through vertices / along edges
        assert inside(np.c_[xyz[:, :2], 0.5 * xyz[:, 2]]).all()
        assert not inside(np.c_[xyz[:, :2], np.full(len(xyz), 2.0)]).any()


def test_ray_winding_classifies_points_of_a_sphere_by_their_radius() -> None:
    """Points more than the mesh's chord error (1e-2 of the radius) from a unit icosphere's
    surface are inside exactly when their radius is below 1, on and off the binning grid."""
    ico = trimesh.creation.icosphere(subdivisions=4)
    points = np.random.default_rng(3).uniform(-1.3, 1.3, (20000, 3))
    radius = np.linalg.norm(points, axis=1)
    clear = np.abs(radius - 1.0) > 1e-2
    inside = RayWinding(ico.vertices, ico.faces)(points[clear])
    np.testing.assert_array_equal(inside, radius[clear] < 1.0)


def test_surface_distance_is_the_nearest_triangle_distance() -> None:
    """Against a brute force over every triangle (trimesh's closest point on each): equal to
    1e-12 m for points inside, outside and on the bunny (0 on its vertices and edges); the
    bounding-sphere pruning must not skip the nearest triangle."""
    bunny = trimesh.load(asset_path("meshes", "bunny.obj"), force="mesh")
    rng = np.random.default_rng(4)
    low, high = bunny.bounds
    points = np.concatenate([
        rng.uniform(low - 0.05, high + 0.05, (150, 3)),
        bunny.vertices[rng.choice(len(bunny.vertices), 20)],
        bunny.vertices[bunny.edges_unique[:20]].mean(axis=1),
    ])  # fmt: skip
    triangles = bunny.vertices[bunny.faces]
    brute = np.array([
        np.linalg.norm(trimesh.triangles.closest_point(
            triangles, np.repeat(p[None], len(triangles), axis=0)) - p, axis=1).min()
        for p in points
    ])  # fmt: skip
    distance = surface_distance(points, bunny.vertices, bunny.faces)
    np.testing.assert_allclose(distance, brute, rtol=0, atol=1e-12)
    assert np.all(distance[150:] < 1e-12)


def test_mesh_file_errors(tmp_path: Path) -> None:
    with pytest.raises(MeshFileError) as err:
        MeshShape("no/such/mesh.obj")
    msg = str(err.value)
    # names the path, the cwd-resolved absolute path and the supported formats
    assert "no/such/mesh.obj" in msg and os.path.join(os.getcwd(), "no/such/mesh.obj") in msg
    assert "OBJ" in msg and "GLB" in msg
    assert isinstance(err.value, FileNotFoundError) and isinstance(err.value, ShapeError)

    (tmp_path / "m.xyz1").write_text("1 2 3\n")
    with pytest.raises(MeshFileError, match="unsupported mesh format"):
        MeshShape(tmp_path / "m.xyz1")
    (tmp_path / "empty.obj").write_text("# nothing\n")
    with pytest.raises(MeshFileError, match="no triangles"):
        MeshShape(tmp_path / "empty.obj")
    (tmp_path / "junk.stl").write_bytes(b"\x00\x01garbage")
    with pytest.raises(MeshFileError):
        MeshShape(tmp_path / "junk.stl")


def test_open_mesh_raises_shape_error(tmp_path: Path) -> None:
    tube = trimesh.creation.cylinder(radius=0.1, height=0.2, sections=16)
    side = tube.faces[np.abs(tube.face_normals[:, 2]) < 0.5]  # drop both caps
    path = _write_obj(tmp_path / "tube.obj", tube, side)
    with pytest.raises(ShapeError, match="not watertight") as err:
        MeshShape(path)
    assert "PointSet" in str(err.value) and "trimesh.repair" in str(err.value)


# ------------------------------------------------------------------------------------------
# Point sets.
# ------------------------------------------------------------------------------------------


def test_pointset_returns_points_and_volumes() -> None:
    pts = rng(0).uniform(0, 1, size=(50, 3))
    generator = rng(9)
    state = generator.bit_generator.state
    s = PointSet(pts).sample(0.1, generator)
    # points as given (float32), default volume spacing^3, no surface, rng untouched
    np.testing.assert_allclose(s.positions, pts, rtol=1e-6)
    np.testing.assert_allclose(s.volumes, 1e-3, rtol=1e-6)
    assert s.surface_vertices is None and s.surface_faces is None
    assert generator.bit_generator.state == state
    np.testing.assert_allclose(PointSet(pts, particle_volume=2e-6).sample(0.1, rng()).volumes, 2e-6)
    vols = np.linspace(1e-6, 2e-6, 50)
    np.testing.assert_allclose(PointSet(pts, volumes=vols).sample(0.1, rng()).volumes, vols)
    assert PointSet(pts).surface_mesh() is None
    np.testing.assert_allclose(PointSet(pts).bounds()[0], pts.min(0), rtol=1e-6)


def test_caller_arrays_are_not_mutated_or_shared() -> None:
    size, center = np.array([0.2, 0.2, 0.2]), np.array([0.5, 0.5, 0.5])
    box = Box(size=size, center=center)
    size[:] = 9.0
    center[:] = 9.0
    assert box.size == (0.2, 0.2, 0.2) and box.center == (0.5, 0.5, 0.5)  # copied into tuples

    pts = rng(0).uniform(0, 1, size=(20, 3))
    vols = np.full(20, 1e-6)
    before_pts, before_vols = pts.copy(), vols.copy()
    shape = PointSet(pts, volumes=vols)
    sample = shape.sample(0.1, rng())
    np.testing.assert_array_equal(pts, before_pts)
    np.testing.assert_array_equal(vols, before_vols)
    pts[:] = -1.0  # later changes by the caller do not reach the shape
    sample.positions[:] = 5.0  # nor do changes to a returned sample
    np.testing.assert_allclose(shape.points, before_pts, rtol=1e-6)
    assert not shape.points.flags.writeable

    with pytest.raises(dataclasses.FrozenInstanceError):
        box.size = (1.0, 1.0, 1.0)  # type: ignore[misc]
    assert Box(size=(0.2, 0.2, 0.2), center=(0.5, 0.5, 0.5)) == box  # value semantics


# ------------------------------------------------------------------------------------------
# Bad input: each raises the specific error with a message naming the problem.
# ------------------------------------------------------------------------------------------

C = (0.0, 0.0, 0.0)
PTS = np.zeros((4, 3))


@pytest.mark.parametrize(
    ("make", "phrase"),
    [
        (lambda: Sphere(radius=-0.1, center=C), "Sphere.radius must be a finite number > 0"),
        (lambda: Sphere(radius=float("nan"), center=C), "got nan"),
        (lambda: Sphere(radius="big", center=C), "Sphere.radius"),
        (lambda: Box(size=(0.1, 0.1), center=C), "Box.size must be 3 finite numbers > 0"),
        (lambda: Box(size=(0.1, 0.0, 0.1), center=C), "Box.size"),
        (lambda: Box(size=(0.1, 0.1, 0.1), center=(0.0, 0.0)), "Box.center"),
        (lambda: Box(size=(0.1, 0.1, 0.1), center=C, rotation=(0, math.inf, 0)), "Box.rotation"),
        (lambda: Cylinder(radius=0.1, height=0.0, center=C), "Cylinder.height"),
        (lambda: Cylinder(radius=-1, height=0.1, center=C), "Cylinder.radius"),
        (lambda: Torus(major_radius=0.1, minor_radius=0.2, center=C), "smaller than major"),
        (lambda: Torus(major_radius=0.0, minor_radius=0.2, center=C), "Torus.major_radius"),
        (lambda: MeshShape(BUNNY, scale=0.0), "MeshShape.scale"),
        (lambda: MeshShape(BUNNY, scale=(1.0, 1.0)), "MeshShape.scale"),
        (lambda: MeshShape(BUNNY, up_axis="x"), "MeshShape.up_axis"),
        (lambda: MeshShape(BUNNY, center=(0.0, 0.0)), "MeshShape.center"),
        (lambda: MeshShape(42), "MeshShape.path must be a str or pathlib.Path"),
        (lambda: PointSet(np.zeros((4, 2))), "(N, 3)"),
        (lambda: PointSet(np.zeros((0, 3))), "non-empty"),
        (lambda: PointSet(np.full((4, 3), np.nan)), "finite"),
        (lambda: PointSet(PTS, volumes=np.ones(3)), "PointSet.volumes must be 4"),
        (lambda: PointSet(PTS, volumes=-np.ones(4)), "PointSet.volumes"),
        (lambda: PointSet(PTS, volumes=np.ones(4), particle_volume=1.0), "not both"),
        (lambda: PointSet(PTS, particle_volume=0.0), "PointSet.particle_volume"),
    ],
)
def test_bad_parameters_raise_shape_error(make, phrase: str) -> None:
    with pytest.raises(ShapeError) as err:
        make()
    # the message names the parameter / problem and says how to fix it
    assert phrase in str(err.value) and "Fix" in str(err.value), str(err.value)


@pytest.mark.parametrize(
    ("kwargs", "phrase"),
    [
        ({"spacing": 0.0}, "spacing must be a finite number > 0"),
        ({"spacing": -0.01}, "got -0.01"),
        ({"spacing": float("nan")}, "spacing"),
        ({"spacing": 0.01, "jitter": 0.5}, "jitter must be in [0, 0.5)"),
        ({"spacing": 0.01, "jitter": -0.1}, "jitter"),
        ({"spacing": 0.01, "rng": 42}, "numpy.random.Generator"),
    ],
)
@pytest.mark.parametrize("shape", [SPHERE, PointSet(PTS)], ids=["sphere", "pointset"])
def test_bad_sampling_arguments(shape: Shape, kwargs: dict, phrase: str) -> None:
    args = {"rng": rng(), "jitter": 0.25, **kwargs}
    with pytest.raises(ShapeError) as err:
        shape.sample(args["spacing"], args["rng"], args["jitter"])
    assert phrase in str(err.value)


def test_object_smaller_than_spacing_raises() -> None:
    tiny = Sphere(radius=0.001, center=(0.0, 0.0, 0.0))  # lattice centres at +-0.05 miss it
    with pytest.raises(ShapeError, match="smaller than the particle spacing") as err:
        tiny.sample(0.1, rng())
    assert "smaller dx" in str(err.value) and "particles per cell" in str(err.value)


def test_absurd_lattice_is_refused_before_allocation() -> None:
    with pytest.raises(ShapeError, match="candidate lattice points"):
        Box(size=(10.0, 10.0, 10.0), center=C).sample(1e-4, rng())


def test_asset_path() -> None:
    assert asset_path("meshes", "bunny.obj").is_file()
    with pytest.raises(FileNotFoundError, match=r"bunny\.obj"):  # lists what exists
        asset_path("meshes", "bunny2.obj")
