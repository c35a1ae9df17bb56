"""A procedural action library: punch, kick, push and slap aimed at a target point.

Each action is a few key poses (guard, wind-up, strike, recover) built by aiming limb chains at
directions, timed so that the effector reaches the target at ``contact_time`` with a chosen peak
``approach_speed``, and interpolated per joint by slerp with a minimum-jerk profile
(10 s^3 - 15 s^4 + 6 s^5), which keeps velocity and acceleration continuous. The pelvis and the
standing foot do not move, so feet stay planted. The windowed attraction (``attraction.py``)
then refines the motion so the effector lands on the object's surface.

Directions below are in the body's local frame (the model's Y-up frame: +x the subject's left,
+y up, +z forward) after the root's yaw.
"""

from __future__ import annotations

import difflib
import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.spatial.transform import Rotation

from phygenhoi.attraction import follow_path
from phygenhoi.body import BodyModel
from phygenhoi.effector import effector_vertices, leading_vertex
from phygenhoi.errors import ActionError
from phygenhoi.motion import Motion
from phygenhoi.skeleton import NUM_JOINTS, Y_UP_TO_Z_UP, joint_index

ACTIONS = ("punch", "kick", "push", "slap")
DEFAULT_EFFECTOR = {
    "punch": "right_hand",
    "kick": "right_foot",
    "push": "right_hand",
    "slap": "right_hand",
}
_ALLOWED_EFFECTORS = {
    "punch": ("right_hand", "left_hand"),
    "slap": ("right_hand", "left_hand"),
    "push": ("right_hand", "left_hand"),
    "kick": ("right_foot", "left_foot"),
}


@dataclass(frozen=True)
class ActionMotion:
    """A generated action: the motion plus what the attraction and contact stages need.

    Attributes:
        motion: the body motion (poses in the model frame, root translation in the world).
        action, effector: names. effector_joint: SMPL joint index.
        contact_frame: frame at which the effector is meant to reach the target.
        target: the aimed contact point (world) [m].
        stroke: (start, end) time of the striking stroke [s]; contact is where the effector
            passes closest to the target, near the stroke's speed peak.
    """

    motion: Motion
    action: str
    effector: str
    effector_joint: int
    contact_frame: int
    target: np.ndarray
    stroke: tuple[float, float]


def _unit(v: Sequence[float]) -> np.ndarray:
    a = np.asarray(v, dtype=np.float64)
    return a / np.linalg.norm(a)


def _min_rotation(a: np.ndarray, b: np.ndarray) -> Rotation:
    """The smallest rotation taking direction a to direction b."""
    a, b = _unit(a), _unit(b)
    axis = np.cross(a, b)
    s, c = np.linalg.norm(axis), float(np.dot(a, b))
    if s < 1e-9:
        if c > 0:
            return Rotation.identity()
        # opposite: any perpendicular axis
        perp = np.cross(a, [1.0, 0.0, 0.0])
        if np.linalg.norm(perp) < 1e-6:
            perp = np.cross(a, [0.0, 1.0, 0.0])
        return Rotation.from_rotvec(_unit(perp) * math.pi)
    return Rotation.from_rotvec(axis / s * math.atan2(s, c))


class _Skeleton:
    """Rest directions of the body's bones in the model frame."""

    def __init__(self, body: BodyModel) -> None:
        self.body = body
        self.rest_model = body.rest_joints.astype(np.float64) @ Y_UP_TO_Z_UP  # world -> model

    def bone(self, joint: str, child: str) -> np.ndarray:
        j, c = joint_index(joint), joint_index(child)
        return self.rest_model[c] - self.rest_model[j]

    def aim_chain(
        self, pose: np.ndarray, chain: Sequence[str], directions: Sequence[np.ndarray]
    ) -> None:
        """Set local rotations of ``chain[:-1]`` (in place, (24, 3) axis-angle) so each bone
        chain[k] -> chain[k+1] points along directions[k] (root-local frame). Joints above the
        chain are assumed unrotated; twist is left minimal."""
        accumulated = Rotation.identity()
        for k in range(len(chain) - 1):
            rest = self.bone(chain[k], chain[k + 1])
            current = accumulated.apply(rest)
            global_fix = _min_rotation(current, directions[k])
            # local rotation in the parent's frame: R_local = A^-1 R_fix A
            local = accumulated.inv() * global_fix * accumulated
            j = joint_index(chain[k])
            pose[j] = (Rotation.from_rotvec(pose[j]) * local).as_rotvec()
            accumulated = accumulated * local


