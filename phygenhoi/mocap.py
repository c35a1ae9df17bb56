"""Motion-capture importers: AMASS ``.npz`` and BVH, into :class:`phygenhoi.motion.Motion`.

Both importers place the motion with the convention of :mod:`phygenhoi.motion`
(``x_world = Y_UP_TO_Z_UP @ x_model(poses) + trans``). Because SMPL rotates the body about its rest
pelvis ``J[0]`` while the Y-up -> Z-up change rotates about the model origin, an exact placement
needs ``J[0]`` of the body that will play the motion: pass it as ``pelvis`` (e.g.
``body.rest_joints[0]``). With the default ``pelvis=None`` (zeros) the motion is exact up to the
constant world offset ``(I - Y_UP_TO_Z_UP) @ J[0]`` (tens of cm for SMPL), which grounding the
feet removes.
"""

from __future__ import annotations

import logging
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from numpy.typing import ArrayLike

from phygenhoi.errors import MotionError, MotionFileNotFoundError
from phygenhoi.motion import Motion
from phygenhoi.rotations import axis_angle_to_matrix, euler_to_matrix, matrix_to_axis_angle
from phygenhoi.skeleton import JOINT_NAMES, NUM_JOINTS, PARENTS, Y_UP_TO_Z_UP

__all__ = [
    "DEFAULT_BVH_JOINT_MAP",
    "BVHData",
    "BVHJoint",
    "amass_to_motion",
    "bvh_to_motion",
    "load_amass",
    "load_bvh",
    "parse_bvh",
]

logger = logging.getLogger("emu4d.phygenhoi")


def _pelvis(pelvis: ArrayLike | None) -> np.ndarray:
    if pelvis is None:
        return np.zeros(3)
    p = np.asarray(pelvis, dtype=np.float64)
    if p.shape != (3,) or not np.all(np.isfinite(p)):
        raise MotionError(f"pelvis must be a finite (3,) rest pelvis position [m], got {pelvis!r}")
    return p


# ====================================================================================== AMASS
def amass_to_motion(
    poses: ArrayLike,
    trans: ArrayLike,
    fps: float,
    *,
    pelvis: ArrayLike | None = None,
    name: str = "",
) -> Motion:
    """Convert AMASS arrays to a :class:`Motion`.

    Args:
        poses: (T, W) axis-angle [rad]. The first 66 values are the SMPL/SMPL-H/SMPL-X root + 21
            body joints, which share SMPL joints 0-21. Only a 72-wide vector (SMPL) carries SMPL's
            hand joints 22-23 (``left_hand``, ``right_hand``) at 66:72; wider vectors (SMPL-H 156,
            SMPL-X 165) hold finger/face joints there, which have no SMPL joint, so joints 22-23
            are set to zero for them (and for 66-wide input).
        trans: (T, 3) AMASS root translation [m] (SMPL ``transl``, AMASS Z-up world).
        fps: frame rate [1/s].
        pelvis: rest pelvis ``J[0]`` [m] in the model's Y-up frame (see the module docstring).

    Derivation: AMASS poses the Y-up model with ``global_orient`` already turning it into its
    Z-up world, ``x = J0 + R_a X + t_a`` (X: the pelvis-relative body from the other joints).
    Ours is ``x = A (J0 + R X) + t`` with ``A = Y_UP_TO_Z_UP``. Equal for every X iff
    ``R = A^T R_a`` and ``t = t_a + J0 - A J0``. The AMASS and emu4d worlds are both Z-up and
    taken to be the same frame.
    """
    p = np.asarray(poses, dtype=np.float64)
    t = np.asarray(trans, dtype=np.float64)
    if p.ndim != 2 or p.shape[1] < 66 or p.shape[1] % 3:
        raise MotionError(
            f"AMASS poses must have shape (T, W) with W >= 66 a multiple of 3 (66, 72, 156, 165), "
            f"got {p.shape}"
        )
    if t.shape != (p.shape[0], 3):
        raise MotionError(f"AMASS trans must have shape ({p.shape[0]}, 3), got {t.shape}")
    T = p.shape[0]
    out = np.zeros((T, NUM_JOINTS, 3))
    out[:, :22] = p[:, :66].reshape(T, 22, 3)
    if p.shape[1] == 72:
        out[:, 22:24] = p[:, 66:72].reshape(T, 2, 3)
    A = Y_UP_TO_Z_UP
    out[:, 0] = matrix_to_axis_angle(A.T @ axis_angle_to_matrix(out[:, 0]))
    j0 = _pelvis(pelvis)
    return Motion(out, t + (j0 - A @ j0), fps, name=name)


