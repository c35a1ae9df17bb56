"""The body model: the shipped procedural body, loading real models, and linear blend skinning."""

from __future__ import annotations

import shutil
import sys
import types
from pathlib import Path

import numpy as np
import pytest
import torch
import trimesh

from assets import asset_path
from mpm.errors import ConfigError
from phygenhoi.body import REQUIRED_KEYS, BodyModel, BodyOutput
from phygenhoi.errors import BodyModelError
from phygenhoi.lbs import axis_angle_to_matrix
from phygenhoi.skeleton import JOINT_NAMES, NUM_JOINTS, PARENTS, Y_UP_TO_Z_UP, joint_index

ASSET = asset_path("bodies", "procedural_neutral.npz")


@pytest.fixture(scope="module")
def body() -> BodyModel:
    return BodyModel()


@pytest.fixture(scope="module")
def arrays() -> dict[str, np.ndarray]:
    with np.load(ASSET, allow_pickle=False) as archive:
        return {key: archive[key] for key in archive.files}


def _random_poses(T: int, scale: float = 0.7, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).normal(0.0, scale, (T, NUM_JOINTS, 3))


def _write_npz(path: Path, arrays: dict[str, np.ndarray]) -> Path:
    np.savez(path, **arrays)
    return path


# -- the shipped asset --------------------------------------------------------------------------


def test_asset_has_the_smpl_layout(arrays: dict[str, np.ndarray]) -> None:
    """Keys, shapes and dtypes of the SMPL file layout; V in 3000..7000; file < 5 MB."""
    V = len(arrays["v_template"])
    assert 3000 <= V <= 7000
    assert ASSET.stat().st_size < 5e6
    assert arrays["v_template"].dtype == np.float64 and arrays["v_template"].shape == (V, 3)
    assert arrays["f"].dtype == np.int64 and arrays["f"].shape[1] == 3
    assert arrays["J"].shape == (NUM_JOINTS, 3)
    assert arrays["weights"].shape == (V, NUM_JOINTS)
    assert arrays["J_regressor"].shape == (NUM_JOINTS, V)
    assert arrays["shapedirs"].shape == (V, 3, 2)
    assert arrays["posedirs"].shape == (V, 3, 207) and not arrays["posedirs"].any()
    kintree = arrays["kintree_table"]
    assert kintree.dtype == np.int64 and kintree.shape == (2, NUM_JOINTS)
    assert kintree[0, 0] == 4294967295  # SMPL's "no parent"
    np.testing.assert_array_equal(kintree[0, 1:], PARENTS[1:])
    np.testing.assert_array_equal(kintree[1], np.arange(NUM_JOINTS))
    assert tuple(arrays["joint_names"].tolist()) == JOINT_NAMES
    assert "make_body.py" in str(arrays["provenance"])


def test_shipped_body_loads(body: BodyModel) -> None:
    """BodyModel() reads the asset: 24 joints in SMPL order, 2 betas, float32 rest arrays."""
    assert body.source == str(ASSET)
    assert body.joint_names == JOINT_NAMES
    np.testing.assert_array_equal(body.parents, PARENTS)
    assert body.num_betas == 2 and body.betas.tolist() == [0.0, 0.0]
    assert body.rest_vertices.shape == (body.num_vertices, 3)
    assert body.rest_vertices.dtype == np.float32 and body.rest_joints.dtype == np.float32
    assert body.faces.dtype == np.int64


def test_mesh_is_a_closed_outward_manifold(body: BodyModel) -> None:
    """One watertight, consistently and outward wound, genus-0 surface (a collision mesh)."""
    mesh = trimesh.Trimesh(body.rest_vertices.astype(np.float64), body.faces, process=False)
    assert mesh.is_watertight
    assert mesh.is_winding_consistent
    assert mesh.volume > 0.0
    assert mesh.euler_number == 2 and mesh.body_count == 1
    assert 0.05 < mesh.volume < 0.1  # [m^3]: an adult of ~70 kg at ~1000 kg/m^3


