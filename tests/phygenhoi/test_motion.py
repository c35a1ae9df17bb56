"""Motion container, rotation helpers, and the AMASS / BVH importers (small files written here)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from mpm.errors import MPMError
from phygenhoi.errors import MotionError, MotionFileNotFoundError
from phygenhoi.mocap import load_amass, load_bvh, parse_bvh
from phygenhoi.motion import Motion
from phygenhoi.rotations import (
    axis_angle_to_matrix,
    axis_angle_to_quat,
    euler_to_matrix,
    matrix_to_axis_angle,
    matrix_to_quat,
    quat_slerp,
    quat_to_axis_angle,
    quat_to_matrix,
)
from phygenhoi.skeleton import NUM_JOINTS, PARENTS, Y_UP_TO_Z_UP, joint_index

A = Y_UP_TO_Z_UP


def _rot(axis: str, deg: float) -> np.ndarray:
    return euler_to_matrix([np.radians(deg)], axis)


def _smooth_motion(T: int = 31, fps: float = 30.0, seed: int = 0) -> Motion:
    """Every joint turns smoothly (angles < ~1.6 rad) about a slowly changing axis."""
    rng = np.random.default_rng(seed)
    t = np.arange(T) / fps
    a0, a1 = rng.normal(0, 0.5, (2, NUM_JOINTS, 3))
    omega = rng.uniform(0.5, 2.0, (NUM_JOINTS, 1))
    poses = a0 + a1 * np.sin(omega * t[:, None, None])
    trans = np.stack([np.sin(t), 0.3 * t, 0.9 + 0.05 * np.cos(2 * t)], axis=-1)
    return Motion(poses, trans, fps, name="smooth")


def _fk(poses: np.ndarray, J: np.ndarray) -> np.ndarray:
    """SMPL forward kinematics (no mesh): joint positions (T, 24, 3) in the model frame.

    The root rotates about its rest position J[0] (SMPL's global_orient), children follow.
    """
    R = axis_angle_to_matrix(poses)
    G = [R[:, 0]]
    P = [np.broadcast_to(J[0], (poses.shape[0], 3))]
    for j in range(1, NUM_JOINTS):
        p = PARENTS[j]
        G.append(G[p] @ R[:, j])
        P.append(P[p] + np.einsum("tij,j->ti", G[p], J[j] - J[p]))
    return np.stack(P, axis=1)


def _made_up_skeleton(seed: int = 3) -> np.ndarray:
    """Rest joints (24, 3) [m] in a Y-up model frame, pelvis off the origin like SMPL's."""
    rng = np.random.default_rng(seed)
    J = np.zeros((NUM_JOINTS, 3))
    J[0] = (0.002, -0.22, 0.028)
    for j in range(1, NUM_JOINTS):
        J[j] = J[PARENTS[j]] + rng.uniform(-0.25, 0.25, 3)
    return J


# ------------------------------------------------------------------------------ Motion
def test_motion_validation_errors() -> None:
    T = 4
    good_p, good_t = np.zeros((T, NUM_JOINTS, 3)), np.zeros((T, 3))
    bad_cases = [
        (np.zeros((T, 22, 3)), good_t, 30.0, "poses must have shape"),
        (np.zeros((0, NUM_JOINTS, 3)), np.zeros((0, 3)), 30.0, "at least one frame"),
        (good_p, np.zeros((T + 1, 3)), 30.0, "trans must have shape"),
        (good_p, good_t, 0.0, "fps"),
        (good_p, good_t, float("nan"), "fps"),
        (good_p, good_t, "fast", "fps"),
    ]
    nan_p = good_p.copy()
    nan_p[2, 5, 1] = np.nan
    bad_cases.append((nan_p, good_t, 30.0, "non-finite value at frame 2"))
    for poses, trans, fps, msg in bad_cases:
        with pytest.raises(MotionError, match=msg) as info:
            Motion(poses, trans, fps)
        assert isinstance(info.value, ValueError) and isinstance(info.value, MPMError)


def test_motion_is_a_readonly_copy() -> None:
    poses = np.zeros((3, NUM_JOINTS, 3), dtype=np.float32)
    m = Motion(poses, np.zeros((3, 3)), 30)
    poses[0, 0, 0] = 1.0
    assert m.poses[0, 0, 0] == 0.0 and m.poses.dtype == np.float64
    with pytest.raises(ValueError):
        m.poses[0, 0, 0] = 1.0
    assert m.num_frames == 3 and m.duration == pytest.approx(2 / 30)
    np.testing.assert_allclose(m.times, [0, 1 / 30, 2 / 30])
    m2 = dataclasses.replace(m, fps=60)
    assert m2.fps == 60.0 and m2.duration == pytest.approx(1 / 30)


def test_rest_slice_concatenate() -> None:
    m = Motion.rest(5, 10.0, trans=(1.0, 2.0, 0.9))
    assert m.poses.shape == (5, NUM_JOINTS, 3) and not m.poses.any()
    np.testing.assert_array_equal(m.trans, np.tile([1.0, 2.0, 0.9], (5, 1)))
    s = _smooth_motion().slice(0.1, 0.2)  # frames 3..6 at 30 fps
    assert s.num_frames == 4
    np.testing.assert_array_equal(s.poses, _smooth_motion().poses[3:7])
    with pytest.raises(MotionError, match="no frame"):
        m.slice(1.0, 2.0)
    c = Motion.concatenate([m, m])
    assert c.num_frames == 10 and c.fps == 10.0
    with pytest.raises(MotionError, match="same fps"):
        Motion.concatenate([m, _smooth_motion()])


def test_save_load_bitwise(tmp_path: Path) -> None:
    m = _smooth_motion()
    path = m.save(tmp_path / "sub" / "walk.npz")
    back = Motion.load(path)
    assert back.poses.tobytes() == m.poses.tobytes()
    assert back.trans.tobytes() == m.trans.tobytes()
    assert back.fps == m.fps and back.name == "smooth"
    assert sorted(p.name for p in path.parent.iterdir()) == ["walk.npz"]  # no temporary left
    with pytest.raises(MotionFileNotFoundError):
        Motion.load(tmp_path / "missing.npz")
    np.savez(tmp_path / "other.npz", x=np.zeros(3))
    with pytest.raises(MotionError, match="missing key 'format'"):
        Motion.load(tmp_path / "other.npz")


# ------------------------------------------------------------------------------ rotations
def test_rotation_round_trips() -> None:
    rng = np.random.default_rng(1)
    axes = rng.normal(size=(200, 3))
    axes /= np.linalg.norm(axes, axis=-1, keepdims=True)
    angles = np.concatenate([rng.uniform(0, np.pi - 1e-6, 197), [0.0, 1e-12, np.pi - 1e-9]])
    aa = axes * angles[:, None]
    R = axis_angle_to_matrix(aa)
    np.testing.assert_allclose(
        R @ np.swapaxes(R, -1, -2), np.broadcast_to(np.eye(3), R.shape), atol=1e-12
    )
    np.testing.assert_allclose(matrix_to_axis_angle(R), aa, atol=1e-8)
    np.testing.assert_allclose(quat_to_axis_angle(axis_angle_to_quat(aa)), aa, atol=1e-12)
    np.testing.assert_allclose(quat_to_matrix(matrix_to_quat(R)), R, atol=1e-12)
    # Rodrigues reference for one rotation
    k, th = axes[0], angles[0]
    K = np.array([[0, -k[2], k[1]], [k[2], 0, -k[0]], [-k[1], k[0], 0]])
    np.testing.assert_allclose(
        R[0], np.eye(3) + np.sin(th) * K + (1 - np.cos(th)) * K @ K, atol=1e-12
    )


def test_euler_order_is_intrinsic_in_channel_order() -> None:
    ang = np.radians([30.0, 45.0, 60.0])
    R = euler_to_matrix(ang, "ZXY")
    np.testing.assert_allclose(R, _rot("Z", 30) @ _rot("X", 45) @ _rot("Y", 60), atol=1e-15)
    np.testing.assert_allclose(_rot("Z", 90) @ [1, 0, 0], [0, 1, 0], atol=1e-15)


def test_slerp_midpoint_about_one_axis() -> None:
    axis = np.array([1.0, 2.0, -0.5]) / np.linalg.norm([1.0, 2.0, -0.5])
    for a, b in [(0.2, 1.4), (-0.7, 2.9), (3.0, -3.0)]:
        q = quat_slerp(axis_angle_to_quat(axis * a), axis_angle_to_quat(axis * b), 0.5)
        mid = (a + b) / 2 if abs(b - a) <= np.pi else (a + b) / 2 + np.pi  # shortest arc
        R_expect = axis_angle_to_matrix(axis * mid)
        np.testing.assert_allclose(quat_to_matrix(q), R_expect, atol=1e-12)
    # a quarter of the way at t=0.25, and the end points exactly
    q0, q1 = axis_angle_to_quat(axis * 0.0), axis_angle_to_quat(axis * 2.0)
    np.testing.assert_allclose(quat_to_axis_angle(quat_slerp(q0, q1, 0.25)), axis * 0.5, atol=1e-12)
    np.testing.assert_allclose(quat_slerp(q0, q1, 1.0), q1, atol=1e-15)


# ------------------------------------------------------------------------------ resampling
def test_resample_round_trip_30_60_30() -> None:
    m = _smooth_motion(T=31, fps=30.0)
    up = m.resample(60.0)
    assert up.num_frames == 61 and up.duration == pytest.approx(m.duration)
    back = up.resample(30.0)
    assert back.num_frames == m.num_frames and back.fps == 30.0
    np.testing.assert_allclose(back.poses, m.poses, atol=1e-9, rtol=0)
    np.testing.assert_allclose(back.trans, m.trans, atol=1e-9, rtol=0)


def test_resample_interpolates_and_clips() -> None:
    # constant angular velocity about a fixed axis: slerp midpoints are exact
    T, fps = 11, 10.0
    axis = np.array([0.0, 0.6, 0.8])
    poses = np.zeros((T, NUM_JOINTS, 3))
    poses[:, joint_index("left_elbow")] = axis * np.linspace(0.0, 2.0, T)[:, None]
    trans = np.zeros((T, 3))
    trans[:, 0] = np.arange(T) * 0.1
    up = Motion(poses, trans, fps).resample(20.0)
    np.testing.assert_allclose(
        up.poses[:, joint_index("left_elbow")], axis * np.linspace(0, 2, 21)[:, None], atol=1e-12
    )
    np.testing.assert_allclose(up.trans[:, 0], np.arange(21) * 0.05, atol=1e-12)
    # 1.0 s at 15 fps: frames at k/15 up to 1.0 -> 16 frames; at 7 fps 1.0*7 -> 8 frames (clipped)
    m = Motion(poses, trans, fps)
    assert m.resample(15.0).num_frames == 16
    seven = m.resample(7.0)
    assert seven.num_frames == 8 and seven.duration <= m.duration
    with pytest.raises(MotionError, match="fps"):
        m.resample(-1.0)


# ------------------------------------------------------------------------------ AMASS
def _amass_file(tmp_path: Path, width: int = 156, rate_key: str = "mocap_framerate") -> dict:
    T = 10
    t = np.arange(T) / 120.0
    yaw = 0.8 * t * 10  # turning about the world up axis
    R_root = np.einsum("tij,jk->tik", euler_to_matrix(yaw[:, None], "Z"), A)  # Rz(yaw) @ A
    poses = np.zeros((T, width))
    poses[:, :3] = matrix_to_axis_angle(R_root)
    elbow = joint_index("left_elbow")
    poses[:, 3 * elbow : 3 * elbow + 3] = np.array([0.0, -1.2, 0.3]) * (1 + t[:, None])
    poses[:, 3 * joint_index("right_knee") + 0] = 0.4
    if width > 66:
        poses[:, 66:] = 0.05  # hand / finger joints
    trans = np.stack([0.5 * t, -0.2 * t, 0.9 + 0.1 * t], axis=-1)
    data = {
        "poses": poses,
        "trans": trans,
        "betas": np.zeros(16),
        rate_key: np.array(120.0),
        "gender": np.array("neutral"),
    }
    np.savez(tmp_path / "clip_poses.npz", **data)
    return {"path": tmp_path / "clip_poses.npz", "yaw": yaw, **data}


def test_amass_import_matches_amass_body_in_world(tmp_path: Path) -> None:
    src = _amass_file(tmp_path)
    J = _made_up_skeleton()
    m = load_amass(src["path"], pelvis=J[0])
    assert m.poses.shape == (10, NUM_JOINTS, 3) and m.trans.shape == (10, 3)
    assert m.fps == 120.0 and m.name == "clip_poses"
    # AMASS: SMPL-H FK in its Z-up world (root already rotates the Y-up model), plus trans
    amass_poses = np.zeros((10, NUM_JOINTS, 3))
    amass_poses[:, :22] = src["poses"][:, :66].reshape(10, 22, 3)
    world_amass = _fk(amass_poses, J) + src["trans"][:, None]
    # ours: FK in the Y-up model frame, then Y_UP_TO_Z_UP, then trans
    world_ours = _fk(m.poses, J) @ A.T + m.trans[:, None]
    np.testing.assert_allclose(world_ours, world_amass, atol=1e-9)
    # an upright AMASS body turning about world z is a turn about the model's y axis here
    np.testing.assert_allclose(m.poses[:, 0], np.outer(src["yaw"], [0, 1, 0]), atol=1e-9)
    np.testing.assert_allclose(m.poses[:, 1:22], amass_poses[:, 1:22], atol=0)
    assert not m.poses[:, 22:].any()  # SMPL-H finger joints are not SMPL's hand joints
    # without the pelvis the body is only shifted by the constant (I - A) J0
    shifted = load_amass(src["path"])
    offset = _fk(shifted.poses, J) @ A.T + shifted.trans[:, None] - world_amass
    np.testing.assert_allclose(offset, np.broadcast_to(A @ J[0] - J[0], offset.shape), atol=1e-9)


def test_amass_resample_keys_and_widths(tmp_path: Path) -> None:
    src = _amass_file(tmp_path, width=72, rate_key="mocap_frame_rate")
    m = load_amass(src["path"])
    np.testing.assert_array_equal(m.poses[:, 22:], 0.05)  # SMPL hands from 66:72
    assert abs(load_amass(src["path"], fps=30).num_frames - 10 / 4) <= 1
    np.savez(tmp_path / "bad.npz", poses=src["poses"], trans=src["trans"])
    with pytest.raises(MotionError, match="mocap_framerate"):
        load_amass(tmp_path / "bad.npz")
    np.savez(tmp_path / "shape.npz", betas=np.zeros(16), mocap_framerate=120.0)
    with pytest.raises(MotionError, match="'poses'"):
        load_amass(tmp_path / "shape.npz")
    np.savez(
        tmp_path / "narrow.npz", poses=np.zeros((10, 63)), trans=src["trans"], mocap_framerate=120.0
    )
    with pytest.raises(MotionError, match="W >= 66"):
        load_amass(tmp_path / "narrow.npz")
    with pytest.raises(MotionFileNotFoundError):
        load_amass(tmp_path / "nope.npz")


# ------------------------------------------------------------------------------ BVH
_BVH = """HIERARCHY
ROOT Hips
{
  OFFSET 0.0 0.0 0.0
  CHANNELS 6 Xposition Yposition Zposition Zrotation Xrotation Yrotation
  JOINT LeftUpLeg
  {
    OFFSET 10.0 0.0 0.0
    CHANNELS 3 Zrotation Xrotation Yrotation
    JOINT LeftLeg
    {
      OFFSET 0.0 -45.0 0.0
      CHANNELS 3 Zrotation Xrotation Yrotation
      End Site
      {
        OFFSET 0.0 -45.0 0.0
      }
    }
  }
  JOINT Spine
  {
    OFFSET 0.0 10.0 0.0
    CHANNELS 3 Zrotation Xrotation Yrotation
    JOINT LeftShoulder
    {
      OFFSET 5.0 30.0 0.0
      CHANNELS 3 Zrotation Xrotation Yrotation
      JOINT LeftArm
      {
        OFFSET 15.0 0.0 0.0
        CHANNELS 3 Zrotation Xrotation Yrotation
        JOINT LeftForeArm
        {
          OFFSET 28.0 0.0 0.0
          CHANNELS 3 Zrotation Xrotation Yrotation
          End Site
          {
            OFFSET 25.0 0.0 0.0
          }
        }
      }
    }
  }
}
MOTION
Frames: 3
Frame Time: 0.04
0 92 0  0 0 0  0 0 0  0 0 0  0 0 0  0 0 0  0 0 0  0 0 0
5 92 0  0 0 30  0 0 0  0 0 0  0 0 0  0 0 0  0 0 0  0 0 90
10 91 2  0 0 0  0 0 0  0 0 0  20 0 0  0 0 0  0 0 0  30 45 0
"""


def test_bvh_import(tmp_path: Path) -> None:
    (tmp_path / "jab.bvh").write_text(_BVH)
    m = load_bvh(tmp_path / "jab.bvh")
    assert m.num_frames == 3 and m.fps == pytest.approx(25.0) and m.name == "jab"
    elbow, shoulder = joint_index("left_elbow"), joint_index("left_shoulder")
    # frame 2: LeftForeArm turns 90 deg about Y (ZXY order: 0 0 90)
    np.testing.assert_allclose(np.linalg.norm(m.poses[1, elbow]), np.pi / 2, atol=1e-6)
    np.testing.assert_allclose(m.poses[1, elbow], [0, np.pi / 2, 0], atol=1e-9)
    # the root yaw of 30 deg about Y (Y-up, same frame as the model)
    np.testing.assert_allclose(m.poses[1, 0], [0, np.radians(30), 0], atol=1e-9)
    # frame 3: Z=30, X=45 in ZXY order -> R = Rz(30) Rx(45); Spine's 20 deg about Z is not
    # part of the elbow's local rotation, and is carried by spine1 (collar/spine3 follow it)
    R = axis_angle_to_matrix(m.poses[2, elbow])
    np.testing.assert_allclose(R, _rot("Z", 30) @ _rot("X", 45), atol=1e-9)
    np.testing.assert_allclose(m.poses[2, joint_index("spine1")], [0, 0, np.radians(20)], atol=1e-9)
    assert not m.poses[:, shoulder].any() and not m.poses[:, joint_index("head")].any()
    # centimetres guessed from the 90 unit hip height; Y-up root position -> Z-up metres
    np.testing.assert_allclose(m.trans[0], [0.0, 0.0, 0.92], atol=1e-12)
    np.testing.assert_allclose(m.trans[2], [0.10, -0.02, 0.91], atol=1e-12)
    m_units = load_bvh(tmp_path / "jab.bvh", scale=1.0, fps=50.0)
    assert m_units.trans[0, 2] == pytest.approx(92.0) and m_units.num_frames == 5


def test_bvh_joint_map_and_hierarchy_checks(tmp_path: Path) -> None:
    bvh = parse_bvh(_BVH)
    assert [j.name for j in bvh.joints][:3] == ["Hips", "LeftUpLeg", "LeftLeg"]
    assert bvh.frames.shape == (3, 24)
    (tmp_path / "a.bvh").write_text(_BVH.replace("Hips", "mixamorig:Hips"))
    assert load_bvh(tmp_path / "a.bvh").num_frames == 3  # namespace prefix ignored
    with pytest.raises(MotionError, match="pelvis"):
        load_bvh(tmp_path / "a.bvh", joint_map={"LeftArm": "left_shoulder"})
    with pytest.raises(MotionError, match="unknown SMPL joints"):
        load_bvh(tmp_path / "a.bvh", joint_map={"Hips": "hips"})
    with pytest.raises(MotionError, match="not below"):
        load_bvh(
            tmp_path / "a.bvh",
            joint_map={"Hips": "pelvis", "Spine": "left_hip", "LeftUpLeg": "left_knee"},
        )


@pytest.mark.parametrize(
    ("old", "new", "line", "msg"),
    [
        (
            "OFFSET 0.0 -45.0 0.0\n      CHANNELS",
            "OFFSET 0.0 abc 0.0\n      CHANNELS",
            12,
            "expected a number",
        ),
        (
            "CHANNELS 3 Zrotation Xrotation Yrotation\n    JOINT LeftShoulder",
            "CHANNELS 3 Zrotation Wrotation Yrotation\n    JOINT LeftShoulder",
            23,
            "unknown channel",
        ),
        ("5 92 0  0 0 30", "5 92 0  0 0", 49, "has 23 values, the hierarchy has 24"),
        ("Frame Time: 0.04", "Frame Time: -1", 47, "Frame Time must be > 0"),
        ("HIERARCHY", "HIERARCHIE", 1, "starts with 'HIERARCHY'"),
        ("Frames: 3", "Frames: 4", 50, r"\(line 46\) but only 3 frame lines"),
    ],
)
def test_malformed_bvh_names_the_line(
    tmp_path: Path, old: str, new: str, line: int, msg: str
) -> None:
    assert old in _BVH
    (tmp_path / "bad.bvh").write_text(_BVH.replace(old, new, 1))
    with pytest.raises(MotionError, match=rf"line {line}\b.*{msg}"):
        load_bvh(tmp_path / "bad.bvh")


def test_bvh_missing_file(tmp_path: Path) -> None:
    with pytest.raises(MotionFileNotFoundError):
        load_bvh(tmp_path / "none.bvh")