def load_amass(
    path: str | Path, fps: float | None = None, *, pelvis: ArrayLike | None = None
) -> Motion:
    """Load an AMASS ``.npz`` (keys ``poses``, ``trans``, ``mocap_framerate`` or
    ``mocap_frame_rate``) as a :class:`Motion`, resampled to ``fps`` [1/s] when given.

    ``betas`` and ``gender`` are ignored (the body shape belongs to the body model). See
    :func:`amass_to_motion` for the joint mapping, the frame conversion and ``pelvis``.
    """
    path = Path(path)
    if not path.is_file():
        raise MotionFileNotFoundError(f"AMASS file {path} does not exist")
    try:
        with np.load(path, allow_pickle=False) as data:
            for key in ("poses", "trans"):
                if key not in data.files:
                    raise MotionError(
                        f"{path} is not an AMASS motion: missing key {key!r} (keys: {data.files})"
                    )
            rate_key = next(
                (k for k in ("mocap_framerate", "mocap_frame_rate") if k in data.files), None
            )
            if rate_key is None:
                raise MotionError(
                    f"{path} is not an AMASS motion: missing key 'mocap_framerate' "
                    f"(or 'mocap_frame_rate') (keys: {data.files})"
                )
            poses, trans = data["poses"], data["trans"]
            source_fps = float(np.asarray(data[rate_key]).reshape(-1)[0])
    except MotionError:
        raise
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as err:
        raise MotionError(f"cannot read AMASS file {path}: {err}") from err
    motion = amass_to_motion(poses, trans, source_fps, pelvis=pelvis, name=path.stem)
    logger.info("loaded AMASS %s: %d frames at %g fps", path, motion.num_frames, motion.fps)
    return motion if fps is None else motion.resample(fps)


# ======================================================================================== BVH
DEFAULT_BVH_JOINT_MAP: dict[str, str] = {
    "Hips": "pelvis",
    "Spine": "spine1",
    "Spine1": "spine2",
    "Spine2": "spine3",
    "Neck": "neck",
    "Head": "head",
    **{
        f"{side}{bvh}": f"{side.lower()}_{smpl}"
        for side in ("Left", "Right")
        for bvh, smpl in (
            ("UpLeg", "hip"),
            ("Leg", "knee"),
            ("Foot", "ankle"),
            ("ToeBase", "foot"),
            ("Shoulder", "collar"),
            ("Arm", "shoulder"),
            ("ForeArm", "elbow"),
            ("Hand", "wrist"),
        )
    },
}
"""BVH joint name -> SMPL joint name for the common (CMU / Mixamo) naming. A namespace prefix
such as ``mixamorig:`` is ignored when the full name is not in the map."""

_CHANNELS = {f"{axis}{kind}": (kind, axis) for axis in "XYZ" for kind in ("position", "rotation")}


@dataclass(frozen=True)
class BVHJoint:
    """One BVH joint: its parent index (-1 for the root), rest offset and channel names."""

    name: str
    parent: int
    offset: np.ndarray
    """rest offset from the parent [file units], (3,)"""
    channels: tuple[str, ...]
    """channel names in file order, e.g. ('Zrotation', 'Xrotation', 'Yrotation')"""
    end_sites: tuple[np.ndarray, ...] = field(default=())
    """offsets [file units] of this joint's End Sites, each (3,)"""


