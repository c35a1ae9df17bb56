"""Rotations, dual quaternions, deformation gradients, energy and shape metrics (neurok)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import trimesh
from scipy.spatial.transform import Rotation

from neurok.geometry import (
    DeformationGradient,
    chamfer,
    dq_apply,
    dual_quaternion,
    kabsch,
    kabsch_batch,
    neo_hookean_density,
    rigid_transform,
    rotation_matrix,
    surface_chamfer,
    voxel_iou,
)


def test_rotation_matrix_matches_scipy_and_is_smooth_at_zero() -> None:
    """Rodrigues agrees with scipy to 1e-12, including tiny angles (1e-9 rad)."""
    rng = np.random.default_rng(0)
    vectors = np.concatenate([rng.normal(size=(20, 3)), 1e-9 * rng.normal(size=(3, 3))])
    ours = rotation_matrix(torch.as_tensor(vectors)).numpy()
    np.testing.assert_allclose(ours, Rotation.from_rotvec(vectors).as_matrix(), atol=1e-12)


def test_dual_quaternion_applies_rotation_then_translation() -> None:
    """A dual quaternion built from (r, t) maps p to R p + t (1e-12)."""
    rng = np.random.default_rng(1)
    r, t, p = (torch.as_tensor(rng.normal(size=(10, 3))) for _ in range(3))
    expected = torch.einsum("nij,nj->ni", rotation_matrix(r), p) + t
    torch.testing.assert_close(dq_apply(dual_quaternion(r, t), p), expected, atol=1e-12, rtol=0)


def test_rigid_transform_is_the_dual_quaternion_transform() -> None:
    """The decoder's inference shortcut maps points exactly as the dual quaternion of the same
    (r, t) does (1e-12), for finite and tiny (1e-9 rad) rotations."""
    rng = np.random.default_rng(2)
    r = torch.as_tensor(np.concatenate([rng.normal(size=(10, 3)), 1e-9 * rng.normal(size=(3, 3))]))
    t, p = (torch.as_tensor(rng.normal(size=(13, 3))) for _ in range(2))
    torch.testing.assert_close(
        rigid_transform(r, t, p), dq_apply(dual_quaternion(r, t), p), atol=1e-12, rtol=0
    )


def test_deformation_gradient_is_exact_for_affine_motion() -> None:
    """For x = A X + b the moving-least-squares F equals A at every point (1e-10)."""
    rng = np.random.default_rng(2)
    rest = rng.uniform(-0.1, 0.1, size=(200, 3))
    A = np.eye(3) + 0.2 * rng.normal(size=(3, 3))
    grad = DeformationGradient(rest)
    F = grad(torch.as_tensor(rest @ A.T + 0.3))
    np.testing.assert_allclose(F.numpy(), np.broadcast_to(A, F.shape), atol=1e-10)


def test_neo_hookean_energy_vanishes_at_rest_and_under_rotation_only() -> None:
    """Psi(I) = Psi(R) = 0 and Psi > 0 for a stretch (frame indifference)."""
    R = rotation_matrix(torch.tensor([0.3, -0.2, 0.5], dtype=torch.float64))
    stretch = torch.diag(torch.tensor([1.1, 1.0, 0.95], dtype=torch.float64))
    values = neo_hookean_density(torch.stack([torch.eye(3, dtype=torch.float64), R, stretch]),
                                 mu=1e4, lam=2e4)  # fmt: skip
    assert abs(float(values[0])) < 1e-9 and abs(float(values[1])) < 1e-9
    assert float(values[2]) > 10.0


def test_batched_kabsch_matches_one_at_a_time() -> None:
    """kabsch_batch gives each source's own Kabsch fit (1e-12), including noisy sources and a
    mirrored one, where the best proper rotation needs the determinant correction."""
    rng = np.random.default_rng(4)
    target = rng.normal(size=(40, 3))
    sources = np.stack([
        target @ Rotation.random(random_state=i).as_matrix().T + rng.normal(size=3)
        + 0.05 * rng.normal(size=target.shape) for i in range(6)
    ])  # fmt: skip
    sources[2] *= [1.0, 1.0, -1.0]  # a reflection: no proper rotation maps it exactly
    R, t = kabsch_batch(sources, target)
    for i, source in enumerate(sources):
        R_one, t_one = kabsch(source, target)
        np.testing.assert_allclose(R[i], R_one, atol=1e-12)
        np.testing.assert_allclose(t[i], t_one, atol=1e-12)
    assert np.allclose(np.linalg.det(R), 1.0)


def test_weighted_batched_kabsch() -> None:
    """kabsch_batch with weights: equal weights give the unweighted fit (1e-12); points of
    weight zero do not count (the fit equals the unweighted fit of the others alone, though
    the zero-weight points are far off); integer weights act as repeated points (1e-12)."""
    rng = np.random.default_rng(6)
    target = rng.normal(size=(30, 3))
    sources = np.stack([target @ Rotation.random(random_state=i).as_matrix().T
                        + 0.05 * rng.normal(size=target.shape) for i in range(4)])  # fmt: skip
    R, t = kabsch_batch(sources, target)
    R_eq, t_eq = kabsch_batch(sources, target, np.full(30, 2.5))
    np.testing.assert_allclose(R_eq, R, atol=1e-12)
    np.testing.assert_allclose(t_eq, t, atol=1e-12)
    weights = np.ones(30)
    weights[20:] = 0.0
    moved = sources.copy()
    moved[:, 20:] += 10.0  # the ignored points far off
    R_w, t_w = kabsch_batch(moved, target, weights)
    R_20, t_20 = kabsch_batch(sources[:, :20], target[:20])
    np.testing.assert_allclose(R_w, R_20, atol=1e-12)
    np.testing.assert_allclose(t_w, t_20, atol=1e-12)
    counts = rng.integers(1, 4, size=30)
    R_c, t_c = kabsch_batch(sources, target, counts.astype(float))
    R_r, t_r = kabsch_batch(np.repeat(sources, counts, axis=1), np.repeat(target, counts, axis=0))
    np.testing.assert_allclose(R_c, R_r, atol=1e-12)
    np.testing.assert_allclose(t_c, t_r, atol=1e-12)


def test_kabsch_chamfer_and_iou() -> None:
    """Kabsch recovers a rigid motion (1e-10); Chamfer of a set with itself is 0 and of a
    set shifted by s is s (L1) and s^2 (L2); solid IoU of cubes is 1, 1/3 and 0 when shifted by
    0, half and twice the side."""
    rng = np.random.default_rng(3)
    points = rng.normal(size=(100, 3))
    R = Rotation.from_rotvec([0.4, 0.1, -0.7]).as_matrix()
    R_fit, t_fit = kabsch(points, points @ R.T + [1.0, 2.0, 3.0])
    np.testing.assert_allclose(R_fit, R, atol=1e-10)
    np.testing.assert_allclose(t_fit, [1.0, 2.0, 3.0], atol=1e-10)
    assert chamfer(points, points) == (0.0, 0.0)
    grid = np.stack(np.meshgrid(*[np.arange(5.0)] * 3), -1).reshape(-1, 3)
    l1, l2 = chamfer(grid, grid + np.array([0.0, 0.0, 0.1]))
    assert l1 == pytest.approx(0.1) and l2 == pytest.approx(0.01)
    # solid IoU: a unit cube against itself shifted by half its side overlaps 1/2, the
    # union is 3/2, so IoU = 1/3 (48 cells over the 1.5 m joint box: the faces fall on cell
    # boundaries, so the voxel count is exact)
    cube = trimesh.creation.box(extents=(1.0, 1.0, 1.0))
    v, f = np.asarray(cube.vertices), np.asarray(cube.faces)
    assert voxel_iou(v, v, f) == 1.0
    half = voxel_iou(v, v + np.array([0.5, 0.0, 0.0]), f, resolution=48)
    assert half == pytest.approx(1 / 3, rel=1e-9)
    assert voxel_iou(v, v + np.array([2.0, 0.0, 0.0]), f) == 0.0


def test_surface_chamfer_ignores_sampling_and_spin() -> None:
    """A sphere turned about its centre is the same surface: surface Chamfer ~0 (the
    icosphere's facets differ by < 1e-3 of the radius), where Chamfer of the vertex sets is
    of the order of the vertex spacing. A unit cube lifted by s: the points of its top and
    bottom faces (1/3 of the area) are s from the other cube, its sides lie on the other's
    sides, so L1 = s / 3 (10 %: the strips near the edges, and sampling)."""
    sphere = trimesh.creation.icosphere(subdivisions=3, radius=1.0)
    v, f = np.asarray(sphere.vertices), np.asarray(sphere.faces)
    turned = v @ Rotation.from_rotvec([0.3, 0.2, 0.1]).as_matrix().T
    assert surface_chamfer(v, turned, f)[0] < 2e-3
    assert chamfer(v, turned)[0] > 10 * surface_chamfer(v, turned, f)[0]
    cube = trimesh.creation.box(extents=(1.0, 1.0, 1.0))
    cv, cf = np.asarray(cube.vertices), np.asarray(cube.faces)
    lifted = surface_chamfer(cv, cv + np.array([0.0, 0.0, 0.01]), cf)[0]
    assert lifted == pytest.approx(0.01 / 3, rel=0.1)
    # two meshes of different triangulation: the same cube subdivided is at 0, lifted at s/3
    fine = cube.subdivide().subdivide()
    fv, ff = np.asarray(fine.vertices), np.asarray(fine.faces)
    assert surface_chamfer(cv, fv, cf, faces_b=ff)[0] < 1e-9
    shifted = surface_chamfer(cv, fv + np.array([0.0, 0.0, 0.01]), cf, faces_b=ff)[0]
    assert shifted == pytest.approx(0.01 / 3, rel=0.1)


def test_contact_samples_are_spread_evenly_over_the_surface() -> None:
    """The emulator's contact samples (neurok.binding.even_surface_samples) lie on the
    surface (1e-12 m) and no two are closer than half the spacing the area allows, h =
    sqrt(area / count) (measured 0.69-0.71 h on a cube and the bunny; purely random
    area-uniform samples come within 0.09-0.11 h of each other, and their clumps and gaps
    tilt the floor's force). The same seed gives the same samples; no samples asked is a
    SettingsError."""
    from scipy.spatial import cKDTree

    from mpm.meshio import surface_distance
    from neurok.binding import even_surface_samples
    from neurok.errors import SettingsError

    bunny = trimesh.load("assets/meshes/bunny.obj", force="mesh")
    for mesh in (trimesh.creation.box((1.0, 1.0, 1.0)), bunny):
        samples = even_surface_samples(mesh, 192, seed=1)
        assert samples.shape == (192, 3)
        assert surface_distance(samples, mesh.vertices, mesh.faces).max() < 1e-12
        nearest, _ = cKDTree(samples).query(samples, k=2)
        assert nearest[:, 1].min() > 0.5 * np.sqrt(mesh.area / 192)
        np.testing.assert_array_equal(samples, even_surface_samples(mesh, 192, seed=1))
    with pytest.raises(SettingsError, match="count >= 1"):
        even_surface_samples(bunny, 0)