def test_proportions_and_orientation_in_the_world(
    body: BodyModel, arrays: dict[str, np.ndarray]
) -> None:
    """Z-up world: 1.6-1.9 m tall, feet at the bottom (soles within 5 mm of z=0), head at the
    top, facing -y (toes ahead of the ankles), the subject's left on +x; joints inside."""
    v, j = body.rest_vertices, body.rest_joints
    assert 1.6 < np.ptp(v[:, 2]) < 1.9
    assert abs(v[:, 2].min()) < 5e-3
    for side in ("left", "right"):
        assert j[joint_index(f"{side}_ankle"), 2] < 0.1
        foot, ankle = j[joint_index(f"{side}_foot")], j[joint_index(f"{side}_ankle")]
        assert foot[1] < ankle[1] - 0.05  # toes point to -y
    assert j[joint_index("head")].argmax() == 2 and j[:, 2].argmax() == joint_index("head")
    assert v[:, 2].max() - j[joint_index("head"), 2] < 0.25
    assert j[joint_index("left_wrist"), 0] > 0.5 > -0.5 > j[joint_index("right_wrist"), 0]
    lowest, highest = v[:, 2] < 0.02, v[:, 2] > 1.70
    w = arrays["weights"]
    feet = [joint_index(f"{s}_{n}") for s in ("left", "right") for n in ("ankle", "foot")]
    assert w[lowest][:, feet].sum(1).min() > 0.99
    assert w[highest][:, joint_index("head")].min() > 0.99
    mesh = trimesh.Trimesh(v.astype(np.float64), body.faces, process=False)
    assert mesh.contains(j.astype(np.float64)).all()


def test_regressor_and_weights(arrays: dict[str, np.ndarray]) -> None:
    """J_regressor @ v_template == J (1e-6 m); regressor rows convex (>= 0, sum 1, 1e-9);
    weights >= 0, rows sum to 1 (1e-9), at most 4 non-zeros, and every joint drives vertices."""
    R, v, J, w = arrays["J_regressor"], arrays["v_template"], arrays["J"], arrays["weights"]
    np.testing.assert_allclose(R @ v, J, atol=1e-6)
    assert R.min() >= 0.0 and np.abs(R.sum(1) - 1.0).max() < 1e-9
    assert w.min() >= 0.0 and np.abs(w.sum(1) - 1.0).max() < 1e-9
    assert (w > 0).sum(1).max() <= 4
    assert (w.max(0) > 0.5).all()


# -- posing -------------------------------------------------------------------------------------


def test_rest_pose_equals_template(body: BodyModel, arrays: dict[str, np.ndarray]) -> None:
    """Zero poses and zero trans give Y_UP_TO_Z_UP @ template and J (1e-6 m)."""
    out = body.forward(np.zeros((2, NUM_JOINTS, 3)), np.zeros((2, 3)))
    assert isinstance(out, BodyOutput)
    assert out.vertices.dtype == np.float32 and out.vertices.shape == (2, body.num_vertices, 3)
    np.testing.assert_allclose(out.vertices[1], arrays["v_template"] @ Y_UP_TO_Z_UP.T, atol=1e-6)
    np.testing.assert_allclose(out.joints[0], arrays["J"] @ Y_UP_TO_Z_UP.T, atol=1e-6)
    np.testing.assert_array_equal(out.faces, arrays["f"])
    one = body.forward(np.zeros((NUM_JOINTS, 3)))  # (24, 3): one frame
    assert one.vertices.shape == (1, body.num_vertices, 3)


def test_bone_lengths_preserved_under_random_poses(body: BodyModel) -> None:
    """|joint - parent| equals its rest value (1e-5 relative) for random poses and trans; the
    FK-only joint_positions equal the skinned forward's joints (1e-6 m)."""
    poses = _random_poses(8)
    trans = np.random.default_rng(1).uniform(-1.0, 1.0, (8, 3))
    out = body.forward(poses, trans)
    rest = np.linalg.norm(body.rest_joints[1:] - body.rest_joints[PARENTS[1:]], axis=1)
    posed = np.linalg.norm(out.joints[:, 1:] - out.joints[:, PARENTS[1:]], axis=2)
    np.testing.assert_allclose(posed, np.broadcast_to(rest, posed.shape), rtol=1e-5)
    np.testing.assert_allclose(body.joint_positions(poses, trans), out.joints, atol=1e-6)