@dataclass(frozen=True)
class BVHData:
    """A parsed BVH file: the joints (parents before children) and the raw channel values."""

    joints: tuple[BVHJoint, ...]
    frame_time: float
    """seconds per frame [s]"""
    frames: np.ndarray
    """channel values per frame, (F, sum of channels); angles in degrees"""


class _Lines:
    """Tokens of the HIERARCHY section with their 1-based line numbers."""

    def __init__(self, lines: list[str], source: str):
        self.source = source
        self.tokens: list[tuple[str, int]] = []
        for number, line in enumerate(lines, start=1):
            for tok in line.replace("{", " { ").replace("}", " } ").split():
                self.tokens.append((tok, number))
        self.pos = 0
        self.last_line = len(lines)

    def error(self, line: int, message: str) -> MotionError:
        return MotionError(f"malformed BVH {self.source}, line {line}: {message}")

    def next(self, expecting: str) -> tuple[str, int]:
        if self.pos >= len(self.tokens):
            raise self.error(self.last_line, f"file ends while expecting {expecting}")
        tok = self.tokens[self.pos]
        self.pos += 1
        return tok

    def expect(self, word: str) -> int:
        tok, line = self.next(repr(word))
        if tok != word:
            raise self.error(line, f"expected {word!r}, found {tok!r}")
        return line

    def number(self, what: str) -> float:
        tok, line = self.next(what)
        try:
            value = float(tok)
        except ValueError:
            raise self.error(line, f"expected a number for {what}, found {tok!r}") from None
        if not np.isfinite(value):
            raise self.error(line, f"{what} must be finite, found {tok!r}")
        return value

    def rest_of_line(self, line: int) -> str:
        words = []
        while self.pos < len(self.tokens) and self.tokens[self.pos][1] == line:
            if self.tokens[self.pos][0] == "{":
                break
            words.append(self.tokens[self.pos][0])
            self.pos += 1
        return " ".join(words)


def _parse_joint(cur: _Lines, name: str, line: int, parent: int, out: list[BVHJoint]) -> None:
    if not name:
        raise cur.error(line, "joint without a name")
    cur.expect("{")
    index = len(out)
    out.append(BVHJoint(name, parent, np.zeros(3), ()))  # placeholder, filled in below
    offset: np.ndarray | None = None
    channels: tuple[str, ...] = ()
    ends: list[np.ndarray] = []
    while True:
        tok, tline = cur.next(f"'}}' closing joint {name!r}")
        if tok == "OFFSET":
            offset = np.array([cur.number(f"OFFSET of {name!r}") for _ in range(3)])
        elif tok == "CHANNELS":
            count = cur.number(f"CHANNELS count of {name!r}")
            if count != int(count) or not 0 <= count <= 6:
                raise cur.error(tline, f"CHANNELS count must be an integer 0..6, got {count:g}")
            names = []
            for _ in range(int(count)):
                ch, cline = cur.next(f"a channel name of {name!r}")
                key = ch[0].upper() + ch[1:].lower()
                if key not in _CHANNELS:
                    raise cur.error(cline, f"unknown channel {ch!r}; valid: {sorted(_CHANNELS)}")
                names.append(key)
            channels = tuple(names)
        elif tok in ("JOINT", "ROOT"):
            if tok == "ROOT":
                raise cur.error(tline, "ROOT inside a joint; use JOINT")
            _parse_joint(cur, cur.rest_of_line(tline), tline, index, out)
        elif tok == "End":
            cur.expect("Site")
            cur.expect("{")
            cur.expect("OFFSET")
            ends.append(np.array([cur.number(f"End Site OFFSET of {name!r}") for _ in range(3)]))
            cur.expect("}")
        elif tok == "}":
            break
        else:
            raise cur.error(tline, f"unexpected {tok!r} in joint {name!r}")
    if offset is None:
        raise cur.error(line, f"joint {name!r} has no OFFSET")
    out[index] = BVHJoint(name, parent, offset, channels, tuple(ends))


