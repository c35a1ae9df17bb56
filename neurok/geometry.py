"""Geometry for the emulator (torch, differentiable): rotations, dual quaternions, deformation
gradients of a point cloud, neo-Hookean energy, and shape metrics (Chamfer, voxel IoU).

Dual quaternions carry a per-point rigid transform (rotation + translation): a decoder that
outputs them bends and twists parts of a shape without the shrinking that interpolated
displacements show under rotation.
"""

from __future__ import annotations

import numpy as np
import torch
import trimesh
from scipy.spatial import cKDTree

from mpm.meshio import RayWinding, surface_distance


def _sinc_terms(angle: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """sin(a)/a and (1 - cos(a))/a^2, smooth through a = 0 (Taylor below 1e-3)."""
    small = angle < 1e-3
    safe = torch.where(small, torch.ones_like(angle), angle)
    a2 = angle * angle
    sin_a = torch.where(small, 1 - a2 / 6, torch.sin(safe) / safe)
    cos_a = torch.where(small, 0.5 - a2 / 24, (1 - torch.cos(safe)) / (safe * safe))
    return sin_a, cos_a


def rotation_matrix(rotvec: torch.Tensor) -> torch.Tensor:
    """(..., 3) rotation vectors [rad] -> (..., 3, 3) matrices (Rodrigues, smooth at 0)."""
    angle = torch.sqrt(torch.sum(rotvec * rotvec, dim=-1) + 1e-30)
    a, b = _sinc_terms(angle)
    x, y, z = rotvec.unbind(-1)
    zero = torch.zeros_like(x)
    K = torch.stack([zero, -z, y, z, zero, -x, -y, x, zero], dim=-1).reshape(*x.shape, 3, 3)
    eye = torch.eye(3, dtype=rotvec.dtype, device=rotvec.device).expand(K.shape)
    return eye + a[..., None, None] * K + b[..., None, None] * (K @ K)


def quaternion(rotvec: torch.Tensor) -> torch.Tensor:
    """(..., 3) rotation vectors -> (..., 4) unit quaternions (w, x, y, z)."""
    angle = torch.sqrt(torch.sum(rotvec * rotvec, dim=-1, keepdim=True) + 1e-30)
    half = 0.5 * angle
    small = angle < 1e-3
    safe = torch.where(small, torch.ones_like(angle), angle)
    scale = torch.where(small, 0.5 - angle * angle / 48, torch.sin(half) / safe)
    return torch.cat([torch.cos(half), rotvec * scale], dim=-1)


def _qmul(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    aw, ax, ay, az = a.unbind(-1)
    bw, bx, by, bz = b.unbind(-1)
    return torch.stack(
        [
            aw * bw - ax * bx - ay * by - az * bz,
            aw * bx + ax * bw + ay * bz - az * by,
            aw * by - ax * bz + ay * bw + az * bx,
            aw * bz + ax * by - ay * bx + az * bw,
        ],
        dim=-1,
    )


def dual_quaternion(rotvec: torch.Tensor, translation: torch.Tensor) -> torch.Tensor:
    """Rigid transforms x -> R x + t as (..., 8) unit dual quaternions (real, dual)."""
    real = quaternion(rotvec)
    pure_t = torch.cat([torch.zeros_like(translation[..., :1]), translation], dim=-1)
    return torch.cat([real, 0.5 * _qmul(pure_t, real)], dim=-1)


def dq_apply(dq: torch.Tensor, points: torch.Tensor) -> torch.Tensor:
    """Apply (..., 8) dual quaternions (normalised first, so blends work) to (..., 3) points."""
    real, dual = dq[..., :4], dq[..., 4:]
    norm = torch.linalg.norm(real, dim=-1, keepdim=True).clamp_min(1e-12)
    real, dual = real / norm, dual / norm
    w, v = real[..., :1], real[..., 1:]
    # rotation of p by a unit quaternion: p + 2 w (v x p) + 2 v x (v x p)
    cross = torch.cross(v, points, dim=-1)
    rotated = points + 2 * w * cross + 2 * torch.cross(v, cross, dim=-1)
    conj = torch.cat([real[..., :1], -real[..., 1:]], dim=-1)
    translation = 2 * _qmul(dual, conj)[..., 1:]
    return rotated + translation


def rigid_transform(
    rotvec: torch.Tensor, translation: torch.Tensor, points: torch.Tensor
) -> torch.Tensor:
    """R(rotvec) p + t for (..., 3) arrays: the transform ``dq_apply(dual_quaternion(rotvec,
    translation), points)`` performs, in a third of the operations (no dual part is formed:
    one unit dual quaternion, unblended, is just a rotation then a translation)."""
    real = quaternion(rotvec)
    w, v = real[..., :1], real[..., 1:]
    cross = torch.cross(v, points, dim=-1)
    return points + 2 * w * cross + 2 * torch.cross(v, cross, dim=-1) + translation


class DeformationGradient:
    """Deformation gradients of a point cloud by moving least squares over k neighbours.

    For rest points X_i with neighbours j, F_i minimises sum_j w_ij |F (X_j - X_i) - (x_j - x_i)|^2
    with Gaussian weights: F_i = (sum_j w_ij dx_ij dX_ij^T) A_i^-1, A_i = sum_j w_ij dX_ij dX_ij^T.
    F is linear in the deformed positions x, exact for affine motions, and differentiable.
    """

    def __init__(self, rest: np.ndarray, neighbours: int = 12) -> None:
        rest = np.asarray(rest, dtype=np.float64)
        k = min(neighbours + 1, len(rest))
        distances, index = cKDTree(rest).query(rest, k=k)
        self.index = torch.as_tensor(index[:, 1:], dtype=torch.long)  # (N, k)
        spacing = float(np.median(distances[:, 1]))
        weights = np.exp(-((distances[:, 1:] / (2.0 * spacing)) ** 2))
        dX = rest[index[:, 1:]] - rest[:, None, :]  # (N, k, 3)
        A = np.einsum("nk,nki,nkj->nij", weights, dX, dX)
        A = A + 1e-12 * np.trace(A, axis1=1, axis2=2)[:, None, None] * np.eye(3)
        self.weights = torch.as_tensor(weights)
        # per-neighbour coefficient b_ij = w_ij A_i^-1 dX_ij, so F_i = sum_j dx_ij b_ij^T
        coefficients = np.einsum("nk,nij,nkj->nki", weights, np.linalg.inv(A), dX)
        self.coefficients = torch.as_tensor(coefficients)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        """(N, 3) deformed positions (the rest points moved) -> (N, 3, 3) gradients."""
        coefficients = self.coefficients.to(dtype=x.dtype, device=x.device)
        dx = x[self.index.to(x.device)] - x[:, None, :]  # (N, k, 3)
        return torch.einsum("nki,nkj->nij", dx, coefficients)


def neo_hookean_density(F: torch.Tensor, mu: float, lam: float) -> torch.Tensor:
    """Stored energy density [J/m^3] of compressible neo-Hookean material, per (..., 3, 3) F:
    mu/2 (tr(F^T F) - 3) - mu log J + lam/2 (log J)^2 (J clamped at 1e-3 against inversion)."""
    J = torch.linalg.det(F).clamp_min(1e-3)
    log_j = torch.log(J)
    return 0.5 * mu * (torch.sum(F * F, dim=(-2, -1)) - 3) - mu * log_j + 0.5 * lam * log_j**2


def lame(E: float, nu: float) -> tuple[float, float]:
    """Lame parameters (mu, lambda) [Pa] from Young's modulus and Poisson's ratio."""
    return E / (2 * (1 + nu)), E * nu / ((1 + nu) * (1 - 2 * nu))


def kabsch(source: np.ndarray, target: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Best rigid (R, t) with R source + t ~ target (corresponding (N, 3) points), no scale."""
    cs, ct = source.mean(axis=0), target.mean(axis=0)
    H = (source - cs).T @ (target - ct)
    U, _, Vt = np.linalg.svd(H)
    d = np.sign(np.linalg.det(Vt.T @ U.T))
    R = Vt.T @ np.diag([1.0, 1.0, d]) @ U.T
    return R, ct - R @ cs


def kabsch_batch(
    sources: np.ndarray, target: np.ndarray, weights: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`kabsch` of each of (B, N, 3) ``sources`` onto one (N, 3) ``target`` in a few
    batched array operations: (R (B, 3, 3), t (B, 3)). With ``weights`` (N,), e.g. masses,
    the fit minimises the weighted squared distances (weighted centroids and covariance)."""
    if weights is None:
        cs, ct = sources.mean(axis=1), target.mean(axis=0)
        H = np.swapaxes(sources - cs[:, None], 1, 2) @ (target - ct)
    else:
        share = np.asarray(weights, dtype=np.float64) / np.sum(weights)
        cs, ct = np.einsum("n,bnd->bd", share, sources), share @ target
        H = np.swapaxes(sources - cs[:, None], 1, 2) @ (share[:, None] * (target - ct))
    U, _, Vt = np.linalg.svd(H)
    V, Ut = np.swapaxes(Vt, 1, 2), np.swapaxes(U, 1, 2)
    d = np.sign(np.linalg.det(V @ Ut))
    V[:, :, 2] *= d[:, None]
    R = V @ Ut
    return R, ct - (R @ cs[:, :, None])[:, :, 0]


def chamfer(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    """(L1, L2) Chamfer distances between point sets: the mean nearest-neighbour distance and
    the mean squared nearest-neighbour distance, each averaged over both directions."""
    da, _ = cKDTree(b).query(a)
    db, _ = cKDTree(a).query(b)
    return 0.5 * float(da.mean() + db.mean()), 0.5 * float((da**2).mean() + (db**2).mean())


def surface_chamfer(
    vertices_a: np.ndarray, vertices_b: np.ndarray, faces: np.ndarray, samples: int = 2048,
    faces_b: np.ndarray | None = None,
) -> tuple[float, float]:  # fmt: skip
    """(L1, L2) Chamfer distances between two surfaces with the same ``faces`` (or B with its
    own ``faces_b``): the mean (and mean squared) distance from area-uniform samples of each
    surface to the other surface, averaged over both directions. Unlike :func:`chamfer` on
    vertex sets it is zero for any two placements of the same surface (e.g. a sphere fitted
    with another spin)."""
    mesh_a = (np.asarray(vertices_a, np.float64), faces)
    mesh_b = (np.asarray(vertices_b, np.float64), faces if faces_b is None else faces_b)
    distances = []
    for (vs, fs), (vt, ft) in ((mesh_a, mesh_b), (mesh_b, mesh_a)):
        mesh_s = trimesh.Trimesh(vs, fs, process=False)
        points, _ = trimesh.sample.sample_surface(mesh_s, samples, seed=0)
        distances.append(surface_distance(points, vt, ft))
    da, db = distances
    return 0.5 * float(da.mean() + db.mean()), 0.5 * float((da**2).mean() + (db**2).mean())


def voxel_iou(
    vertices_a: np.ndarray, vertices_b: np.ndarray, faces: np.ndarray, resolution: int = 32
) -> float:
    """Intersection over union of the solids enclosed by two closed meshes with the same
    ``faces`` (e.g. a fitted and an observed deformation of one rest mesh): occupancy of the
    voxel centres of a common grid with ``resolution`` cells along the longest side of the
    joint bounding box, inside by winding number."""
    low = np.minimum(vertices_a.min(axis=0), vertices_b.min(axis=0))
    high = np.maximum(vertices_a.max(axis=0), vertices_b.max(axis=0))
    spacing = float((high - low).max()) / resolution
    axes = [np.arange(lo + spacing / 2, hi, spacing) for lo, hi in zip(low, high, strict=True)]
    centres = np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1).reshape(-1, 3)
    inside_a = RayWinding(np.asarray(vertices_a), faces)(centres)
    inside_b = RayWinding(np.asarray(vertices_b), faces)(centres)
    return float(np.sum(inside_a & inside_b) / max(np.sum(inside_a | inside_b), 1))
