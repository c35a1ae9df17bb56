"""Motion: per-frame SMPL joint rotations, root translation and frame rate.

Frame convention (shared by the body model, the importers and the action library):

* ``poses[t, j]`` is the axis-angle rotation [rad] of SMPL joint ``j`` relative to its parent,
  expressed in the body model's own **Y-up** frame (the frame of the SMPL file); ``poses[t, 0]``
  is the global orientation, applied about the rest pelvis joint like SMPL's ``global_orient``.
* ``trans[t]`` [m] is added **after** converting the posed model to the emu4d **Z-up** world::

      x_world = Y_UP_TO_Z_UP @ x_model(poses[t]) + trans[t]

  where ``x_model`` is the SMPL output with zero ``transl`` (rest pelvis at ``J[0]``). So a
  motion with zero poses and zero trans shows the rest body standing upright in the Z-up world,
  its pelvis at ``Y_UP_TO_Z_UP @ J[0]``. The importers in :mod:`phygenhoi.mocap` take the rest
  pelvis ``J[0]`` of the body that will play the motion to place it exactly.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import ArrayLike

from mpm.fileio import atomic_path
from phygenhoi.errors import MotionError, MotionFileNotFoundError
from phygenhoi.rotations import axis_angle_to_quat, quat_slerp, quat_to_axis_angle
from phygenhoi.skeleton import NUM_JOINTS

__all__ = ["Motion"]

logger = logging.getLogger("emu4d.phygenhoi")

_FORMAT = "emu4d.phygenhoi.motion/1"


def _readonly(a: np.ndarray) -> np.ndarray:
    a.setflags(write=False)
    return a


@dataclass(frozen=True, eq=False)
class Motion:
    """A human motion in SMPL joint order (see the module docstring for the frames).

    Arrays are float64 copies of the inputs and read-only (copy them to edit, e.g.
    ``torch.tensor(motion.poses)``); derive a changed motion with :func:`dataclasses.replace`.
    """

    poses: np.ndarray
    """joint rotations, axis-angle [rad] in the model's Y-up frame, shape (T, 24, 3); joint 0 is
    the global orientation"""
    trans: np.ndarray
    """root translation [m] in the Z-up world, shape (T, 3)"""
    fps: float
    """frames per second [1/s], > 0"""
    name: str = ""
    """free-form label (e.g. the source file's stem)"""

    def __post_init__(self) -> None:
        label = f"Motion {self.name!r}" if self.name else "Motion"
        try:
            poses = np.array(self.poses, dtype=np.float64)
            trans = np.array(self.trans, dtype=np.float64)
        except (TypeError, ValueError) as err:
            raise MotionError(f"{label}: poses and trans must be numeric arrays ({err})") from None
        if poses.ndim != 3 or poses.shape[1:] != (NUM_JOINTS, 3):
            raise MotionError(
                f"{label}: poses must have shape (T, {NUM_JOINTS}, 3) (axis-angle per SMPL "
                f"joint), got {poses.shape}"
            )
        if poses.shape[0] < 1:
            raise MotionError(f"{label}: a motion needs at least one frame, got T=0")
        if trans.shape != (poses.shape[0], 3):
            raise MotionError(
                f"{label}: trans must have shape (T, 3) = ({poses.shape[0]}, 3) to match poses, "
                f"got {trans.shape}"
            )
        for key, arr in (("poses", poses), ("trans", trans)):
            if not np.all(np.isfinite(arr)):
                bad = int(np.argwhere(~np.isfinite(arr))[0][0])
                raise MotionError(f"{label}: {key} has a non-finite value at frame {bad}")
        try:
            fps = float(self.fps)
        except (TypeError, ValueError):
            raise MotionError(f"{label}: fps must be a number, got {self.fps!r}") from None
        if not np.isfinite(fps) or fps <= 0.0:
            raise MotionError(f"{label}: fps must be a finite number > 0, got {self.fps!r}")
        object.__setattr__(self, "poses", _readonly(poses))
        object.__setattr__(self, "trans", _readonly(trans))
        object.__setattr__(self, "fps", fps)
        object.__setattr__(self, "name", str(self.name))

    # ------------------------------------------------------------------ derived quantities
    @property
    def num_frames(self) -> int:
        """Number of frames T."""
        return int(self.poses.shape[0])

    @property
    def duration(self) -> float:
        """Time of the last frame [s], ``(T - 1) / fps`` (0 for a single frame)."""
        return (self.num_frames - 1) / self.fps

    @property
    def times(self) -> np.ndarray:
        """Frame times [s], ``arange(T) / fps``, shape (T,) float64."""
        return np.arange(self.num_frames, dtype=np.float64) / self.fps

    def __repr__(self) -> str:
        return (
            f"Motion(name={self.name!r}, num_frames={self.num_frames}, fps={self.fps:g}, "
            f"duration={self.duration:.4g} s)"
        )

    # ------------------------------------------------------------------ constructors
    @classmethod
    def rest(cls, num_frames: int, fps: float, trans: ArrayLike = (0.0, 0.0, 0.0)) -> Motion:
        """The rest pose held for ``num_frames`` frames; ``trans`` [m] is (3,) or (T, 3)."""
        if int(num_frames) != num_frames or num_frames < 1:
            raise MotionError(f"Motion.rest: num_frames must be an integer >= 1, got {num_frames}")
        n = int(num_frames)
        t = np.asarray(trans, dtype=np.float64)
        if t.shape not in ((3,), (n, 3)):
            raise MotionError(f"Motion.rest: trans must have shape (3,) or ({n}, 3), got {t.shape}")
        return cls(np.zeros((n, NUM_JOINTS, 3)), np.broadcast_to(t, (n, 3)), fps, name="rest")

    @staticmethod
    def concatenate(motions: Sequence[Motion], name: str | None = None) -> Motion:
        """Join motions of the same fps end to end (frames are appended, nothing is blended).

        Translations are kept as they are; re-anchor them first if the clips should connect.
        """
        motions = list(motions)
        if not motions:
            raise MotionError("Motion.concatenate: give at least one motion")
        fps = motions[0].fps
        for m in motions[1:]:
            if abs(m.fps - fps) > 1e-9 * fps:
                raise MotionError(
                    f"Motion.concatenate: all motions need the same fps; {m.name!r} has "
                    f"{m.fps:g}, the first {fps:g}. Use motion.resample({fps:g}) first"
                )
        return Motion(
            np.concatenate([m.poses for m in motions]),
            np.concatenate([m.trans for m in motions]),
            fps,
            name=motions[0].name if name is None else name,
        )

    # ------------------------------------------------------------------ time operations
    def resample(self, fps: float) -> Motion:
        """The motion sampled at ``fps`` [1/s] at times ``k / fps`` from 0 to ``duration``.

        Joint rotations are interpolated by quaternion slerp per joint, translations linearly.
        The first frame time (0) is kept; the new last frame is the last multiple of ``1/fps``
        not after ``duration``, so when ``duration * fps`` is not an integer the final
        ``< 1/fps`` seconds are clipped (never extrapolated). Returned rotations are
        canonicalised to angles in [0, pi] (the same rotations).
        """
        try:
            new_fps = float(fps)
        except (TypeError, ValueError):
            raise MotionError(f"Motion.resample: fps must be a number, got {fps!r}") from None
        if not np.isfinite(new_fps) or new_fps <= 0.0:
            raise MotionError(f"Motion.resample: fps must be a finite number > 0, got {fps!r}")
        n_new = int(np.floor(self.duration * new_fps + 1e-9)) + 1
        u = np.arange(n_new, dtype=np.float64) * (self.fps / new_fps)  # in old frame units
        if self.num_frames == 1:
            i0 = np.zeros(n_new, dtype=np.int64)
            i1, w = i0, np.zeros(n_new)
        else:
            i0 = np.clip(np.floor(u + 1e-9).astype(np.int64), 0, self.num_frames - 2)
            i1 = i0 + 1
            w = np.clip(u - i0, 0.0, 1.0)
        q = axis_angle_to_quat(self.poses)  # (T, 24, 4)
        q_new = quat_slerp(q[i0], q[i1], np.broadcast_to(w[:, None], (n_new, NUM_JOINTS)))
        trans = (1.0 - w)[:, None] * self.trans[i0] + w[:, None] * self.trans[i1]
        logger.debug(
            "resampled %r from %g to %g fps: %d -> %d frames",
            self.name,
            self.fps,
            new_fps,
            self.num_frames,
            n_new,
        )
        return Motion(quat_to_axis_angle(q_new), trans, new_fps, name=self.name)

    def slice(self, start_s: float, end_s: float | None = None) -> Motion:
        """The frames with ``start_s <= time <= end_s`` [s] (``None``: to the end).

        Frames are selected, not interpolated; the first selected frame becomes time 0.
        """
        end = self.duration if end_s is None else float(end_s)
        start = float(start_s)
        if not (np.isfinite(start) and np.isfinite(end)) or start > end:
            raise MotionError(
                f"Motion.slice: need finite start_s <= end_s, got start_s={start_s}, end_s={end_s}"
            )
        tol = 1e-9 / self.fps
        times = self.times
        keep = np.flatnonzero((times >= start - tol) & (times <= end + tol))
        if keep.size == 0:
            raise MotionError(
                f"Motion.slice: no frame of {self!r} lies in [{start:g}, {end:g}] s; "
                f"frames span [0, {self.duration:g}] s"
            )
        sel = slice(int(keep[0]), int(keep[-1]) + 1)
        return Motion(self.poses[sel], self.trans[sel], self.fps, name=self.name)

    # ------------------------------------------------------------------ file io
    def save(self, path: str | Path) -> Path:
        """Write the motion to ``path`` (.npz, float64, lossless), atomically; returns the path."""
        path = Path(path)
        if path.suffix != ".npz":
            raise MotionError(f"Motion.save: the file name must end in .npz, got {path.name!r}")
        with atomic_path(path) as tmp, open(tmp, "wb") as f:
            np.savez(
                f,
                format=np.array(_FORMAT),
                poses=self.poses,
                trans=self.trans,
                fps=np.array(self.fps, dtype=np.float64),
                name=np.array(self.name),
            )
        return path

    @classmethod
    def load(cls, path: str | Path) -> Motion:
        """Read a motion written by :meth:`save`."""
        path = Path(path)
        if not path.is_file():
            raise MotionFileNotFoundError(f"motion file {path} does not exist")
        try:
            with np.load(path, allow_pickle=False) as data:
                missing = [k for k in ("format", "poses", "trans", "fps") if k not in data.files]
                if missing:
                    raise MotionError(
                        f"{path} is not a phygenhoi motion file: missing key {missing[0]!r} "
                        f"(AMASS files load with phygenhoi.mocap.load_amass)"
                    )
                if str(data["format"]) != _FORMAT:
                    raise MotionError(
                        f"{path}: unsupported motion format {str(data['format'])!r}, "
                        f"expected {_FORMAT!r}"
                    )
                name = str(data["name"]) if "name" in data.files else path.stem
                return cls(data["poses"], data["trans"], float(data["fps"]), name=name)
        except MotionError:
            raise
        except (OSError, ValueError, KeyError) as err:
            raise MotionError(f"cannot read motion file {path}: {err}") from err