def parse_bvh(text: str, source: str = "<string>") -> BVHData:
    """Parse BVH text (HIERARCHY and MOTION sections); errors name ``source`` and the line."""
    lines = text.splitlines()
    motion_line = next((i for i, ln in enumerate(lines) if ln.split()[:1] == ["MOTION"]), None)
    cur = _Lines(lines if motion_line is None else lines[:motion_line], source)
    tok, line = cur.next("'HIERARCHY'")
    if tok != "HIERARCHY":
        raise cur.error(line, f"a BVH file starts with 'HIERARCHY', found {tok!r}")
    tok, line = cur.next("'ROOT'")
    if tok != "ROOT":
        raise cur.error(line, f"expected 'ROOT', found {tok!r}")
    joints: list[BVHJoint] = []
    _parse_joint(cur, cur.rest_of_line(line), line, -1, joints)
    if cur.pos < len(cur.tokens):
        tok, line = cur.tokens[cur.pos]
        raise cur.error(line, f"unexpected {tok!r} after the root joint (one ROOT supported)")
    if motion_line is None:
        raise cur.error(len(lines), "no MOTION section")

    # MOTION: 'Frames: N', 'Frame Time: dt', then one line of channel values per frame
    rest = [(i + 1, ln.strip()) for i, ln in enumerate(lines) if i > motion_line and ln.strip()]
    header: dict[str, float] = {}
    for key, label in (("Frames:", "Frames: <count>"), ("Frame Time:", "Frame Time: <seconds>")):
        if not rest:
            raise cur.error(len(lines), f"file ends while expecting {label!r}")
        number, ln = rest.pop(0)
        if not ln.startswith(key):
            raise cur.error(number, f"expected {label!r}, found {ln[:40]!r}")
        try:
            header[key] = float(ln[len(key) :].strip())
        except ValueError:
            raise cur.error(number, f"expected {label!r}, found {ln[:40]!r}") from None
        header[key + "line"] = number
    n_frames, frame_time = header["Frames:"], header["Frame Time:"]
    if n_frames != int(n_frames) or n_frames < 1:
        raise cur.error(
            int(header["Frames:line"]), f"Frames must be an integer >= 1, got {n_frames:g}"
        )
    if not np.isfinite(frame_time) or frame_time <= 0:
        raise cur.error(
            int(header["Frame Time:line"]), f"Frame Time must be > 0, got {frame_time:g}"
        )
    n_channels = sum(len(j.channels) for j in joints)
    frames = np.empty((int(n_frames), n_channels))
    for k, (number, ln) in enumerate(rest):
        if k >= n_frames:
            raise cur.error(number, f"more frame lines than 'Frames: {int(n_frames)}'")
        try:
            values = np.array(ln.split(), dtype=np.float64)
        except ValueError:
            raise cur.error(number, f"frame {k}: non-numeric value in {ln[:40]!r}") from None
        if values.size != n_channels:
            raise cur.error(
                number,
                f"frame {k} has {values.size} values, the hierarchy has {n_channels} channels",
            )
        if not np.all(np.isfinite(values)):
            raise cur.error(number, f"frame {k} has a non-finite value")
        frames[k] = values
    if len(rest) < n_frames:
        raise cur.error(
            len(lines),
            f"'Frames: {int(n_frames)}' (line {int(header['Frames:line'])}) but only "
            f"{len(rest)} frame lines follow",
        )
    return BVHData(tuple(joints), float(frame_time), frames)


