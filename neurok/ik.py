"""Inverse kinematics: the latent state (and rigid placement) whose decoded shape best explains
an observed, possibly partial, point cloud without correspondences."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import trimesh

from neurok.arguments import as_mesh, as_model, check_size
from neurok.binding import BoundShape, body_of, surface_samples
from neurok.errors import LatentError, SettingsError
from neurok.geometry import rotation_matrix
from neurok.material import MaterialParams
from neurok.model import NeuROK

logger = logging.getLogger("emu4d.neurok")

PRIOR_WEIGHT = 0.3  # weight of the small-deformation prior in a partial fit (see _fit_joint)
TANGENT_WEIGHT = 0.1  # point-to-point share of the ICP residual (the rest: point-to-plane)


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
    model: NeuROK | str,
    rest_mesh: trimesh.Trimesh | str | Any,
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
    placement. ``partial`` (clouds that see only part of the object) down-weights the
    model-to-observation term, which has no counterpart where the scan is blind, and adds a
    prior for small deformations so the unseen side stays plausible.

    A cloud whose size differs from the mesh's by more than a factor of 3 (a scan in
    millimetres, say) is fitted all the same, with a warning.

    ``model`` may be a checkpoint path, ``rest_mesh`` a mesh file or an mpm shape.

    Raises:
        SettingsError: a count (iterations, restarts, num_samples) that is not a whole number
            large enough. MeshError: a mesh far outside 0.01-20 m across (not metres).
        LatentError: non-finite observed points, or fewer than 2 (6 + k) of them (k latents):
            each point constrains the fit along one direction (its surface normal), so
            fewer leave the 6 placement and k shape unknowns underdetermined.
    """
    model = as_model(model, "neurok.fit")
    rest_mesh = as_mesh(rest_mesh, "neurok.fit")
    check_size(rest_mesh, "neurok.fit")
    for name, value, least in (("iterations", iterations, 1), ("restarts", restarts, 0),
                               ("num_samples", num_samples, 16)):  # fmt: skip
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < least:
            raise SettingsError(f"neurok.fit: {name} must be a whole number >= {least}, got "
                                f"{value!r}.")  # fmt: skip
    observed = np.asarray(observed_points, dtype=np.float64)
    if observed.ndim != 2 or observed.shape[1] != 3:
        raise LatentError(f"observed_points must be (M, 3), got {observed.shape}.")
    needed = 2 * (6 + model.state_dim)
    if len(observed) < needed:
        raise LatentError(
            f"observed_points has {len(observed)} points; a fit of the placement and "
            f"{model.state_dim} latents needs at least {needed}."
        )
    if not np.isfinite(observed).all():
        raise LatentError("observed_points contain NaN or infinite values.")
    size = float(np.ptp(observed, axis=0).max()) / float(rest_mesh.extents.max())
    if not (partial or size > 1 / 3) or size > 3:
        logger.warning(
            "neurok.fit: the observed cloud is %.3g times the rest mesh's size; are both "
            "in metres?", size,
        )  # fmt: skip
    samples = surface_samples(rest_mesh, num_samples, seed)
    bound = BoundShape(model, rest_mesh, points=samples)
    return fit_bound(bound, observed, partial, iterations, restarts)


def fit_bound(
    bound: Any, observed: np.ndarray, partial: bool = False, iterations: int = 60,
    restarts: int = 4,
) -> FitResult:  # fmt: skip
    """:func:`fit` for a shape already bound to its sample points: anything with
    ``body_positions(z)``, ``state_dim``, ``rest``, ``mesh``, ``weights`` and
    ``contact_radius`` like :class:`neurok.binding.BoundShape` (the evaluation also passes
    a linear PCA shape)."""
    observed = np.asarray(observed, dtype=np.float64)
    rest = bound.body_positions(torch.zeros(bound.state_dim, dtype=torch.float64))
    rotation, translation = rigid_icp(rest.detach().numpy(), observed, restarts, partial)
    return _fit_joint(bound, torch.as_tensor(observed), rotation, translation, partial,
                      iterations)  # fmt: skip