def _side(effector: str) -> str:
    return "left" if effector.startswith("left") else "right"


def _arm_chain(side: str) -> list[str]:
    return [f"{side}_shoulder", f"{side}_elbow", f"{side}_wrist", f"{side}_hand"]


def _leg_chain(side: str) -> list[str]:
    return [f"{side}_hip", f"{side}_knee", f"{side}_ankle", f"{side}_foot"]


def _min_jerk(s: np.ndarray) -> np.ndarray:
    return s**3 * (10 - 15 * s + 6 * s * s)


def _interpolate(keys: list[tuple[float, np.ndarray]], times: np.ndarray) -> np.ndarray:
    """Per-joint slerp between key poses with a minimum-jerk profile; (T, 24, 3)."""
    key_times = np.array([k[0] for k in keys])
    rotations = [Rotation.from_rotvec(k[1]) for k in keys]
    # relative rotation of every joint across every key interval, as rotation vectors
    steps = [(a.inv() * b).as_rotvec() for a, b in itertools.pairwise(rotations)]
    out = np.zeros((len(times), NUM_JOINTS, 3))
    for f, t in enumerate(times):
        i = int(np.clip(np.searchsorted(key_times, t, side="right") - 1, 0, len(keys) - 2))
        t0, t1 = key_times[i], key_times[i + 1]
        s = float(np.clip(_min_jerk(np.clip((t - t0) / max(t1 - t0, 1e-9), 0.0, 1.0)), 0, 1))
        out[f] = (rotations[i] * Rotation.from_rotvec(s * steps[i])).as_rotvec()
    return out