def _guess_scale(bvh: BVHData) -> float:
    """Metres per file unit from the rest hip height: > 5 units means centimetres, else metres."""
    pos: list[np.ndarray] = []
    points: list[np.ndarray] = []
    for j in bvh.joints:
        p = j.offset.copy() if j.parent < 0 else pos[j.parent] + j.offset
        pos.append(p)
        points.append(p)
        points.extend(p + e for e in j.end_sites)
    ys = np.array([p[1] for p in points])
    hip_height = pos[0][1] - ys.min()
    if hip_height <= 0:  # no leg below the root: fall back to the skeleton's extent
        pts = np.array(points)
        hip_height = float(np.max(pts.max(axis=0) - pts.min(axis=0)))
    scale = 0.01 if hip_height > 5.0 else 1.0
    logger.info(
        "BVH units guessed as %s (rest hip height %.3g file units); pass scale= to override",
        "centimetres" if scale == 0.01 else "metres",
        hip_height,
    )
    return scale


def _lookup(name: str, joint_map: Mapping[str, str]) -> str | None:
    if name in joint_map:
        return joint_map[name]
    if ":" in name:
        return joint_map.get(name.rsplit(":", 1)[1])
    return None


def bvh_to_motion(
    bvh: BVHData,
    joint_map: Mapping[str, str] | None = None,
    *,
    scale: float | None = None,
    pelvis: ArrayLike | None = None,
    name: str = "",
) -> Motion:
    """Retarget parsed BVH data onto the SMPL skeleton by joint names.

    Assumptions (the limitation of name-based retargeting): the BVH world is Y-up with the same
    axes as the SMPL model frame (figure facing +Z), and its rest pose (all channels zero) is a
    T-pose aligned with the SMPL rest pose, with joint frames aligned to the world at rest (the
    usual BVH convention). Rotations are Euler angles in degrees applied intrinsically in channel
    order (``R = R_c1 R_c2 R_c3``). Each mapped SMPL joint takes the rotation of its BVH joint
    relative to the nearest mapped SMPL ancestor, so rotations of unmapped intermediate BVH joints
    (e.g. CMU's ``LHipJoint``) are folded in; unmapped SMPL joints get zero rotation. Position
    channels replace the matching OFFSET components; the BVH joint mapped to ``pelvis`` gives
    ``trans`` (scaled to metres, converted to Z-up; ``pelvis`` as in :mod:`phygenhoi.mocap`).

    Args:
        joint_map: BVH joint name -> SMPL joint name (default :data:`DEFAULT_BVH_JOINT_MAP`).
        scale: metres per file unit; ``None`` guesses 0.01 (cm) when the rest hip height exceeds
            5 units, else 1 (m). Other units (inches, mm) need an explicit scale.
    """
    joint_map = DEFAULT_BVH_JOINT_MAP if joint_map is None else dict(joint_map)
    bad = sorted({v for v in joint_map.values() if v not in JOINT_NAMES})
    if bad:
        raise MotionError(
            f"joint_map maps to unknown SMPL joints {bad}; valid: {list(JOINT_NAMES)}"
        )
    if scale is None:
        scale = _guess_scale(bvh)
    elif not np.isfinite(scale) or scale <= 0:
        raise MotionError(f"scale must be a finite number of metres per BVH unit > 0, got {scale}")

    joints = bvh.joints
    bvh_of: dict[int, int] = {}  # SMPL joint -> BVH joint
    for b, j in enumerate(joints):
        target = _lookup(j.name, joint_map)
        if target is None:
            continue
        s = JOINT_NAMES.index(target)
        if s in bvh_of:
            raise MotionError(
                f"BVH joints {joints[bvh_of[s]].name!r} and {j.name!r} both map to SMPL {target!r}"
            )
        bvh_of[s] = b
    if 0 not in bvh_of:
        raise MotionError(
            f"no BVH joint maps to SMPL 'pelvis'; pass joint_map={{{joints[0].name!r}: 'pelvis', "
            f"...}}. BVH joints: {[j.name for j in joints]}"
        )

    def ancestors(b: int) -> set[int]:
        out = set()
        while b >= 0:
            out.add(b)
            b = joints[b].parent
        return out

    for s, b in bvh_of.items():
        if s == 0:
            continue
        a = int(PARENTS[s])
        while a not in bvh_of:
            a = int(PARENTS[a])
        if bvh_of[a] not in ancestors(b):
            raise MotionError(
                f"BVH joint {joints[b].name!r} (SMPL {JOINT_NAMES[s]!r}) is not below "
                f"{joints[bvh_of[a]].name!r} (SMPL {JOINT_NAMES[a]!r}) in the BVH hierarchy; "
                f"fix joint_map"
            )

    # forward kinematics of the BVH skeleton, vectorised over frames
    F = bvh.frames.shape[0]
    G = np.empty((len(joints), F, 3, 3))
    P = np.empty((len(joints), F, 3))
    col = 0
    for b, j in enumerate(joints):
        vals = bvh.frames[:, col : col + len(j.channels)]
        col += len(j.channels)
        local_t = np.broadcast_to(j.offset, (F, 3)).copy()
        rot_axes, rot_cols = "", []
        for c, ch in enumerate(j.channels):
            kind, axis = _CHANNELS[ch]
            if kind == "position":
                local_t[:, "XYZ".index(axis)] = vals[:, c]
            else:
                rot_axes += axis
                rot_cols.append(c)
        R = (
            euler_to_matrix(np.radians(vals[:, rot_cols]), rot_axes)
            if rot_axes
            else np.broadcast_to(np.eye(3), (F, 3, 3))
        )
        if j.parent < 0:
            G[b], P[b] = R, local_t
        else:
            G[b] = G[j.parent] @ R
            P[b] = P[j.parent] + np.einsum("fij,fj->fi", G[j.parent], local_t)

    G_smpl = np.empty((NUM_JOINTS, F, 3, 3))
    local = np.empty((F, NUM_JOINTS, 3, 3))
    for s in range(NUM_JOINTS):  # parents precede children in SMPL order
        p = int(PARENTS[s])
        G_smpl[s] = G[bvh_of[s]] if s in bvh_of else G_smpl[p]
        local[:, s] = G_smpl[s] if p < 0 else np.swapaxes(G_smpl[p], -1, -2) @ G_smpl[s]
    poses = matrix_to_axis_angle(local)
    root_m = P[bvh_of[0]] * scale  # (F, 3) Y-up metres
    trans = (root_m - _pelvis(pelvis)) @ Y_UP_TO_Z_UP.T
    unmapped = [j.name for b, j in enumerate(joints) if b not in bvh_of.values()]
    if unmapped:
        logger.debug("BVH joints not mapped to SMPL (folded into children): %s", unmapped)
    return Motion(poses, trans, 1.0 / bvh.frame_time, name=name)


def load_bvh(
    path: str | Path,
    joint_map: Mapping[str, str] | None = None,
    fps: float | None = None,
    scale: float | None = None,
    *,
    pelvis: ArrayLike | None = None,
) -> Motion:
    """Load a BVH file as a :class:`Motion` (resampled to ``fps`` [1/s] when given).

    See :func:`bvh_to_motion` for the retargeting assumptions, ``joint_map`` and ``scale``.
    Malformed files raise :class:`MotionError` naming the line.
    """
    path = Path(path)
    if not path.is_file():
        raise MotionFileNotFoundError(f"BVH file {path} does not exist")
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError as err:
        raise MotionError(f"cannot read BVH file {path}: {err}") from err
    motion = bvh_to_motion(
        parse_bvh(text, source=str(path)), joint_map, scale=scale, pelvis=pelvis, name=path.stem
    )
    logger.info("loaded BVH %s: %d frames at %g fps", path, motion.num_frames, motion.fps)
    return motion if fps is None else motion.resample(fps)