def test_rigid_parts_keep_their_shape(body: BodyModel, arrays: dict[str, np.ndarray]) -> None:
    """Vertices bound to one joint only move rigidly: their distances to that joint are kept
    (1e-5 m) under a random pose."""
    w = arrays["weights"]
    out = body.forward(_random_poses(1, seed=4))
    j = joint_index("head")
    rigid = w[:, j] > 1.0 - 1e-9
    rest = np.linalg.norm(body.rest_vertices[rigid] - body.rest_joints[j], axis=1)
    posed = np.linalg.norm(out.vertices[0, rigid] - out.joints[0, j], axis=1)
    assert rigid.sum() > 50
    np.testing.assert_allclose(posed, rest, atol=1e-5)


def test_elbow_flexion_moves_the_wrist_along_the_chord(body: BodyModel) -> None:
    """90 degrees at the left elbow: the wrist moves by forearm * sqrt(2) (1e-4 m), the elbow
    and shoulder stay put (1e-6 m), and the forearm swings forward (-y in the world)."""
    e, w = joint_index("left_elbow"), joint_index("left_wrist")
    poses = np.zeros((NUM_JOINTS, 3))
    poses[e] = [0.0, -np.pi / 2, 0.0]  # about the model's up axis: +x forearm -> +z (forward)
    bent = body.joint_positions(poses)[0]
    rest = body.rest_joints
    forearm = np.linalg.norm(rest[w] - rest[e])
    assert abs(np.linalg.norm(bent[w] - rest[w]) - forearm * np.sqrt(2.0)) < 1e-4
    np.testing.assert_allclose(bent[:w], rest[:w], atol=1e-6)
    assert bent[w, 1] < rest[e, 1] - 0.9 * forearm


def test_pelvis_offset_and_ground_offset(body: BodyModel) -> None:
    """The pelvis is at trans + pelvis_offset for any root rotation (1e-6 m); adding
    ground_offset to trans z puts the lowest vertex on z = 0 (1e-6 m)."""
    poses = _random_poses(3, seed=2)
    trans = np.array([[0.5, -0.2, 1.0], [0.0, 0.0, 0.0], [-1.0, 2.0, 0.3]])
    joints = body.joint_positions(poses, trans)
    np.testing.assert_allclose(joints[:, 0], trans + body.pelvis_offset, atol=1e-6)
    shift = body.ground_offset(poses, trans)
    lifted = trans + np.array([0.0, 0.0, shift])
    assert abs(body.forward(poses, lifted).vertices[..., 2].min()) < 1e-6
    per_frame = body.ground_offset(poses, trans, per_frame=True)
    assert per_frame.shape == (3,) and np.isclose(per_frame.max(), shift)
    assert (
        abs(body.ground_offset(np.zeros((1, NUM_JOINTS, 3))) + body.rest_vertices[:, 2].min())
        < 1e-6
    )


def test_axis_angle_to_matrix() -> None:
    """Rotations are orthonormal with det 1 (1e-12), 90 degrees about z maps x to y, and the
    tiny-angle branch agrees with the exact one at its threshold (1e-12)."""
    aa = torch.tensor(np.random.default_rng(3).normal(0, 2, (64, 3)))
    R = axis_angle_to_matrix(aa)
    eye = torch.eye(3, dtype=R.dtype)
    assert torch.allclose(R @ R.transpose(-1, -2), eye.expand_as(R), atol=1e-12)
    assert torch.allclose(torch.linalg.det(R), torch.ones(64, dtype=R.dtype), atol=1e-12)
    quarter = axis_angle_to_matrix(torch.tensor([0.0, 0.0, np.pi / 2], dtype=torch.float64))
    assert torch.allclose(
        quarter @ torch.tensor([1.0, 0.0, 0.0], dtype=torch.float64),
        torch.tensor([0.0, 1.0, 0.0], dtype=torch.float64),
        atol=1e-12,
    )
    near = torch.tensor([[0.0, 0.0, 0.99999e-4], [0.0, 0.0, 1.00001e-4]], dtype=torch.float64)
    R_near = axis_angle_to_matrix(near)
    assert torch.allclose(R_near[0], R_near[1], atol=1e-9)
    exact = torch.tensor(
        [[1.0, -np.sin(1e-4), 0.0], [np.sin(1e-4), 1.0, 0.0], [0.0, 0.0, 1.0]], dtype=torch.float64
    )
    exact[0, 0] = exact[1, 1] = np.cos(1e-4)
    assert torch.allclose(R_near[0], exact, atol=1e-12)