def check_action(action: str, effector: str | None = None) -> str:
    """Validate an action name and its effector; returns the effector (default filled in).

    Raises:
        ActionError: unknown action (with the closest name) or an effector it cannot use.
    """
    if action not in ACTIONS:
        close = difflib.get_close_matches(str(action), ACTIONS, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise ActionError(f"unknown action {action!r}.{hint} Actions: {list(ACTIONS)}.")
    effector = effector or DEFAULT_EFFECTOR[action]
    if effector not in _ALLOWED_EFFECTORS[action]:
        raise ActionError(
            f"{action} uses one of {_ALLOWED_EFFECTORS[action]} as effector, got {effector!r}."
        )
    return effector


def make_action(
    body: BodyModel,
    action: str,
    target: Sequence[float],
    contact_time: float = 0.8,
    approach_speed: float = 3.0,
    effector: str | None = None,
    duration: float | None = None,
    fps: float = 30.0,
    ground: float = 0.0,
    facing: Sequence[float] = (1.0, 0.0),
) -> ActionMotion:
    """A motion of ``body`` performing ``action`` so that ``effector`` reaches ``target``
    (world, Z-up [m]) at ``contact_time`` [s] moving at about ``approach_speed`` [m/s].

    The body stands on the plane z = ``ground``, facing the horizontal direction ``facing``,
    at the distance where the target is just within reach of the straight limb.

    Raises:
        ActionError: unknown action or effector, bad timing, target out of reach.
    """
    effector = check_action(action, effector)
    if not (approach_speed > 0 and math.isfinite(approach_speed)):
        raise ActionError(f"approach_speed must be positive [m/s], got {approach_speed!r}.")
    if not contact_time > 0.2:
        raise ActionError(
            f"contact_time={contact_time} s leaves no time to wind up; use more than 0.2 s "
            "(how much more depends on the action and approach_speed; the default is 0.8 s)."
        )
    duration = contact_time + 0.7 if duration is None else float(duration)
    if duration < contact_time + 0.2:
        raise ActionError(
            f"duration={duration} s must extend at least 0.2 s past contact_time={contact_time}."
        )
    target_w = np.asarray(target, dtype=np.float64)
    skeleton = _Skeleton(body)
    side = _side(effector)
    limb = _arm_chain(side) if action != "kick" else _leg_chain(side)
    base_joint = limb[0]

    # -- placement: face along `facing`, stand so the target is at the limb's reach ----------
    reach = float(sum(np.linalg.norm(skeleton.bone(a, b)) for a, b in itertools.pairwise(limb)))
    base_rest = Y_UP_TO_Z_UP @ skeleton.rest_model[joint_index(base_joint)]  # world, zero trans
    if action == "push":  # two-handed: the target sits straight ahead of the chest
        shoulders = [joint_index("left_shoulder"), joint_index("right_shoulder")]
        base_rest = Y_UP_TO_Z_UP @ skeleton.rest_model[shoulders].mean(axis=0)
    lift = float(np.atleast_1d(body.ground_offset(np.zeros((1, NUM_JOINTS, 3))))[0]) + ground
    dz = target_w[2] - (base_rest[2] + lift)
    # the contact point sits at 80% of the straight limb: the strike pose (straight limb along
    # the same line) carries the effector ~20% of the limb through it, so the effector meets
    # the surface at full speed mid-stroke instead of stopping on it
    # thrusts (punch, push) meet the target at 80% of the straight limb and follow through;
    # swings (kick, slap) sweep the straight limb through it, so the target sits at full reach
    swing = action in ("kick", "slap")
    extension = (0.97 if swing else 0.8) * reach
    if abs(dz) >= extension:
        raise ActionError(
            f"the target at height {target_w[2]:.2f} m is out of reach of the {effector} "
            f"(joint height {base_rest[2] + lift:.2f} m, limb {reach:.2f} m); move the target "
            "or choose another action (kick for low targets)."
        )
    horizontal = math.sqrt(extension**2 - dz**2)
    face = np.asarray(facing, dtype=np.float64)[:2]
    if not np.isfinite(face).all() or np.linalg.norm(face) < 1e-9:
        raise ActionError(f"facing must be a horizontal direction (x, y), got {facing!r}.")
    face = face / np.linalg.norm(face)
    # at zero yaw the body faces -y; yaw psi about +z turns (0, -1) into (sin psi, -cos psi)
    yaw = math.atan2(face[0], -face[1])
    c, s_ = math.cos(yaw), math.sin(yaw)
    base_xy = np.array([c * base_rest[0] - s_ * base_rest[1], s_ * base_rest[0] + c * base_rest[1]])
    root_xy = target_w[:2] - face * horizontal - base_xy
    trans = np.array([root_xy[0], root_xy[1], lift])
    root = np.zeros((NUM_JOINTS, 3))
    root[0] = (0.0, yaw, 0.0)  # yaw about the model's up axis = world +z

    # -- aim directions in the root-local frame ----------------------------------------------
    to_target_world = target_w - np.array([*(base_xy + root_xy), base_rest[2] + lift])
    local_target = Rotation.from_rotvec(root[0]).inv().apply(Y_UP_TO_Z_UP.T @ to_target_world)
    aim = _unit(local_target)
    out_sign = 1.0 if side == "left" else -1.0  # +x is the subject's left
    guard = root.copy()
    windup = root.copy()
    strike = root.copy()
    if action in ("punch", "push"):
        arms = [side] if action == "punch" else ["left", "right"]
        if action == "punch":  # the other arm keeps its guard throughout
            other = "left" if side == "right" else "right"
            osg = 1.0 if other == "left" else -1.0
            for pose in (guard, windup, strike):
                skeleton.aim_chain(
                    pose, _arm_chain(other)[:3], [_unit([0.25 * osg, -1.0, 0.35]),
                                                  _unit([-0.35 * osg, 0.9, 0.8])]
                )  # fmt: skip
        for arm in arms:
            sgn = 1.0 if arm == "left" else -1.0
            upper_guard = _unit([0.25 * sgn, -1.0, 0.35])
            fore_guard = _unit([-0.35 * sgn, 0.9, 0.8])
            skeleton.aim_chain(guard, _arm_chain(arm)[:3], [upper_guard, fore_guard])
            # elbow tucked back (not flared), so the extending arm stays in the strike's plane
            upper_back = _unit([0.05 * sgn, -0.6, -0.8])
            inward = 0.0 if action == "punch" else -0.3 * sgn  # push hands meet in front
            fore_back = _unit([inward, 0.45 if action == "punch" else 0.2, 1.0])
            skeleton.aim_chain(windup, _arm_chain(arm)[:3], [upper_back, fore_back])
        # strike: each straight arm aimed so that the line from its wind-up hand through its
        # target ends at full reach; the hand then passes through the target on a straight
        # path (follow_path below). Push hands land side by side, 12 cm apart.
        left_world = np.array([-face[1], face[0], 0.0])
        for arm in arms:
            hand_target = target_w
            if action == "push":
                hand_target = target_w + (0.06 if arm == "left" else -0.06) * left_world
            through = _through_direction(
                body, windup, trans, root, joint_index(f"{arm}_hand"),
                joint_index(f"{arm}_shoulder"), hand_target, reach,
            )  # fmt: skip
            skeleton.aim_chain(strike, _arm_chain(arm), [through] * 3)
    elif action == "slap":
        # open to the side, then sweep across; the swing stays under 180 degrees in total
        side = _unit([out_sign, 0.1, 0.45])
        skeleton.aim_chain(guard, limb[:3], [_unit([0.25 * out_sign, -1, 0.2]), _unit([0, 0.2, 1])])
        skeleton.aim_chain(windup, limb, [side] * 3)
        through = _min_rotation(side, aim).apply(aim)  # as far past the aim as it started
        skeleton.aim_chain(strike, limb, [through] * 3)
    else:  # kick: a straight-leg swing from behind, through the target, up
        back = _unit([0.0, -1.0, -0.3])
        skeleton.aim_chain(windup, limb, [back] * 3)
        through = _min_rotation(back, aim).apply(aim)
        skeleton.aim_chain(strike, limb, [through] * 3)

    # -- timing --------------------------------------------------------------------------------
    # peak speed of a minimum-jerk stroke of length L and duration T is 1.875 L / T
    path = _effector_path(body, [windup, strike], trans, joint_index(effector))
    stroke = float(np.clip(1.875 * path / approach_speed, 0.1, 0.8))
    # it is the skin that must touch the target at contact_time, not the joint: the knuckles,
    # fingertips or toes lead the joint by several cm along the direction of motion, by an
    # amount that depends on the pose mid-stroke. Plan the joint onto an aim point, measure
    # where the leading skin vertex is at the contact frame, and shift the aim point along
    # the stroke until the skin sits on the target (converges in 2-3 rounds).
    joint = joint_index(effector)
    ends = body.joint_positions(np.stack([windup, strike]), np.tile(trans, (2, 1)))
    a, b = ends[0, joint].astype(np.float64), ends[1, joint].astype(np.float64)
    if swing:  # the joint-space arc; direction of motion where it passes the target
        _, direction = _closest_approach(body, windup, strike, trans, joint, target_w)
    else:  # thrusts are straightened (follow_path): the segment from wind-up to strike
        direction = _unit(b - a)
    contact_frame = round(contact_time * fps)
    candidates = effector_vertices(body, joint)
    timed = _TimedStroke(body, action, (guard, windup, strike), trans, joint, stroke, fps)
    tried: list[tuple[float, float]] = []  # (aim shift along the stroke [m], shortfall [m])
    shift = 0.0
    for _ in range(6):
        aim_point = target_w + shift * direction
        if swing:
            s_star, _ = _closest_approach(body, windup, strike, trans, joint, aim_point)
        else:  # project the aim point on the segment
            s_star = float(np.clip(np.dot(aim_point - a, b - a) / np.dot(b - a, b - a), 0, 1))
        motion, start, end = timed.motion(s_star, contact_time, duration, approach_speed)
        span = slice(contact_frame - 1, contact_frame + 2)
        posed = body.forward(motion.poses[span], motion.trans[span])
        moving = posed.joints[2, joint].astype(np.float64) - posed.joints[0, joint]
        vertex, _ = leading_vertex(posed.vertices[1], posed.joints[1, joint], candidates, moving)
        shortfall = float((target_w - posed.vertices[1, vertex]) @ direction)
        tried.append((shift, shortfall))
        if abs(shortfall) < 3e-3:
            break
        if len(tried) == 1:
            shift += shortfall
        else:  # secant step on shortfall(shift), which is monotone but not linear
            (x0, f0), (x1, f1) = tried[-2], tried[-1]
            shift = x1 - f1 * (x1 - x0) / (f1 - f0) if abs(f1 - f0) > 1e-9 else x1 + f1
    return ActionMotion(
        motion=motion,
        action=action,
        effector=effector,
        effector_joint=joint_index(effector),
        contact_frame=contact_frame,
        target=target_w,
        stroke=(start, end),
    )


class _TimedStroke:
    """Key poses (guard, wind-up, strike) timed so the stroke passes parameter s* at the
    contact time, interpolated per frame; thrusts straightened onto a line."""

    def __init__(
        self,
        body: BodyModel,
        action: str,
        keys: tuple[np.ndarray, np.ndarray, np.ndarray],
        trans: np.ndarray,
        joint: int,
        stroke: float,
        fps: float,
    ) -> None:
        self.body, self.action, self.keys = body, action, keys
        self.trans, self.joint, self.stroke, self.fps = trans, joint, stroke, float(fps)

    def motion(
        self, s_star: float, contact_time: float, duration: float, approach_speed: float
    ) -> tuple[Motion, float, float]:
        """(motion, stroke start [s], stroke end [s])."""
        guard, windup, strike = self.keys
        stroke, fps = self.stroke, self.fps
        u_star = float(np.interp(s_star, _min_jerk(_U), _U))  # min_jerk(u*) = s*
        start = contact_time - u_star * stroke
        prepare = max(0.3, stroke)  # wind-up no faster than the strike: peak stays at contact
        if start < prepare - 1e-9:
            raise ActionError(
                f"contact_time={contact_time} s is too early for a {stroke:.2f} s stroke at "
                f"{approach_speed} m/s after a {prepare:.2f} s wind-up; use contact_time >= "
                f"{prepare + u_star * stroke:.2f} s or a higher approach_speed."
            )
        end = start + stroke
        # the way back is slower than the strike, so the speed peak stays at contact
        recover = max(0.35, 1.5 * stroke)
        keys = [
            (0.0, guard),
            (start - prepare, guard),
            (start, windup),
            (end, strike),
            (end + recover, guard),
            (max(duration, end + recover) + 1e-6, guard),
        ]
        keys = [k for i, k in enumerate(keys) if i == 0 or k[0] > keys[i - 1][0] + 1e-6]
        num_frames = round(duration * fps) + 1
        poses = _interpolate(keys, np.arange(num_frames) / fps)
        motion = Motion(
            poses=poses, trans=np.tile(self.trans, (num_frames, 1)), fps=fps, name=self.action
        )
        if self.action in ("punch", "push"):  # thrusts travel in a straight line
            times = np.arange(num_frames) / fps
            inside = np.flatnonzero((times > start) & (times < end))
            keys_xyz = self.body.joint_positions(
                np.stack([windup, strike]), np.tile(self.trans, (2, 1))
            )
            a, b = keys_xyz[:, self.joint].astype(np.float64)
            s = _min_jerk((times[inside] - start) / stroke)
            motion = follow_path(self.body, motion, self.joint, inside, a + s[:, None] * (b - a))
        return motion, start, end


_U = np.linspace(0.0, 1.0, 201)


def _slerp(a: np.ndarray, b: np.ndarray, s: float) -> np.ndarray:
    """Per-joint slerp from pose a to pose b ((24, 3) axis-angle) at parameter s."""
    ra, rb = Rotation.from_rotvec(a), Rotation.from_rotvec(b)
    return (ra * Rotation.from_rotvec(s * (ra.inv() * rb).as_rotvec())).as_rotvec()


def _closest_approach(
    body: BodyModel,
    a: np.ndarray,
    b: np.ndarray,
    trans: np.ndarray,
    joint: int,
    target: np.ndarray,
) -> tuple[float, np.ndarray]:
    """(s, direction): the interpolation parameter in [0, 1] (per-joint slerp from pose a to
    b) at which the joint passes closest to ``target``, and the unit direction it moves in
    there."""
    s = np.linspace(0.0, 1.0, 201)
    poses = np.stack([_slerp(a, b, x) for x in s])
    joints = body.joint_positions(poses, np.tile(trans, (len(s), 1)))[:, joint]
    best = int(np.argmin(np.linalg.norm(joints - target, axis=1)))
    tangent = np.gradient(joints.astype(np.float64), axis=0)[best]
    return float(s[best]), _unit(tangent)


def _through_direction(
    body: BodyModel,
    windup: np.ndarray,
    trans: np.ndarray,
    root: np.ndarray,
    effector: int,
    base: int,
    target: np.ndarray,
    reach: float,
) -> np.ndarray:
    """Root-local direction of a straight limb from joint ``base`` whose end lies on the ray
    from the wind-up effector position through ``target`` (|end - base| = reach)."""
    joints = body.joint_positions(windup[None], trans[None])[0].astype(np.float64)
    start, origin = joints[effector], joints[base]
    u = _unit(target - start)
    d = start - origin
    ud = float(u @ d)
    length = -ud + math.sqrt(max(ud * ud - d @ d + reach * reach, 0.0))
    world = _unit(start + u * length - origin)
    return Rotation.from_rotvec(root[0]).inv().apply(Y_UP_TO_Z_UP.T @ world)


def _effector_path(
    body: BodyModel, poses: list[np.ndarray], trans: np.ndarray, joint: int
) -> float:
    """Straight-line distance [m] the effector travels between two key poses."""
    joints = body.joint_positions(np.stack(poses), np.tile(trans, (len(poses), 1)))
    return float(np.linalg.norm(joints[1, joint] - joints[0, joint]))


__all__ = ["ACTIONS", "DEFAULT_EFFECTOR", "ActionMotion", "check_action", "make_action"]
