"""Linear blend skinning in torch: the pure functional core of :class:`phygenhoi.body.BodyModel`.

SMPL-style pipeline (Loper et al., "SMPL: A Skinned Multi-Person Linear Model", SIGGRAPH Asia
2015), written from the paper's equations:

1. shape:  v_shaped = v_template + shapedirs . betas               (:func:`blend_shapes`)
2. joints: J = J_regressor @ v_shaped                               (:func:`regress_joints`)
3. pose:   v_posed = v_shaped + posedirs . vec(R_j - I), j >= 1     (:func:`pose_offsets`)
4. chain:  G_j = G_parent(j) [R_j | J_j - J_parent(j)]              (:func:`forward_kinematics`)
5. skin:   v' = sum_j w_vj (G_j [I | -J_j]) v_posed                 (:func:`skin`)

Everything runs in the model's own frame (Y-up for SMPL files); the body model converts to the
Z-up world once, afterwards. Shapes use ``...`` for any leading batch dimensions (typically T
frames), V vertices, J joints, B shape coefficients, P = 9 (J - 1) pose features. Every function
is differentiable, works in any float dtype on any device, and never modifies its inputs.
"""

from __future__ import annotations

import torch

__all__ = [
    "axis_angle_to_matrix",
    "blend_shapes",
    "forward_kinematics",
    "pose_offsets",
    "regress_joints",
    "skin",
]

_TAYLOR_BELOW = 1e-8  # squared angle [rad^2] under which sin/cos use their Taylor series


def axis_angle_to_matrix(axis_angle: torch.Tensor) -> torch.Tensor:
    """Rotation matrices ``(..., 3, 3)`` of axis-angle vectors ``(..., 3)`` [rad].

    Rodrigues: R = I + (sin t / t) K + ((1 - cos t) / t^2) K^2 with K = [axis_angle]_x and
    t = |axis_angle|. ``1 - cos t`` is evaluated as ``2 sin^2(t / 2)`` (no cancellation in
    float32) and both coefficients switch to their Taylor series near t = 0, so values and
    gradients are finite and accurate at the identity.
    """
    x, y, z = axis_angle.unbind(-1)
    theta2 = (axis_angle * axis_angle).sum(-1)  # (...)
    small = theta2 < _TAYLOR_BELOW
    theta = torch.sqrt(torch.where(small, torch.ones_like(theta2), theta2))
    half = 0.5 * theta
    a = torch.where(small, 1.0 - theta2 / 6.0, torch.sin(theta) / theta)
    b = torch.where(small, 0.5 - theta2 / 24.0, 0.5 * (torch.sin(half) / half) ** 2)
    zero = torch.zeros_like(x)
    K = torch.stack([zero, -z, y, z, zero, -x, -y, x, zero], -1).reshape(*x.shape, 3, 3)
    eye = torch.eye(3, dtype=axis_angle.dtype, device=axis_angle.device)
    return eye + a[..., None, None] * K + b[..., None, None] * (K @ K)


def blend_shapes(
    v_template: torch.Tensor, shapedirs: torch.Tensor, betas: torch.Tensor
) -> torch.Tensor:
    """Shaped template ``(..., V, 3)`` [m] from ``v_template`` (V, 3), ``shapedirs`` (V, 3, B)
    [m per unit] and ``betas`` (..., B)."""
    return v_template + torch.einsum("vcb,...b->...vc", shapedirs, betas)


def regress_joints(J_regressor: torch.Tensor, vertices: torch.Tensor) -> torch.Tensor:
    """Joint positions ``(..., J, 3)`` from ``J_regressor`` (J, V) and ``vertices`` (..., V, 3)."""
    return torch.einsum("jv,...vc->...jc", J_regressor, vertices)


def pose_offsets(rotations: torch.Tensor, posedirs: torch.Tensor) -> torch.Tensor:
    """Pose-corrective vertex offsets ``(..., V, 3)`` [m].

    Args:
        rotations: (..., J, 3, 3) local joint rotations; the root (joint 0) does not contribute.
        posedirs: (V, 3, P) with P = 9 (J - 1), the SMPL file layout.
    """
    eye = torch.eye(3, dtype=rotations.dtype, device=rotations.device)
    features = (rotations[..., 1:, :, :] - eye).flatten(-3)  # (..., P)
    return torch.einsum("vcp,...p->...vc", posedirs, features)


def forward_kinematics(
    rotations: torch.Tensor, rest_joints: torch.Tensor, parents: torch.Tensor
) -> torch.Tensor:
    """Global rigid transforms ``(..., J, 4, 4)`` of the joints along the kinematic tree.

    G_0 = [R_0 | J_0] and G_j = G_parent(j) [R_j | J_j - J_parent(j)]: each joint rotates its
    subtree about its own rest position. The posed joint positions are ``G[..., :3, 3]``.

    Args:
        rotations: (..., J, 3, 3) local rotations (model frame).
        rest_joints: (..., J, 3) rest joint positions [m]; broadcast against ``rotations``.
        parents: (J,) integer parent indices, -1 for the root; ``parents[j] < j`` (topological).
    """
    parent_list = [int(p) for p in parents.tolist()]
    batch = torch.broadcast_shapes(rotations.shape[:-3], rest_joints.shape[:-2])
    rotations = rotations.expand(*batch, *rotations.shape[-3:])
    rest_joints = rest_joints.expand(*batch, *rest_joints.shape[-2:])
    bottom = torch.zeros(*batch, 1, 4, dtype=rotations.dtype, device=rotations.device)
    bottom[..., 0, 3] = 1.0
    transforms: list[torch.Tensor] = []
    for j, p in enumerate(parent_list):
        offset = (
            rest_joints[..., j, :] if p < 0 else rest_joints[..., j, :] - rest_joints[..., p, :]
        )
        local = torch.cat(
            [torch.cat([rotations[..., j, :, :], offset[..., :, None]], -1), bottom], -2
        )  # (..., 4, 4)
        transforms.append(local if p < 0 else transforms[p] @ local)
    return torch.stack(transforms, -3)


def skin(
    vertices: torch.Tensor,
    weights: torch.Tensor,
    transforms: torch.Tensor,
    rest_joints: torch.Tensor,
) -> torch.Tensor:
    """Linear blend skinning: posed vertices ``(..., V, 3)`` [m].

    v' = sum_j w_vj A_j v with A_j = G_j [I | -J_j], the transform that takes the rest pose to
    the posed one for the part attached to joint j.

    Args:
        vertices: (..., V, 3) rest-pose vertices (shaped, with pose correctives) [m].
        weights: (V, J) skinning weights, rows summing to 1.
        transforms: (..., J, 4, 4) global joint transforms from :func:`forward_kinematics`.
        rest_joints: (..., J, 3) the rest joint positions the transforms were built from [m].
    """
    rot = transforms[..., :3, :3]  # (..., J, 3, 3)
    trans = transforms[..., :3, 3] - (rot @ rest_joints[..., None])[..., 0]  # (..., J, 3)
    blended_rot = torch.einsum("vj,...jab->...vab", weights, rot)  # (..., V, 3, 3)
    blended_trans = torch.einsum("vj,...ja->...va", weights, trans)  # (..., V, 3)
    return (blended_rot @ vertices[..., None])[..., 0] + blended_trans