# -- torch path ---------------------------------------------------------------------------------


def test_torch_path_matches_numpy(body: BodyModel) -> None:
    """forward_torch equals forward: float64 to 1e-6 m (float32 rounding of the numpy output),
    float32 to 1e-5 m; joint_positions_torch equals the torch joints (1e-12 m in float64)."""
    poses = _random_poses(4, seed=5)
    trans = np.random.default_rng(6).normal(0, 0.5, (4, 3))
    out = body.forward(poses, trans, betas=[0.3, -0.5])
    for dtype, tol in ((torch.float64, 1e-6), (torch.float32, 1e-5)):
        v, j = body.forward_torch(
            torch.tensor(poses, dtype=dtype),
            torch.tensor(trans, dtype=dtype),
            torch.tensor([0.3, -0.5], dtype=dtype),
        )
        assert v.dtype == dtype and v.shape == (4, body.num_vertices, 3)
        np.testing.assert_allclose(v.numpy(), out.vertices, atol=tol)
        np.testing.assert_allclose(j.numpy(), out.joints, atol=tol)
    p64 = torch.tensor(poses)
    jt = body.joint_positions_torch(p64, torch.tensor(trans), torch.tensor([0.3, -0.5]))
    _, j64 = body.forward_torch(p64, torch.tensor(trans), torch.tensor([0.3, -0.5]))
    assert torch.allclose(jt, j64, atol=1e-12)