def rigid_icp(
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
            # every observed point has a counterpart on the model; the model's points have
            # one in the observation only if it sees the whole object
            _, to_model = cKDTree(moved).query(observed)
            pairs_src, pairs_dst = [model_points[to_model]], [observed]
            if not partial:
                _, to_observed = observed_tree.query(moved)
                pairs_src.append(model_points)
                pairs_dst.append(observed[to_observed])
            R, t = kabsch(np.concatenate(pairs_src), np.concatenate(pairs_dst))
        moved = model_points @ R.T + t
        error = cKDTree(moved).query(observed)[0].mean()
        if not partial:
            error += observed_tree.query(moved)[0].mean()
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
    directions, point-to-plane plus a little point-to-point) with damped Gauss-Newton steps
    on q = (translation, rotation correction, z), the Jacobian coming from the dynamics'
    batched finite differences; best iterate kept."""
    from scipy.spatial import cKDTree

    from neurok.dynamics import LatentDynamics

    dynamics = LatentDynamics(body_of(bound, MaterialParams()), contact=None)
    dynamics.R0 = torch.as_tensor(rotation, dtype=torch.float64)
    n = 6 + bound.state_dim
    q = torch.zeros(n, dtype=torch.float64)
    q[:3] = torch.as_tensor(translation0)
    observed = target.numpy()
    observed_tree = cKDTree(observed)
    # model -> observation pairs are unreliable where a partial scan does not see the model
    weight_forward = 0.1 if partial else 1.0
    # what the scan does not see, a prior fills in: for partial scans the decoded shape
    # pays for deforming (mean squared displacement from the rest shape, PRIOR_WEIGHT of
    # the misfit's weight), so the unseen side stays near rest unless the seen side bends it
    prior = np.sqrt(PRIOR_WEIGHT / len(bound.rest)) if partial else 0.0
    with torch.no_grad():
        rest_shape = bound.body_positions(torch.zeros(bound.state_dim, dtype=torch.float64))
    rest_shape = rest_shape.numpy()
    normals = _normals(observed)
    damping = 1e-6
    best: FitResult | None = None
    for _ in range(iterations):
        x, J, _, _ = dynamics.kinematics(q, torch.zeros_like(q))
        points = x.numpy()
        J3 = J.numpy().reshape(len(points), 3, n)
        _, to_observed = observed_tree.query(points)
        _, to_model = cKDTree(points).query(observed)
        # residuals of both pairings: point-to-plane along the scan's normal (no floor from
        # the two samplings: a flexible shape would otherwise bend to match sample
        # positions) plus a little point-to-point (keeps the fit from sliding along flats)
        rows, residual = [], []
        for weight, src, dst, nrm, jac in (
            (weight_forward / len(points), points, observed[to_observed], normals[to_observed],
             J3),
            (1.0 / len(observed), points[to_model], observed, normals, J3[to_model]),
        ):  # fmt: skip
            gap = src - dst
            rows += [np.sqrt(weight) * np.einsum("pa,pan->pn", nrm, jac),
                     np.sqrt(TANGENT_WEIGHT * weight) * jac.reshape(-1, n)]  # fmt: skip
            residual += [np.sqrt(weight) * np.sum(nrm * gap, axis=1),
                         np.sqrt(TANGENT_WEIGHT * weight) * gap.reshape(-1)]  # fmt: skip
        if prior > 0:
            Rot = (dynamics.R0 @ rotation_matrix(q[3:6])).numpy()
            deformation = points - (rest_shape @ Rot.T + q[:3].numpy())
            latent_rows = np.zeros((3 * len(points), n))
            latent_rows[:, 6:] = J3.reshape(-1, n)[:, 6:]
            rows.append(prior * latent_rows)
            residual.append(prior * deformation.reshape(-1))
        A, r = np.concatenate(rows), np.concatenate(residual)
        loss = float(r @ r)
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
        H = A.T @ A
        H = H + damping * np.diag(np.diagonal(H)) + 1e-12 * np.eye(n)
        step = torch.as_tensor(np.linalg.solve(H, A.T @ r))
        q = q - step
        if float(step.norm()) < 1e-9:
            break
    assert best is not None
    return best


def _normals(points: np.ndarray, neighbours: int = 12) -> np.ndarray:
    """(M, 3) unit normals of a point cloud: the least principal axis of each point's
    ``neighbours`` nearest points (sign arbitrary: only n n^T enters the fit)."""
    from scipy.spatial import cKDTree

    _, index = cKDTree(points).query(points, k=min(neighbours, len(points)))
    local = points[index] - points[index].mean(axis=1, keepdims=True)
    _, vectors = np.linalg.eigh(np.einsum("mka,mkb->mab", local, local))
    return vectors[:, :, 0]
