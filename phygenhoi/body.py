"""The human body model: a skinned mesh in the SMPL file layout, posed by joint rotations.

``BodyModel()`` loads the procedural body shipped in ``assets/bodies/procedural_neutral.npz``
(``python assets/make_body.py`` rebuilds it). ``BodyModel(model_path=...)`` loads a real model:

- ``.npz`` in the SMPL layout (``v_template``, ``f``, ``weights``, ``J_regressor``,
  ``kintree_table``, ``shapedirs``, optionally ``posedirs``) is read directly, no extra package;
  SMPL-H (52 joints) and SMPL-X (55 joints) files are reduced to the 24 SMPL joints (fingers fold
  into the hand joints, jaw and eyes into the head; fingers stay flat, no expressions);
- ``.pkl`` (the SMPL downloads) is read through the ``smplx`` package (``pip install smplx``);
- a directory is searched for ``SMPL_<GENDER>``, ``SMPLX_<GENDER>`` or ``SMPLH_<GENDER>``
  ``.npz``/``.pkl`` (also in its ``smpl/``, ``smplx/``, ``smplh/`` sub-folders).

Frames and conventions. Model files are Y-up (SMPL: the subject faces +z, its left is +x). Poses
are SMPL axis-angle rotations in that model frame (joint 0 = global orientation, about the rest
pelvis ``J[0]``). Outputs are converted once, at the end, to the Z-up world of emu4d::

    x_world = Y_UP_TO_Z_UP @ x_model + trans

so at zero pose the body stands along +z facing -y, and with zero ``trans`` its pelvis is at
:attr:`BodyModel.pelvis_offset` (= ``rest_joints[0]``); to put the pelvis at a world point p use
``trans = p - pelvis_offset``. :meth:`BodyModel.ground_offset` gives the z shift that puts the
lowest vertex on z = 0. The numpy API takes and returns float32 arrays (computed in float64);
:meth:`BodyModel.forward_torch` and :meth:`BodyModel.joint_positions_torch` are differentiable
and follow the dtype and device of their inputs.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from numpy.typing import ArrayLike

from phygenhoi import lbs
from phygenhoi.errors import BodyModelError
from phygenhoi.skeleton import JOINT_NAMES, NUM_JOINTS, Y_UP_TO_Z_UP

__all__ = ["REGISTRATION_HELP", "BodyModel", "BodyOutput"]

log = logging.getLogger("emu4d.phygenhoi")

DEFAULT_BODY = ("bodies", "procedural_neutral.npz")
REQUIRED_KEYS = ("v_template", "f", "weights", "J_regressor", "kintree_table", "shapedirs")
_SMPL_ROOT_PARENT = 4294967295  # "no parent" in SMPL kintree tables (uint32 -1)
_NUM_POSE_FEATURES = 9 * (NUM_JOINTS - 1)
_SHAPE_SPACE = 300  # SMPL-X files append expression directions after 300 shape directions
_FRAME_CHUNK = 128  # frames skinned at once by the numpy API (bounds memory)

REGISTRATION_HELP = (
    "SMPL / SMPL-H / SMPL-X model files cannot ship with emu4d: download them after registering "
    "and accepting the licence at https://smpl.is.tue.mpg.de (SMPL, SMPL-H via "
    "https://mano.is.tue.mpg.de) or https://smpl-x.is.tue.mpg.de (SMPL-X), put them in a folder "
    "of your choice, e.g. ~/body_models/smplx/SMPLX_NEUTRAL.npz or "
    "~/body_models/smpl/SMPL_NEUTRAL.pkl, and pass that file or folder as "
    "BodyModel(model_path=...). Without them, BodyModel() uses the procedural body shipped in "
    "assets/bodies/."
)


@dataclass(frozen=True)
class BodyOutput:
    """A posed body sequence in the Z-up world."""

    vertices: np.ndarray
    """(T, V, 3) float32 [m] vertex positions."""
    joints: np.ndarray
    """(T, 24, 3) float32 [m] joint positions."""
    faces: np.ndarray
    """(F, 3) int64 triangles (outward, counter-clockwise), shared by all frames."""


@dataclass(frozen=True)
class _ModelArrays:
    """A body model in its own (Y-up) frame, validated; float64."""

    v_template: np.ndarray  # (V, 3) [m]
    faces: np.ndarray  # (F, 3) int64
    weights: np.ndarray  # (V, 24)
    J_regressor: np.ndarray  # (24, V)
    parents: np.ndarray  # (24,) int64, -1 for the root
    shapedirs: np.ndarray  # (V, 3, B) [m per unit beta]
    posedirs: np.ndarray | None  # (V, 3, 207) or None when all zero
    joint_names: tuple[str, ...]
    source: str


class BodyModel:
    """A skinned body: SMPL layout, 24 joints, linear blend skinning (see the module docstring).

    Args:
        model_path: None for the shipped procedural body; otherwise an SMPL/SMPL-H/SMPL-X
            model file (``.npz`` or ``.pkl``) or a folder holding one.
        betas: default shape coefficients (B' <= num_betas; missing ones are zero). The
            procedural body has two: 0 = height (+10 % per unit, about the soles), 1 = girth
            (+10 % per unit, away from the bones, joints unchanged).
        gender: "neutral", "male" or "female"; picks the file in a folder. The procedural body
            is neutral only.

    Raises:
        BodyModelError: missing, unreadable or inconsistent model file (the message names the
            path or key and says where model files go), or a ``.pkl`` without ``smplx``.
        ValueError: betas longer than the model's shape space.
    """

    def __init__(
        self,
        model_path: str | Path | None = None,
        betas: Sequence[float] | None = None,
        gender: str = "neutral",
    ) -> None:
        gender = str(gender).lower()
        if gender not in ("neutral", "male", "female"):
            raise BodyModelError(f"gender must be 'neutral', 'male' or 'female', got {gender!r}.")
        self._arrays = _load_model(model_path, gender)
        self._betas = self._parse_betas(betas)
        self._cache: dict[tuple[torch.dtype, torch.device], dict[str, torch.Tensor]] = {}
        rest_vertices, rest_joints = self._forward_numpy(
            np.zeros((1, NUM_JOINTS, 3)), None, None, skin=True
        )
        self._rest_vertices = rest_vertices[0].astype(np.float32)
        self._rest_joints = rest_joints[0].astype(np.float32)
        log.debug(
            "body model %s: %d vertices, %d faces, %d betas",
            self.source,
            self.num_vertices,
            len(self.faces),
            self.num_betas,
        )

    # -- description --------------------------------------------------------------------------

    @property
    def source(self) -> str:
        """Path of the model file this body was loaded from."""
        return self._arrays.source

    @property
    def faces(self) -> np.ndarray:
        """(F, 3) int64 triangles, outward (counter-clockwise seen from outside)."""
        return self._arrays.faces.copy()

    @property
    def num_vertices(self) -> int:
        """Number of mesh vertices V."""
        return int(self._arrays.v_template.shape[0])

    @property
    def num_betas(self) -> int:
        """Number of shape coefficients B of the model."""
        return int(self._arrays.shapedirs.shape[2])

    @property
    def parents(self) -> np.ndarray:
        """(24,) int64 parent of each joint, -1 for the root (SMPL order)."""
        return self._arrays.parents.copy()

    @property
    def joint_names(self) -> tuple[str, ...]:
        """The 24 joint names, SMPL order (:data:`phygenhoi.skeleton.JOINT_NAMES`)."""
        return self._arrays.joint_names

    @property
    def betas(self) -> np.ndarray:
        """(B,) float64 default shape coefficients."""
        return self._betas.copy()

    @property
    def rest_vertices(self) -> np.ndarray:
        """(V, 3) float32 [m] vertices at zero pose and zero trans, default betas, Z-up."""
        return self._rest_vertices.copy()

    @property
    def rest_joints(self) -> np.ndarray:
        """(24, 3) float32 [m] joints at zero pose and zero trans, default betas, Z-up."""
        return self._rest_joints.copy()

    @property
    def skinning_weights(self) -> np.ndarray:
        """(V, 24) float64 linear-blend-skinning weights (rows sum to 1)."""
        return self._arrays.weights.copy()

    @property
    def pelvis_offset(self) -> np.ndarray:
        """(3,) float32 [m]: world pelvis position at zero ``trans`` (``rest_joints[0]``).

        The global orientation rotates about this point, so the pelvis is always at
        ``trans + pelvis_offset``.
        """
        return self._rest_joints[0].copy()

    def __repr__(self) -> str:
        return (
            f"BodyModel(source={self.source!r}, vertices={self.num_vertices}, "
            f"betas={self._betas.tolist()})"
        )

    # -- posing -------------------------------------------------------------------------------

    def forward(
        self, poses: ArrayLike, trans: ArrayLike | None = None, betas: ArrayLike | None = None
    ) -> BodyOutput:
        """Pose and skin the body.

        Args:
            poses: (T, 24, 3) (or (T, 72), or (24, 3) for one frame) axis-angle [rad] per joint,
                model frame, SMPL convention (joint 0 = global orientation).
            trans: (T, 3) or (3,) [m] root translation in the Z-up world; default zero.
            betas: (B',) shape coefficients; default the model's :attr:`betas`.

        Returns:
            BodyOutput with float32 vertices (T, V, 3) and joints (T, 24, 3), Z-up world.
        """
        vertices, joints = self._forward_numpy(poses, trans, betas, skin=True)
        return BodyOutput(
            vertices=vertices.astype(np.float32),
            joints=joints.astype(np.float32),
            faces=self.faces,
        )

    def joint_positions(
        self, poses: ArrayLike, trans: ArrayLike | None = None, betas: ArrayLike | None = None
    ) -> np.ndarray:
        """(T, 24, 3) float32 [m] world joint positions: forward kinematics only, no skinning.

        Same arguments as :meth:`forward`.
        """
        _, joints = self._forward_numpy(poses, trans, betas, skin=False)
        return joints.astype(np.float32)

    def forward_torch(
        self,
        poses: torch.Tensor,
        trans: torch.Tensor | None = None,
        betas: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Differentiable :meth:`forward`: (vertices (T, V, 3), joints (T, 24, 3)) [m], Z-up.

        Computed in the dtype and on the device of ``poses`` (a float tensor, (T, 24, 3),
        (T, 72) or (24, 3)); gradients flow to ``poses``, ``trans`` and ``betas``.
        """
        poses, trans, betas = self._torch_inputs(poses, trans, betas)
        return self._pose(poses, trans, betas, skin=True)

    def joint_positions_torch(
        self,
        poses: torch.Tensor,
        trans: torch.Tensor | None = None,
        betas: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Differentiable :meth:`joint_positions`: (T, 24, 3) [m] world joints, FK only."""
        poses, trans, betas = self._torch_inputs(poses, trans, betas)
        return self._pose(poses, trans, betas, skin=False)[1]

    def ground_offset(
        self,
        poses: ArrayLike,
        trans: ArrayLike | None = None,
        betas: ArrayLike | None = None,
        per_frame: bool = False,
    ) -> float | np.ndarray:
        """The z shift [m] to add to ``trans`` so the lowest vertex is on z = 0.

        Over all frames (one float, no vertical jitter) or, with ``per_frame``, one shift per
        frame ((T,) float64). Same arguments as :meth:`forward`.
        """
        vertices, _ = self._forward_numpy(poses, trans, betas, skin=True)
        lowest = vertices[..., 2].min(axis=1)  # (T,)
        return -lowest if per_frame else float(-lowest.min())

    # -- internals ----------------------------------------------------------------------------

    def _parse_betas(self, betas: ArrayLike | None) -> np.ndarray:
        """Shape coefficients padded to (B,) float64 (None: zeros); ValueError if invalid."""
        out = np.zeros(self.num_betas)
        if betas is None:
            return out
        values = np.asarray(betas, dtype=np.float64)
        if values.ndim != 1 or len(values) > self.num_betas or not np.isfinite(values).all():
            raise ValueError(
                f"betas must be a 1-D sequence of at most {self.num_betas} finite numbers for "
                f"{self.source}, got shape {values.shape}."
            )
        out[: len(values)] = values
        return out

    def _tensors(self, dtype: torch.dtype, device: torch.device) -> dict[str, torch.Tensor]:
        """The model arrays as tensors of one dtype/device (cached)."""
        key = (dtype, device)
        if key not in self._cache:
            a = self._arrays
            t = {
                name: torch.as_tensor(value, dtype=dtype, device=device)
                for name, value in (
                    ("v_template", a.v_template),
                    ("shapedirs", a.shapedirs),
                    ("J_regressor", a.J_regressor),
                    ("weights", a.weights),
                    ("up", Y_UP_TO_Z_UP),
                )
            }
            t["parents"] = torch.as_tensor(a.parents)
            t["joint_template"] = lbs.regress_joints(t["J_regressor"], t["v_template"])
            t["joint_shapedirs"] = torch.einsum("jv,vcb->jcb", t["J_regressor"], t["shapedirs"])
            if a.posedirs is not None:
                t["posedirs"] = torch.as_tensor(a.posedirs, dtype=dtype, device=device)
            self._cache[key] = t
        return self._cache[key]

    def _torch_inputs(
        self, poses: torch.Tensor, trans: torch.Tensor | None, betas: torch.Tensor | None
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Validate and convert torch inputs to (T, 24, 3), (T, 3), (B,) in the poses' dtype."""
        if not isinstance(poses, torch.Tensor) or not poses.is_floating_point():
            raise ValueError("poses must be a floating-point torch.Tensor of shape (T, 24, 3).")
        poses = _pose_shape(poses)
        dtype, device = poses.dtype, poses.device
        T = poses.shape[0]
        if trans is None:
            trans = torch.zeros(T, 3, dtype=dtype, device=device)
        else:
            trans = torch.as_tensor(trans, dtype=dtype, device=device)
            trans = _trans_shape(trans, T)
        if betas is None:
            betas = torch.as_tensor(self._betas, dtype=dtype, device=device)
        else:
            betas = torch.as_tensor(betas, dtype=dtype, device=device)
            if betas.ndim != 1 or betas.shape[0] > self.num_betas:
                raise ValueError(
                    f"betas must have shape (B,) with B <= {self.num_betas}, got "
                    f"{tuple(betas.shape)}."
                )
            betas = torch.nn.functional.pad(betas, (0, self.num_betas - betas.shape[0]))
        return poses, trans, betas

    def _pose(
        self, poses: torch.Tensor, trans: torch.Tensor, betas: torch.Tensor, skin: bool
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Shared core: (vertices (T, V, 3), joints (T, 24, 3)) [m], Z-up world.

        With ``skin`` False only the forward kinematics run and vertices is empty, (T, 0, 3).
        """
        t = self._tensors(poses.dtype, poses.device)
        rotations = lbs.axis_angle_to_matrix(poses)  # (T, 24, 3, 3)
        # J_regressor is linear: J(betas) = J_regressor @ v_template + (J_regressor @ shapedirs) b
        rest_joints = t["joint_template"] + torch.einsum("jcb,b->jc", t["joint_shapedirs"], betas)
        transforms = lbs.forward_kinematics(rotations, rest_joints, t["parents"])
        up, shift = t["up"], trans[:, None, :]
        joints = transforms[..., :3, 3] @ up.T + shift
        if not skin:
            return joints.new_zeros(joints.shape[0], 0, 3), joints
        shaped = lbs.blend_shapes(t["v_template"], t["shapedirs"], betas)  # (V, 3)
        if "posedirs" in t:
            shaped = shaped + lbs.pose_offsets(rotations, t["posedirs"])  # (T, V, 3)
        vertices = lbs.skin(shaped, t["weights"], transforms, rest_joints)
        return vertices @ up.T + shift, joints

    def _forward_numpy(
        self, poses: ArrayLike, trans: ArrayLike | None, betas: ArrayLike | None, skin: bool
    ) -> tuple[np.ndarray, np.ndarray]:
        """float64 numpy (vertices (T, V, 3) or (T, 0, 3), joints (T, 24, 3)) in frame chunks."""
        poses_np = np.asarray(poses, dtype=np.float64)
        poses_t = _pose_shape(torch.from_numpy(np.array(poses_np)))
        T = poses_t.shape[0]
        trans_t = (
            torch.zeros(T, 3, dtype=torch.float64)
            if trans is None
            else _trans_shape(torch.as_tensor(np.array(trans, dtype=np.float64)), T)
        )
        betas_t = torch.from_numpy(self._betas if betas is None else self._parse_betas(betas))
        vertices, joints = [], []
        with torch.no_grad():
            for start in range(0, T, _FRAME_CHUNK):
                chunk = slice(start, start + _FRAME_CHUNK)
                v, j = self._pose(poses_t[chunk], trans_t[chunk], betas_t, skin)
                vertices.append(v.numpy())
                joints.append(j.numpy())
        return np.concatenate(vertices), np.concatenate(joints)


# --------------------------------------------------------------------------------------------
# Input shapes.
# --------------------------------------------------------------------------------------------


def _pose_shape(poses: torch.Tensor) -> torch.Tensor:
    """(T, 24, 3) from (T, 24, 3), (T, 72) or (24, 3); ValueError naming the shape otherwise."""
    shape = tuple(poses.shape)
    if poses.ndim == 2 and shape == (NUM_JOINTS, 3):
        poses = poses[None]
    elif poses.ndim == 2 and shape[1] == 3 * NUM_JOINTS:
        poses = poses.reshape(shape[0], NUM_JOINTS, 3)
    if poses.ndim != 3 or tuple(poses.shape[1:]) != (NUM_JOINTS, 3) or poses.shape[0] == 0:
        raise ValueError(
            f"poses must have shape (T, {NUM_JOINTS}, 3) (axis-angle per SMPL joint, radians), "
            f"(T, {3 * NUM_JOINTS}) or ({NUM_JOINTS}, 3); got {shape}."
        )
    if not bool(torch.isfinite(poses).all()):
        raise ValueError("poses contain NaN or infinite values.")
    return poses


def _trans_shape(trans: torch.Tensor, T: int) -> torch.Tensor:
    """(T, 3) from (T, 3) or (3,); ValueError naming the shape otherwise."""
    if trans.ndim == 1 and trans.shape[0] == 3:
        return trans.expand(T, 3)
    if trans.ndim != 2 or tuple(trans.shape) != (T, 3):
        raise ValueError(f"trans must have shape ({T}, 3) or (3,) [m], got {tuple(trans.shape)}.")
    if not bool(torch.isfinite(trans).all()):
        raise ValueError("trans contains NaN or infinite values.")
    return trans


# --------------------------------------------------------------------------------------------
# Loading.
# --------------------------------------------------------------------------------------------


def _default_path() -> Path:
    """The shipped procedural body; BodyModelError if it is missing."""
    from assets import asset_path  # lazy: assets resolves the installed data directory

    try:
        return asset_path(*DEFAULT_BODY)
    except FileNotFoundError as exc:
        raise BodyModelError(
            f"the procedural body {'/'.join(DEFAULT_BODY)} is missing from assets/ ({exc}). "
            "Rebuild it with `python assets/make_body.py`, or pass model_path= to a real model. "
            + REGISTRATION_HELP
        ) from exc


def _find_in_folder(folder: Path, gender: str) -> Path:
    """The model file for ``gender`` in ``folder`` or its smpl/smplx/smplh sub-folders."""
    candidates = [
        sub / f"{kind}_{gender.upper()}.{ext}"
        for sub in (folder, folder / "smplx", folder / "smpl", folder / "smplh")
        for kind in ("SMPLX", "SMPL", "SMPLH")
        for ext in ("npz", "pkl")
    ]
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    raise BodyModelError(
        f"no {gender} body model in the folder {folder} (looked for SMPL_{gender.upper()}.pkl/"
        f".npz, SMPLX_{gender.upper()}.npz/.pkl, SMPLH_{gender.upper()}.pkl/.npz there and in "
        "its smpl/, smplx/, smplh/ sub-folders). " + REGISTRATION_HELP
    )


def _load_model(model_path: str | Path | None, gender: str) -> _ModelArrays:
    """Locate, read, reduce to 24 joints and validate a body model."""
    if model_path is None:
        if gender != "neutral":
            raise BodyModelError(
                f"the procedural body is gender-neutral; gender={gender!r} needs a real model: "
                "pass model_path=. " + REGISTRATION_HELP
            )
        path = _default_path()
    else:
        path = Path(model_path).expanduser()
        if path.is_dir():
            path = _find_in_folder(path, gender)
        elif not path.is_file():
            raise BodyModelError(f"body model file {path} does not exist. " + REGISTRATION_HELP)
    suffix = path.suffix.lower()
    if suffix == ".npz":
        raw = _read_npz(path)
    elif suffix == ".pkl":
        raw = _read_with_smplx(path, gender)
    else:
        raise BodyModelError(
            f"{path}: unknown body model format {suffix!r}; expected an SMPL-layout .npz or an "
            "SMPL/SMPL-H/SMPL-X .pkl."
        )
    return _validate(_reduce_to_smpl(raw, path), path)


def _read_npz(path: Path) -> dict[str, np.ndarray]:
    """The arrays of an SMPL-layout ``.npz`` (no pickles); BodyModelError naming a bad key."""
    try:
        archive = np.load(path, allow_pickle=False)
    except Exception as exc:
        raise BodyModelError(f"cannot read the body model {path} as .npz: {exc}") from exc
    with archive:
        missing = [key for key in REQUIRED_KEYS if key not in archive.files]
        if missing:
            raise BodyModelError(
                f"body model {path} lacks the key(s) {missing} of the SMPL layout (needs "
                f"{list(REQUIRED_KEYS)}; has {sorted(archive.files)}). Re-download the model or "
                "rebuild the procedural body with `python assets/make_body.py`."
            )
        out: dict[str, np.ndarray] = {}
        for key in (*REQUIRED_KEYS, "posedirs", "joint_names"):
            if key not in archive.files:
                continue
            try:
                out[key] = archive[key]
            except Exception as exc:
                raise BodyModelError(
                    f"body model {path}: cannot read key {key!r} ({exc}); a key stored as a "
                    "Python object needs re-saving as a plain array."
                ) from exc
    return out


def _read_with_smplx(path: Path, gender: str) -> dict[str, np.ndarray]:
    """Read a ``.pkl`` SMPL/SMPL-H/SMPL-X model through the ``smplx`` package."""
    try:
        smplx = importlib.import_module("smplx")
    except ImportError as exc:
        raise BodyModelError(
            f"reading {path} needs the `smplx` package (SMPL .pkl files): pip install smplx "
            f"(original error: {exc}). " + REGISTRATION_HELP
        ) from exc
    name = path.name.lower()
    kind = "SMPLX" if "smplx" in name else "SMPLH" if "smplh" in name else "SMPL"
    kwargs: dict[str, object] = {"gender": gender, "num_betas": _SHAPE_SPACE}
    if kind != "SMPL":
        kwargs |= {"ext": path.suffix[1:], "use_pca": False}
    try:
        module = getattr(smplx, kind)(model_path=str(path), **kwargs)
        arrays = {
            key: getattr(module, key).detach().cpu().double().numpy()
            for key in ("v_template", "shapedirs", "J_regressor", "lbs_weights", "posedirs")
        }
        parents = module.parents.detach().cpu().numpy().astype(np.int64)
        faces = np.asarray(module.faces, dtype=np.int64)
    except Exception as exc:
        raise BodyModelError(f"smplx could not read the body model {path}: {exc}") from exc
    V = arrays["v_template"].shape[0]
    posedirs = arrays["posedirs"]  # smplx keeps (P, V*3); the file layout is (V, 3, P)
    return {
        "v_template": arrays["v_template"],
        "f": faces,
        "weights": arrays["lbs_weights"],
        "J_regressor": arrays["J_regressor"],
        "kintree_table": np.stack([parents, np.arange(len(parents))]),
        "shapedirs": arrays["shapedirs"],
        "posedirs": posedirs.T.reshape(V, 3, posedirs.shape[0]),
    }


# First left- and right-hand finger joints of SMPL-H (52 joints) and SMPL-X (55 joints); the
# 15 finger joints per hand are index1-3, middle1-3, pinky1-3, ring1-3, thumb1-3.
_FINGERS = {52: (22, 37), 55: (25, 40)}
_SMPLX_FACE = (22, 23, 24)  # jaw, left eye, right eye


def _reduce_to_smpl(raw: dict[str, np.ndarray], path: Path) -> dict[str, np.ndarray]:
    """Map an SMPL-H / SMPL-X model onto the 24 SMPL joints (identity for SMPL).

    Joints 0-21 are shared. SMPL's hand joints 22/23 become the middle-finger knuckles
    (middle1), with the weights of all fingers of that hand; SMPL-X's jaw and eyes fold into the
    head. Pose correctives of the removed joints are dropped (exact while they are unposed).
    """
    weights = np.asarray(raw["weights"])
    n = weights.shape[1] if weights.ndim == 2 else -1
    if n == NUM_JOINTS or n not in _FINGERS:
        return raw  # SMPL, or malformed: _validate reports it
    left, right = _FINGERS[n]
    groups = [[j] for j in range(22)] + [
        list(range(left, left + 15)),
        list(range(right, right + 15)),
    ]
    if n == 55:
        groups[15] += list(_SMPLX_FACE)
    out = dict(raw)
    out["weights"] = np.stack([weights[:, g].sum(1) for g in groups], 1)
    out["J_regressor"] = np.asarray(raw["J_regressor"])[[*range(22), left + 3, right + 3]]
    kintree = np.asarray(raw["kintree_table"])
    out["kintree_table"] = np.stack(
        [np.concatenate([kintree[0, :22], [20, 21]]), np.arange(NUM_JOINTS)]
    )
    shapedirs = np.asarray(raw["shapedirs"])
    out["shapedirs"] = shapedirs[:, :, :_SHAPE_SPACE] if n == 55 else shapedirs
    if "posedirs" in raw:
        posedirs = np.asarray(raw["posedirs"])
        posedirs = (
            posedirs.reshape(posedirs.shape[0] // 3, 3, -1) if posedirs.ndim == 2 else posedirs
        )
        kept = posedirs[:, :, : 9 * 21]
        out["posedirs"] = np.concatenate([kept, np.zeros((*kept.shape[:2], 18))], 2)
    out.pop("joint_names", None)
    log.info("%s: %d-joint model reduced to the 24 SMPL joints (flat fingers)", path, n)
    return out


def _validate(raw: dict[str, np.ndarray], path: Path) -> _ModelArrays:
    """Check shapes and values of a 24-joint SMPL-layout model; BodyModelError naming the key."""

    def bad(key: str, problem: str) -> BodyModelError:
        return BodyModelError(
            f"body model {path}: key {key!r} {problem}. The file is corrupt or not an SMPL-layout "
            "model; re-download it, or rebuild the procedural body with "
            "`python assets/make_body.py`."
        )

    def floats(key: str, ndim: int) -> np.ndarray:
        try:
            value = np.asarray(raw[key], dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise bad(key, f"is not numeric ({exc})") from exc
        if value.ndim != ndim:
            raise bad(key, f"has shape {value.shape}, expected {ndim} dimensions")
        if not np.isfinite(value).all():
            raise bad(key, "contains NaN or infinite values")
        return value

    v_template = floats("v_template", 2)
    V = v_template.shape[0]
    if v_template.shape[1] != 3 or V < 4:
        raise bad("v_template", f"has shape {v_template.shape}, expected (V, 3)")
    weights = floats("weights", 2)
    if weights.shape != (V, NUM_JOINTS):
        raise bad(
            "weights",
            f"has shape {weights.shape}, expected ({V}, {NUM_JOINTS}) (or a 52/55-joint SMPL-H/X)",
        )
    if (weights < -1e-6).any() or np.abs(weights.sum(1) - 1.0).max() > 1e-3:
        raise bad("weights", "rows are not non-negative weights summing to 1")
    J_regressor = floats("J_regressor", 2)
    if J_regressor.shape != (NUM_JOINTS, V):
        raise bad("J_regressor", f"has shape {J_regressor.shape}, expected ({NUM_JOINTS}, {V})")
    faces = np.asarray(raw["f"])
    if faces.ndim != 2 or faces.shape[1] != 3 or not np.issubdtype(faces.dtype, np.integer):
        raise bad("f", f"has shape {faces.shape} / dtype {faces.dtype}, expected (F, 3) integers")
    faces = faces.astype(np.int64)
    if faces.size == 0 or faces.min() < 0 or faces.max() >= V:
        raise bad("f", f"indexes vertices outside 0..{V - 1}")
    kintree = np.asarray(raw["kintree_table"])
    if kintree.shape != (2, NUM_JOINTS) or not np.issubdtype(kintree.dtype, np.integer):
        raise bad(
            "kintree_table", f"has shape {kintree.shape}, expected (2, {NUM_JOINTS}) integers"
        )
    parents = kintree[0].astype(np.int64)
    parents[(parents == _SMPL_ROOT_PARENT) | (parents < 0)] = -1
    if parents[0] != -1 or any(not 0 <= parents[j] < j for j in range(1, NUM_JOINTS)):
        raise bad("kintree_table", f"row 0 {parents.tolist()} is not a tree rooted at joint 0")
    shapedirs = floats("shapedirs", 3)
    if shapedirs.shape[:2] != (V, 3):
        raise bad("shapedirs", f"has shape {shapedirs.shape}, expected ({V}, 3, B)")
    posedirs = None
    if "posedirs" in raw:
        posedirs = np.asarray(raw["posedirs"], dtype=np.float64)
        if posedirs.shape == (V * 3, _NUM_POSE_FEATURES):
            posedirs = posedirs.reshape(V, 3, _NUM_POSE_FEATURES)
        if posedirs.shape != (V, 3, _NUM_POSE_FEATURES):
            raise bad("posedirs", f"has shape {posedirs.shape}, expected ({V}, 3, 207)")
        if not np.isfinite(posedirs).all():
            raise bad("posedirs", "contains NaN or infinite values")
        if not posedirs.any():
            posedirs = None  # e.g. the procedural body: no pose correctives, skip the work
    names = JOINT_NAMES
    if "joint_names" in raw:
        stored = tuple(str(n) for n in np.asarray(raw["joint_names"]).tolist())
        if stored != JOINT_NAMES:
            raise bad("joint_names", f"is {stored}, expected the SMPL order {JOINT_NAMES}")
    return _ModelArrays(
        v_template=v_template,
        faces=faces,
        weights=weights,
        J_regressor=J_regressor,
        parents=parents,
        shapedirs=shapedirs,
        posedirs=posedirs,
        joint_names=names,
        source=str(path),
    )