def test_gradients_flow_and_match_finite_differences(body: BodyModel) -> None:
    """torch.autograd.gradcheck (float64, default tolerances) w.r.t. poses, trans and betas:
    the full Jacobian of the FK-only joints, and of skinned vertices + joints in gradcheck's
    fast mode (random projections; the full one takes ~100 skinning passes), at a random pose
    and at the identity (the Taylor branch of the rotations)."""
    picked = torch.arange(0, body.num_vertices, body.num_vertices // 12)

    def skinned(poses: torch.Tensor, trans: torch.Tensor, betas: torch.Tensor) -> torch.Tensor:
        v, j = body.forward_torch(poses, trans, betas)
        return torch.cat([v[:, picked].flatten(), j.flatten()])

    trans = torch.tensor([[0.1, -0.2, 0.3]], dtype=torch.float64, requires_grad=True)
    betas = torch.tensor([0.2, -0.1], dtype=torch.float64, requires_grad=True)
    for poses in (_random_poses(1, 0.5, seed=7), np.zeros((1, NUM_JOINTS, 3))):
        inputs = (torch.tensor(poses, requires_grad=True), trans, betas)
        assert torch.autograd.gradcheck(body.joint_positions_torch, inputs)
        assert torch.autograd.gradcheck(skinned, inputs, fast_mode=True)


# -- shape --------------------------------------------------------------------------------------


def test_height_beta_scales_the_height(body: BodyModel) -> None:
    """Height beta +10 % per unit: beta 0.2 makes the body 2 % taller (1e-6 relative), in the
    constructor or per call; joint heights scale by 1.02 about z = 0, x and y stay (1e-6 m)."""
    tall = BodyModel(betas=[0.2])
    h0, h1 = np.ptp(body.rest_vertices[:, 2]), np.ptp(tall.rest_vertices[:, 2])
    assert abs(h1 / h0 - 1.02) < 1e-6
    v = body.forward(np.zeros((NUM_JOINTS, 3)), betas=[0.2]).vertices[0]
    np.testing.assert_allclose(v, tall.rest_vertices, atol=1e-6)
    np.testing.assert_allclose(tall.rest_joints[:, 2], 1.02 * body.rest_joints[:, 2], atol=1e-6)
    np.testing.assert_allclose(tall.rest_joints[:, :2], body.rest_joints[:, :2], atol=1e-6)


def test_girth_beta_thickens_without_moving_joints(body: BodyModel) -> None:
    """Girth beta 1: joints unchanged (1e-6 m), volume up by 15-25 % (radial +10 % in two
    directions is +21 %; less at the joints and the extremities), height within 1 %."""
    thick = BodyModel(betas=[0.0, 1.0])
    np.testing.assert_allclose(thick.rest_joints, body.rest_joints, atol=1e-6)
    vol = [
        trimesh.Trimesh(b.rest_vertices.astype(np.float64), b.faces, process=False).volume
        for b in (body, thick)
    ]
    assert 1.15 < vol[1] / vol[0] < 1.25
    assert abs(np.ptp(thick.rest_vertices[:, 2]) / np.ptp(body.rest_vertices[:, 2]) - 1) < 0.01


# -- errors -------------------------------------------------------------------------------------


def test_missing_file_names_the_path_and_the_registration(tmp_path: Path) -> None:
    """A missing model file raises BodyModelError (a ConfigError and a FileNotFoundError) that
    names the path, the SMPL sites and the shipped fallback."""
    missing = tmp_path / "SMPL_NEUTRAL.pkl"
    with pytest.raises(BodyModelError) as info:
        BodyModel(model_path=missing)
    assert isinstance(info.value, ConfigError) and isinstance(info.value, FileNotFoundError)
    message = str(info.value)
    assert str(missing) in message
    assert "smpl.is.tue.mpg.de" in message and "smpl-x.is.tue.mpg.de" in message
    assert "BodyModel()" in message
    with pytest.raises(BodyModelError, match="no neutral body model in the folder"):
        BodyModel(model_path=tmp_path)  # an empty folder


@pytest.mark.parametrize("key", REQUIRED_KEYS)
def test_npz_missing_a_key_names_it(
    tmp_path: Path, arrays: dict[str, np.ndarray], key: str
) -> None:
    """Each required key, when missing, is named in the BodyModelError."""
    broken = {k: v for k, v in arrays.items() if k != key}
    with pytest.raises(BodyModelError, match=f"lacks the key\\(s\\) \\['{key}'\\]"):
        BodyModel(model_path=_write_npz(tmp_path / "broken.npz", broken))


def test_corrupt_files_raise_body_model_errors(
    tmp_path: Path, arrays: dict[str, np.ndarray]
) -> None:
    """Garbage bytes, inconsistent shapes, a bad tree, NaNs and unknown suffixes each give a
    BodyModelError naming the problem."""
    garbage = tmp_path / "garbage.npz"
    garbage.write_bytes(b"not a zip archive")
    with pytest.raises(BodyModelError, match="cannot read"):
        BodyModel(model_path=garbage)
    cases = {
        "weights": (arrays["weights"][:-1], "'weights' has shape"),
        "J_regressor": (arrays["J_regressor"][:, :-1], "'J_regressor' has shape"),
        "f": (arrays["f"] + len(arrays["v_template"]), "'f' indexes vertices outside"),
        "kintree_table": (arrays["kintree_table"][:, ::-1], "'kintree_table' row 0"),
        "v_template": (np.full_like(arrays["v_template"], np.nan), "'v_template' contains NaN"),
        "shapedirs": (arrays["shapedirs"][:-2], "'shapedirs' has shape"),
    }
    for key, (value, message) in cases.items():
        path = _write_npz(tmp_path / f"bad_{key}.npz", arrays | {key: value})
        with pytest.raises(BodyModelError, match=message):
            BodyModel(model_path=path)
    other = tmp_path / "body.obj"
    other.write_text("v 0 0 0\n")
    with pytest.raises(BodyModelError, match="unknown body model format"):
        BodyModel(model_path=other)
    with pytest.raises(BodyModelError, match="gender-neutral"):
        BodyModel(gender="female")


def test_bad_pose_trans_and_betas_raise_value_errors(body: BodyModel) -> None:
    """Wrong shapes or non-finite values raise ValueError naming the expected shape."""
    with pytest.raises(ValueError, match=r"poses must have shape \(T, 24, 3\).*got \(5, 23, 3\)"):
        body.forward(np.zeros((5, 23, 3)))
    with pytest.raises(ValueError, match="poses must have shape"):
        body.forward_torch(torch.zeros(2, 24))
    with pytest.raises(ValueError, match="NaN"):
        body.joint_positions(np.full((1, 24, 3), np.nan))
    with pytest.raises(ValueError, match=r"trans must have shape \(2, 3\)"):
        body.forward(np.zeros((2, 24, 3)), np.zeros((3, 3)))
    with pytest.raises(ValueError, match="at most 2"):
        body.forward(np.zeros((24, 3)), betas=[0.0, 0.0, 1.0])
    with pytest.raises(ValueError, match="at most 2"):
        BodyModel(betas=[0.0] * 10)
    assert body.forward(np.zeros((2, 72))).vertices.shape[0] == 2  # (T, 72) is accepted


def test_pkl_without_smplx_explains_install_and_registration(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A .pkl needs smplx: with smplx absent (forced, so this never skips) the BodyModelError
    says `pip install smplx` and where SMPL files come from."""
    monkeypatch.setitem(sys.modules, "smplx", None)  # `import smplx` now raises ImportError
    model = tmp_path / "SMPL_NEUTRAL.pkl"
    model.write_bytes(b"\x80\x04N.")  # a valid pickle: the error must come from smplx missing
    with pytest.raises(BodyModelError) as info:
        BodyModel(model_path=model)
    message = str(info.value)
    assert "pip install smplx" in message
    assert "smpl.is.tue.mpg.de" in message and "registering" in message
    assert str(model) in message


# -- real-model paths, with stand-ins built from the procedural body ----------------------------


def test_pkl_through_a_stand_in_smplx(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, body: BodyModel, arrays: dict[str, np.ndarray]
) -> None:
    """The smplx route converts smplx's buffers (posedirs (P, V*3), lbs_weights, parents) back to
    the file layout: a stand-in smplx serving the procedural arrays gives the same bodies as the
    direct .npz reader (1e-6 m), pose correctives included (checked against a numpy reference)."""
    rng = np.random.default_rng(8)
    posedirs = rng.normal(0, 1e-3, arrays["posedirs"].shape)
    calls = []

    class SMPL:
        def __init__(self, model_path: str, **kwargs: object) -> None:
            calls.append((model_path, kwargs))
            V = len(arrays["v_template"])
            self.v_template = torch.tensor(arrays["v_template"], dtype=torch.float32)
            self.shapedirs = torch.tensor(arrays["shapedirs"], dtype=torch.float32)
            self.J_regressor = torch.tensor(arrays["J_regressor"], dtype=torch.float32)
            self.lbs_weights = torch.tensor(arrays["weights"], dtype=torch.float32)
            self.posedirs = torch.tensor(posedirs.reshape(V * 3, -1).T, dtype=torch.float32)
            self.parents = torch.tensor(PARENTS)
            self.faces = arrays["f"].astype(np.uint32)

    monkeypatch.setitem(sys.modules, "smplx", types.SimpleNamespace(SMPL=SMPL))
    model = tmp_path / "basicModel_neutral_lbs_10_207_0_v1.0.0.pkl"
    model.write_bytes(b"")
    loaded = BodyModel(model_path=model)
    assert calls[0][0] == str(model) and calls[0][1]["gender"] == "neutral"
    np.testing.assert_allclose(loaded.rest_vertices, body.rest_vertices, atol=1e-6)
    poses = _random_poses(2, seed=9)
    out = loaded.forward(poses)
    # reference: the direct reader on an .npz that carries the same pose correctives
    direct = BodyModel(
        model_path=_write_npz(tmp_path / "with_posedirs.npz", arrays | {"posedirs": posedirs})
    )
    np.testing.assert_allclose(out.vertices, direct.forward(poses).vertices, atol=1e-5)
    R = axis_angle_to_matrix(torch.tensor(poses)).numpy()
    features = (R[:, 1:] - np.eye(3)).reshape(2, -1)
    offsets = np.einsum("vcp,tp->tvc", posedirs, features)
    unposed = BodyModel(model_path=_write_npz(tmp_path / "plain.npz", arrays))
    w = arrays["weights"]
    rigid = w[:, joint_index("pelvis")] > 1.0 - 1e-9  # moves with the root only
    expected = (arrays["v_template"][rigid] + offsets[:, rigid]) @ R[:, 0].transpose(0, 2, 1)
    expected += (arrays["J"][0] - arrays["J"][0] @ R[:, 0].transpose(0, 2, 1))[:, None]
    np.testing.assert_allclose(
        direct.forward(poses).vertices[:, rigid], expected @ Y_UP_TO_Z_UP.T, atol=1e-5
    )
    assert not np.allclose(unposed.forward(poses).vertices, out.vertices, atol=1e-4)


def test_smplx_layout_npz_is_reduced_to_24_joints(
    tmp_path: Path, body: BodyModel, arrays: dict[str, np.ndarray]
) -> None:
    """A 55-joint SMPL-X-layout .npz (fingers, jaw, eyes; 400 shape+expression directions) is
    read without smplx and reduced to the 24 SMPL joints: finger weights fold into the hands,
    jaw/eyes into the head, hands at the middle knuckles; same bodies as the source (1e-6 m)."""
    w, R = arrays["weights"], arrays["J_regressor"]
    V = len(w)
    w55 = np.zeros((V, 55))
    w55[:, :22] = w[:, :22]
    w55[:, 15] = 0.5 * w[:, 15]
    w55[:, 22] = 0.5 * w[:, 15]  # jaw
    w55[:, 25:40] = w[:, 22:23] / 15.0  # left fingers
    w55[:, 40:55] = w[:, 23:24] / 15.0  # right fingers
    R55 = np.repeat(R[:1], 55, axis=0)
    R55[:22] = R[:22]
    R55[25 + 3], R55[40 + 3] = R[22], R[23]  # middle1 knuckles
    parents55 = np.concatenate([PARENTS[:22], [15, 15, 15], np.repeat([20, 21], 15)])
    parents55[0] = -1
    shapedirs = np.concatenate([arrays["shapedirs"], np.zeros((V, 3, 398))], 2)
    smplx_like = {
        "v_template": arrays["v_template"],
        "f": arrays["f"].astype(np.int32),
        "weights": w55,
        "J_regressor": R55,
        "kintree_table": np.stack([parents55, np.arange(55)]),
        "shapedirs": shapedirs,
        "posedirs": np.zeros((V, 3, 54 * 9)),
    }
    folder = tmp_path / "models"
    (folder / "smplx").mkdir(parents=True)
    _write_npz(folder / "smplx" / "SMPLX_NEUTRAL.npz", smplx_like)
    reduced = BodyModel(model_path=folder)  # found in the smplx/ sub-folder
    assert reduced.num_betas == 300
    poses = _random_poses(2, seed=10)
    expected = body.forward(poses, betas=[0.5, -0.5])
    got = reduced.forward(poses, betas=[0.5, -0.5])
    np.testing.assert_allclose(got.vertices, expected.vertices, atol=1e-6)
    np.testing.assert_allclose(got.joints, expected.joints, atol=1e-6)


def test_folder_lookup_by_gender(tmp_path: Path, body: BodyModel) -> None:
    """A folder is searched for SMPL_<GENDER>.npz; the gender picks the file."""
    shutil.copy(ASSET, tmp_path / "SMPL_FEMALE.npz")
    female = BodyModel(model_path=tmp_path, gender="female")
    assert female.source == str(tmp_path / "SMPL_FEMALE.npz")
    np.testing.assert_allclose(female.rest_vertices, body.rest_vertices)
    with pytest.raises(BodyModelError, match="no male body model"):
        BodyModel(model_path=tmp_path, gender="male")
