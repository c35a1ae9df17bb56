"""Inverse kinematics: the latent state (and rigid placement) whose decoded shape best explains
an observed, possibly partial, point cloud without correspondences."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import trimesh

from neurok.emulator import BoundShape, surface_samples
from neurok.errors import LatentError
from neurok.geometry import rotation_matrix
from neurok.model import NeuROK


@dataclass(frozen=True)
class FitResult:
    """Outcome of :func:`fit`.

    Attributes:
        z: (state_dim,) latent. rotation: (3, 3) and translation (3,) [m] of the body frame.
        points: (S, 3) decoded surface samples in the world [m]. loss: final Chamfer loss [m^2].
    """

    z: np.ndarray
    rotation: np.ndarray
    translation: np.ndarray
    points: np.ndarray
    loss: float


def fit(
    model: NeuROK,
    rest_mesh: trimesh.Trimesh,
    observed_points: np.ndarray,
    partial: bool = False,
    iterations: int = 60,
    num_samples: int = 512,
    restarts: int = 4,
    seed: int = 0,
) -> FitResult:
    """Fit latent z and a rigid placement so the decoded rest surface matches
    ``observed_points`` ((M, 3) [m], world frame).

    A rigid ICP of the undeformed shape from several initial orientations (principal axes,
    then ``restarts`` x 3 of the identity and 90/180-degree turns) gives the placement;
    non-rigid ICP (nearest neighbours + Gauss-Newton) then fits z together with the
    placement. ``partial`` down-weights
    the model-to-observation term for clouds that see only part of the object.

    Raises:
        LatentError: no or non-finite observed points.
    """
    observed = np.asarray(observed_points, dtype=np.float64)
    if observed.ndim != 2 or observed.shape[1] != 3 or len(observed) == 0:
        raise LatentError(f"observed_points must be (M, 3) with M > 0, got {observed.shape}.")
    if not np.isfinite(observed).all():
        raise LatentError("observed_points contain NaN or infinite values.")
    samples = surface_samples(rest_mesh, num_samples, seed)
    bound = BoundShape(model, rest_mesh, points=samples)
    target = torch.as_tensor(observed)
    rest = bound.body_positions(torch.zeros(bound.state_dim, dtype=torch.float64))
    rotation, translation = _rigid_init(rest.detach().numpy(), observed, restarts, partial)
    return _fit_joint(bound, target, rotation, translation, partial, iterations)


def _rigid_init(
    model_points: np.ndarray, observed: np.ndarray, restarts: int, partial: bool
) -> tuple[np.ndarray, np.ndarray]:
    """Rigid ICP (symmetric nearest neighbours + Kabsch) of the undeformed shape onto the
    observation, from the principal-axes alignments, the identity and rotations of 90/180
    degrees about each axis; best (R, t) by Chamfer."""
    from scipy.spatial import cKDTree
    from scipy.spatial.transform import Rotation

    from neurok.geometry import kabsch

    candidates = _principal_alignments(model_points, observed) + [np.eye(3)] + [
        Rotation.from_rotvec(axis * angle).as_matrix()
        for angle in (np.pi / 2, np.pi, -np.pi / 2) for axis in np.eye(3)
    ]  # fmt: skip
    observed_tree = cKDTree(observed)
    best = (np.inf, np.eye(3), observed.mean(axis=0))
    for R in candidates[: 4 + max(restarts, 1) * 3]:
        t = observed.mean(axis=0) - model_points.mean(axis=0) @ R.T
        for _ in range(40):
            moved = model_points @ R.T + t
            _, to_observed = observed_tree.query(moved)
            pairs_src, pairs_dst = [model_points], [observed[to_observed]]
            if not partial:
                _, to_model = cKDTree(moved).query(observed)
                pairs_src.append(model_points[to_model])
                pairs_dst.append(observed)
            R, t = kabsch(np.concatenate(pairs_src), np.concatenate(pairs_dst))
        moved = model_points @ R.T + t
        error = observed_tree.query(moved)[0].mean() + cKDTree(moved).query(observed)[0].mean()
        if error < best[0]:
            best = (error, R, t)
    return best[1], best[2]


def _principal_alignments(source: np.ndarray, target: np.ndarray) -> list[np.ndarray]:
    """The 4 proper rotations taking the principal axes of ``source`` onto those of
    ``target`` (axis signs are ambiguous)."""

    def axes(points: np.ndarray) -> np.ndarray:
        centred = points - points.mean(axis=0)
        _, vectors = np.linalg.eigh(centred.T @ centred)
        return vectors[:, ::-1]

    a, b = axes(source), axes(target)
    out = []
    for signs in ((1, 1, 1), (1, -1, -1), (-1, 1, -1), (-1, -1, 1)):
        R = b @ np.diag(signs) @ a.T
        if np.linalg.det(R) < 0:
            R = b @ np.diag(signs) @ np.diag((1, 1, -1)) @ a.T
        out.append(R)
    return out


def _fit_joint(
    bound: BoundShape,
    target: torch.Tensor,
    rotation: np.ndarray,
    translation0: np.ndarray,
    partial: bool,
    iterations: int,
) -> FitResult:
    """Non-rigid ICP in the latent space: alternate nearest-neighbour correspondences (both
    directions) with damped Gauss-Newton steps on q = (translation, rotation correction, z),
    the Jacobian coming from the dynamics' batched finite differences; best iterate kept."""
    from scipy.spatial import cKDTree

    from neurok.dynamics import LatentDynamics
    from neurok.emulator import MaterialParams, _body_of

    dynamics = LatentDynamics(_body_of(bound, MaterialParams()), contact=None)
    dynamics.R0 = torch.as_tensor(rotation, dtype=torch.float64)
    n = 6 + bound.state_dim
    q = torch.zeros(n, dtype=torch.float64)
    q[:3] = torch.as_tensor(translation0)
    observed = target.numpy()
    observed_tree = cKDTree(observed)
    weight_back = 0.1 if partial else 1.0
    damping = 1e-6
    best: FitResult | None = None
    for _ in range(iterations):
        x, J, _, _ = dynamics.kinematics(q, torch.zeros_like(q))
        points = x.numpy()
        _, to_observed = observed_tree.query(points)
        _, to_model = cKDTree(points).query(observed)
        loss = float(np.mean(np.sum((points - observed[to_observed]) ** 2, axis=1))
                     + weight_back * np.mean(np.sum((points[to_model] - observed) ** 2, axis=1)))
        if best is None or loss < best.loss:
            best = FitResult(
                z=q[6:].numpy().copy(),
                rotation=(dynamics.R0 @ rotation_matrix(q[3:6])).numpy(),
                translation=q[:3].numpy().copy(),
                points=points.copy(),
                loss=loss,
            )
        elif loss > 1.5 * best.loss:  # diverging: back off
            damping *= 10
        J3 = J.reshape(len(points), 3, n)
        rows = [J3.reshape(-1, n) / np.sqrt(len(points)),
                J3[to_model].reshape(-1, n) * np.sqrt(weight_back / len(observed))]
        residual = [torch.as_tensor(points - observed[to_observed]).reshape(-1)
                    / np.sqrt(len(points)),
                    torch.as_tensor(points[to_model] - observed).reshape(-1)
                    * np.sqrt(weight_back / len(observed))]  # fmt: skip
        A, r = torch.cat(rows), torch.cat(residual)
        H = A.T @ A
        H = H + damping * torch.diag(torch.diagonal(H)) + 1e-12 * torch.eye(n, dtype=H.dtype)
        step = torch.linalg.solve(H, A.T @ r)
        q = q - step
        if float(step.norm()) < 1e-9:
            break
    assert best is not None
    return best
