"""Simulation output: named point / mesh tracks over time, and the canonical ``.npz`` format.

A :class:`Trajectory` holds the frame times, one :class:`Track` per simulated object (a
fixed-topology mesh or a point set, SI units, Z up), per-frame diagnostics and JSON metadata
(scene config, seed, versions, dt, backend) from which the run can be reproduced.

Canonical file format ``emu4d.trajectory/1`` (``np.savez_compressed``, no pickles)::

    __format__                      str   "emu4d.trajectory/1"
    __index__                       str   JSON: track order, object names, array names
    __metadata__                    str   JSON: the metadata dict
    times                           (T,) float64 [s]
    tracks/<name>/positions         (T, N, 3) float32 [m]
    tracks/<name>/faces             (F, 3) int64            (mesh tracks only)
    tracks/<name>/velocities        (T, N, 3) float32 [m/s] (when recorded)
    tracks/<name>/attributes/<key>  (N, ...)                (static per-point data)
    diagnostics/<key>               (T, ...)

Arrays round-trip bitwise; metadata round-trips through JSON (tuples come back as lists, numpy
scalars as Python numbers).
"""

from __future__ import annotations

import dataclasses
import difflib
import inspect
import json
import zipfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from os import PathLike
from pathlib import Path
from typing import Any, Literal

import numpy as np

from mpm.errors import TrajectoryError, TrajectoryNotFoundError
from mpm.fileio import atomic_path

__all__ = ["EXPORT_FORMATS", "FORMAT_VERSION", "Track", "Trajectory", "check_name"]

FORMAT_VERSION = "emu4d.trajectory/1"
"""Identifier written into every trajectory file; bumped on incompatible layout changes."""

EXPORT_FORMATS = ("npz", "ply", "obj", "glb", "gaussians", "usd")
"""Formats accepted by :meth:`Trajectory.export`."""

_FORMAT_FAMILY = FORMAT_VERSION.split("/")[0] + "/"
_FORBIDDEN_NAME_CHARS = frozenset("/\\\0")


def check_name(name: object, what: str) -> str:
    """A track / attribute / diagnostic name usable as an npz key and a file name."""
    if not isinstance(name, str) or not name:
        raise TrajectoryError(f"{what} name must be a non-empty string, got {name!r}")
    if name in {".", ".."} or name != name.strip() or _FORBIDDEN_NAME_CHARS & set(name):
        raise TrajectoryError(
            f"{what} name {name!r} is not allowed: it is used as a file name, so it must not be "
            "'.' or '..', contain '/', '\\\\' or NUL, or start/end with whitespace"
        )
    return name


class _Tracks(dict):
    """The tracks of a trajectory: a dict whose missing key names the closest track."""

    def __missing__(self, name: str) -> Track:
        raise KeyError(f"no track {name!r}.{_closest(str(name), self)} Tracks: {list(self)}.")


def _closest(name: str, choices: Iterable[str]) -> str:
    """' Did you mean X?' for the closest of ``choices``, or ''."""
    match = difflib.get_close_matches(name, list(choices), n=1)
    return f" Did you mean {match[0]!r}?" if match else ""


def _check_json(value: Any, where: str) -> None:
    """Raise TrajectoryError naming the first entry of ``value`` that JSON cannot store."""
    if value is None or isinstance(value, (bool, int, float, str, np.bool_, np.number)):
        if isinstance(value, np.complexfloating):
            raise TrajectoryError(f"{where} is complex, which is not JSON-serialisable")
        return
    if isinstance(value, Mapping):
        for key, item in value.items():
            if not isinstance(key, str):
                raise TrajectoryError(
                    f"{where} has key {key!r} of type {type(key).__name__}; JSON keys must be str"
                )
            _check_json(item, f"{where}[{key!r}]")
        return
    if isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            _check_json(item, f"{where}[{i}]")
        return
    hint = " (convert arrays with .tolist())" if isinstance(value, np.ndarray) else ""
    raise TrajectoryError(
        f"{where} is a {type(value).__name__}, which is not JSON-serialisable{hint}; metadata "
        "must hold only dicts, lists, str, numbers, bools and None"
    )


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"{type(value).__name__} is not JSON-serialisable")


def _dumps(value: Any) -> str:
    return json.dumps(value, default=_json_default)


def _real_array(value: Any, what: str, dtype: type[np.generic]) -> np.ndarray:
    """``value`` as a C-contiguous array of ``dtype``; only real numeric input is accepted."""
    arr = np.asarray(value)
    if arr.dtype.kind not in "biuf":
        raise TrajectoryError(f"{what} must be a real numeric array, got dtype {arr.dtype}")
    return np.ascontiguousarray(arr, dtype=dtype)


@dataclass(frozen=True, eq=False, repr=False)
class Track:
    """The motion of one object: N points (or mesh vertices) over T frames.

    Attributes:
        positions: point / vertex positions [m], shape (T, N, 3), float32.
        faces: triangle vertex indices, shape (F, 3), int64; present for a fixed-topology mesh
            track, ``None`` for a point track.
        velocities: point velocities [m/s], shape (T, N, 3), float32, or ``None``.
        attributes: static per-point arrays, each of shape (N, ...), e.g. ``"mass"`` (N,) [kg],
            ``"volume"`` (N,) [m^3], ``"material_id"`` (N,), ``"color"`` (N, 3) in [0, 1].
            Floating arrays are stored as float32, integer and bool arrays keep their dtype.
        object_name: the simulated object this track belongs to.

    Inputs are validated and coerced (copies are made only when the dtype or layout changes);
    bad shapes, non-finite values and out-of-range faces raise :class:`TrajectoryError`.
    """

    positions: np.ndarray
    faces: np.ndarray | None = None
    velocities: np.ndarray | None = None
    attributes: Mapping[str, np.ndarray] = field(default_factory=dict)
    object_name: str | None = None

    def __post_init__(self) -> None:
        pos = _real_array(self.positions, "Track.positions", np.float32)
        if pos.ndim != 3 or pos.shape[2] != 3:
            raise TrajectoryError(
                f"Track.positions must have shape (T, N, 3) [m], got {pos.shape}; a single "
                "frame of N points is positions[None]"
            )
        T, N, _ = pos.shape
        if T == 0 or N == 0:
            raise TrajectoryError(f"Track.positions is empty (shape {pos.shape})")
        if not np.isfinite(pos).all():
            bad = np.argwhere(~np.isfinite(pos))[0]
            raise TrajectoryError(
                f"Track.positions has a non-finite value at frame {bad[0]}, point {bad[1]}"
            )
        object.__setattr__(self, "positions", pos)

        if self.faces is not None:
            faces = np.asarray(self.faces)
            if faces.dtype.kind not in "iu":
                raise TrajectoryError(f"Track.faces must be integers, got dtype {faces.dtype}")
            if faces.ndim != 2 or faces.shape[1] != 3 or faces.shape[0] == 0:
                raise TrajectoryError(
                    f"Track.faces must have shape (F, 3) with F >= 1, got {faces.shape}; use "
                    "faces=None for a point track"
                )
            lo, hi = int(faces.min()), int(faces.max())
            if lo < 0 or hi >= N:
                raise TrajectoryError(
                    f"Track.faces index vertices in [{lo}, {hi}] but the track has N={N} points "
                    f"(valid indices 0..{N - 1})"
                )
            object.__setattr__(self, "faces", np.ascontiguousarray(faces, dtype=np.int64))

        if self.velocities is not None:
            vel = _real_array(self.velocities, "Track.velocities", np.float32)
            if vel.shape != pos.shape:
                raise TrajectoryError(
                    f"Track.velocities must have the shape of positions {pos.shape}, "
                    f"got {vel.shape}"
                )
            object.__setattr__(self, "velocities", vel)

        attributes: dict[str, np.ndarray] = {}
        for key, value in dict(self.attributes).items():
            check_name(key, "Track attribute")
            arr = np.asarray(value)
            if arr.dtype.kind not in "biuf":
                raise TrajectoryError(
                    f"Track.attributes[{key!r}] must be a numeric or bool array, got {arr.dtype}"
                )
            if arr.ndim == 0 or arr.shape[0] != N:
                raise TrajectoryError(
                    f"Track.attributes[{key!r}] must have one entry per point, shape (N={N}, ...)"
                    f", got {arr.shape}"
                )
            dtype = np.float32 if arr.dtype.kind == "f" else arr.dtype
            attributes[key] = np.ascontiguousarray(arr, dtype=dtype)
        object.__setattr__(self, "attributes", attributes)

        if self.object_name is not None and not isinstance(self.object_name, str):
            raise TrajectoryError(f"Track.object_name must be a str, got {self.object_name!r}")

    @property
    def kind(self) -> Literal["mesh", "points"]:
        """``"mesh"`` when the track has faces, else ``"points"``."""
        return "points" if self.faces is None else "mesh"

    @property
    def num_frames(self) -> int:
        """T, the number of frames."""
        return int(self.positions.shape[0])

    @property
    def num_points(self) -> int:
        """N, the number of points (mesh vertices)."""
        return int(self.positions.shape[1])

    @property
    def num_faces(self) -> int:
        """F, the number of triangles (0 for a point track)."""
        return 0 if self.faces is None else int(self.faces.shape[0])

    def select_frames(self, index: np.ndarray | slice | Sequence[int]) -> Track:
        """A new track holding only the frames ``positions[index]`` (static data shared)."""
        pos = self.positions[index]
        vel = None if self.velocities is None else self.velocities[index]
        return dataclasses.replace(self, positions=pos, velocities=vel)

    def __repr__(self) -> str:
        extra = f", F={self.num_faces}" if self.faces is not None else ""
        parts = [f"kind={self.kind!r}", f"T={self.num_frames}", f"N={self.num_points}{extra}"]
        if self.velocities is not None:
            parts.append("velocities")
        if self.attributes:
            parts.append(f"attributes={sorted(self.attributes)}")
        if self.object_name is not None:
            parts.append(f"object_name={self.object_name!r}")
        return f"Track({', '.join(parts)})"


@dataclass(eq=False, repr=False)
class Trajectory:
    """The output of a simulation (or of an emulator): tracks over time plus provenance.

    Attributes:
        times: frame times [s], shape (T,), float64, strictly increasing.
        tracks: named tracks, each with T frames; order is kept in files and exports.
        diagnostics: per-frame quantities, each of shape (T, ...), e.g. ``"kinetic_energy"``
            (T,) [J], ``"linear_momentum"`` (T, 3) [kg m/s], ``"angular_momentum"`` (T, 3)
            [kg m^2/s].
        metadata: JSON-serialisable provenance (scene config, seed, versions, dt, backend, ...).
    """

    times: np.ndarray
    tracks: dict[str, Track] = field(default_factory=dict)
    diagnostics: dict[str, np.ndarray] = field(default_factory=dict)
    metadata: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Check (and coerce) every field; raises :class:`TrajectoryError` naming the problem.

        Runs on construction and again before saving, since the dicts may be edited in between.
        """
        times = _real_array(self.times, "Trajectory.times", np.float64)
        if times.ndim != 1 or times.size == 0:
            raise TrajectoryError(
                f"Trajectory.times must have shape (T,) with T >= 1, got {times.shape}"
            )
        if not np.isfinite(times).all():
            raise TrajectoryError("Trajectory.times contains NaN or inf")
        steps = np.diff(times)
        if (steps <= 0).any():
            i = int(np.argmax(steps <= 0))
            raise TrajectoryError(
                f"Trajectory.times must be strictly increasing; times[{i}]={times[i]!r} s is "
                f"followed by times[{i + 1}]={times[i + 1]!r} s"
            )
        self.times = times
        T = times.shape[0]

        if not isinstance(self.tracks, Mapping):
            raise TrajectoryError(f"Trajectory.tracks must be a dict, got {type(self.tracks)}")
        tracks: dict[str, Track] = _Tracks()
        for name, track in self.tracks.items():
            check_name(name, "track")
            if not isinstance(track, Track):
                raise TrajectoryError(
                    f"Trajectory.tracks[{name!r}] must be a Track, got {type(track).__name__}"
                )
            if track.num_frames != T:
                raise TrajectoryError(
                    f"track {name!r} has {track.num_frames} frames but times has {T} entries; "
                    "positions must have shape (len(times), N, 3)"
                )
            tracks[name] = track
        self.tracks = tracks

        diagnostics: dict[str, np.ndarray] = {}
        for name, value in dict(self.diagnostics).items():
            check_name(name, "diagnostic")
            arr = np.asarray(value)
            if arr.dtype.kind not in "biuf":
                raise TrajectoryError(
                    f"diagnostics[{name!r}] must be a numeric array, got dtype {arr.dtype}"
                )
            if arr.ndim == 0 or arr.shape[0] != T:
                raise TrajectoryError(
                    f"diagnostics[{name!r}] must have one row per frame, shape (T={T}, ...), "
                    f"got {arr.shape}"
                )
            diagnostics[name] = np.ascontiguousarray(arr)
        self.diagnostics = diagnostics

        if not isinstance(self.metadata, Mapping):
            raise TrajectoryError(
                f"Trajectory.metadata must be a dict, got {type(self.metadata).__name__}"
            )
        self.metadata = dict(self.metadata)
        _check_json(self.metadata, "metadata")

    # ----------------------------------------------------------------------------- queries
    @property
    def num_frames(self) -> int:
        """T, the number of frames."""
        return int(self.times.shape[0])

    @property
    def track_names(self) -> list[str]:
        """Track names in order."""
        return list(self.tracks)

    @property
    def duration(self) -> float:
        """``times[-1] - times[0]`` [s]."""
        return float(self.times[-1] - self.times[0])

    @property
    def fps(self) -> float:
        """Frames per second [1/s]: the reciprocal of the median frame interval.

        For a single-frame trajectory ``metadata["fps"]`` is used if present, else
        :class:`TrajectoryError` is raised.
        """
        if self.num_frames < 2:
            fps = self.metadata.get("fps")
            if isinstance(fps, (int, float)) and fps > 0:
                return float(fps)
            raise TrajectoryError(
                "fps is undefined for a single-frame trajectory; set metadata['fps']"
            )
        fps = float(1.0 / np.median(np.diff(self.times)))
        rounded = round(fps, 6)  # 1 / (1/30) gives 30.000000000000004: report 30.0
        return rounded if abs(rounded - fps) <= 1e-9 * fps else fps

    @property
    def is_uniform(self) -> bool:
        """True when all frame intervals equal the median one within a relative 1e-6."""
        if self.num_frames < 3:
            return True
        steps = np.diff(self.times)
        dt = np.median(steps)
        return bool(np.all(np.abs(steps - dt) <= 1e-6 * dt))

    def frame_index(self, time: float) -> int:
        """Index of the frame nearest to ``time`` [s].

        Raises TrajectoryError when ``time`` lies more than half a frame interval outside
        ``[times[0], times[-1]]``.
        """
        t = float(time)
        half = 0.5 / self.fps if self.num_frames > 1 else 0.0
        if not (self.times[0] - half <= t <= self.times[-1] + half):
            raise TrajectoryError(
                f"time {t!r} s is outside the trajectory [{self.times[0]!r}, {self.times[-1]!r}] s"
            )
        i = int(np.searchsorted(self.times, t))
        if i == 0:
            return 0
        if i == self.num_frames:
            return self.num_frames - 1
        return i if self.times[i] - t < t - self.times[i - 1] else i - 1

    def track(self, name: str) -> Track:
        """The track called ``name``; a clear error (with the closest name) if there is none."""
        try:
            return self.tracks[name]
        except KeyError:
            raise TrajectoryError(
                f"no track named {name!r}; the trajectory has {self.track_names}."
                + _closest(name, self.tracks)
            ) from None

    # --------------------------------------------------------------------------- derived
    def subset(self, track_names: Iterable[str]) -> Trajectory:
        """A trajectory holding only ``track_names`` (in that order); diagnostics and metadata
        are kept."""
        names = [track_names] if isinstance(track_names, str) else list(track_names)
        tracks = {name: self.track(name) for name in names}
        return Trajectory(
            times=self.times,
            tracks=tracks,
            diagnostics=dict(self.diagnostics),
            metadata=json.loads(_dumps(self.metadata)),
        )

    def select_frames(self, index: slice | Sequence[int] | np.ndarray) -> Trajectory:
        """A trajectory holding only the frames ``index`` (a slice or increasing indices)."""
        if not isinstance(index, slice):
            index = np.asarray(index, dtype=np.int64).reshape(-1)
            if index.size and (index.min() < -self.num_frames or index.max() >= self.num_frames):
                raise TrajectoryError(
                    f"frame indices must lie in [0, {self.num_frames - 1}], got {index.tolist()}"
                )
        return Trajectory(
            times=self.times[index],
            tracks={name: t.select_frames(index) for name, t in self.tracks.items()},
            diagnostics={name: d[index] for name, d in self.diagnostics.items()},
            metadata=json.loads(_dumps(self.metadata)),
        )

    # ------------------------------------------------------------------------------- I/O
    def save(self, path: str | Path) -> Path:
        """Write the canonical compressed ``.npz`` (format ``emu4d.trajectory/1``) atomically.

        Returns the written path. Nothing is left at ``path`` if writing fails.
        """
        path = Path(path).expanduser()
        self.validate()
        index: dict[str, Any] = {"tracks": [], "diagnostics": list(self.diagnostics)}
        arrays: dict[str, np.ndarray] = {
            "__format__": np.array(FORMAT_VERSION),
            "__metadata__": np.array(_dumps(self.metadata)),
            "times": self.times,
        }
        for name, track in self.tracks.items():
            key = f"tracks/{name}"
            arrays[f"{key}/positions"] = track.positions
            if track.faces is not None:
                arrays[f"{key}/faces"] = track.faces
            if track.velocities is not None:
                arrays[f"{key}/velocities"] = track.velocities
            for attr, value in track.attributes.items():
                arrays[f"{key}/attributes/{attr}"] = value
            index["tracks"].append(
                {
                    "name": name,
                    "object_name": track.object_name,
                    "faces": track.faces is not None,
                    "velocities": track.velocities is not None,
                    "attributes": list(track.attributes),
                }
            )
        for name, value in self.diagnostics.items():
            arrays[f"diagnostics/{name}"] = value
        arrays["__index__"] = np.array(json.dumps(index))
        with atomic_path(path) as tmp, open(tmp, "wb") as f:
            np.savez_compressed(f, **arrays)
        return path

    @classmethod
    def load(cls, path: str | Path) -> Trajectory:
        """Read a file written by :meth:`save`; arrays come back bitwise identical.

        Raises:
            TrajectoryNotFoundError: ``path`` does not exist.
            TrajectoryError: the file is not an emu4d trajectory, has another format version,
                or lacks an entry.
        """
        if not isinstance(path, (str, PathLike)):
            raise TrajectoryError(
                f"Trajectory.load takes the path of a .npz, got a {type(path).__name__}"
                + (" (already loaded)" if isinstance(path, Trajectory) else "")
            )
        path = Path(path)
        if not path.exists():
            raise TrajectoryNotFoundError(f"trajectory file {path} does not exist")
        try:
            archive = np.load(path, allow_pickle=False)
        except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
            raise TrajectoryError(  # numpy's own text may advise unsafe (pickle) loading
                f"{path} is not an emu4d trajectory (.npz written by Trajectory.save): it "
                f"cannot be read as a NumPy .npz archive ({type(exc).__name__})."
            ) from exc
        if not isinstance(archive, np.lib.npyio.NpzFile):
            raise TrajectoryError(
                f"{path} holds a single .npy array, not an emu4d trajectory (.npz written by "
                "Trajectory.save)"
            )
        with archive:
            return cls._from_archive(archive, path)

    @classmethod
    def _from_archive(cls, archive: Any, path: Path) -> Trajectory:
        keys = set(archive.files)

        def get(key: str) -> np.ndarray:
            if key not in keys:
                raise TrajectoryError(
                    f"{path} is a damaged trajectory file: entry {key!r} is missing"
                )
            try:
                return archive[key]
            except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
                # an object array: NumPy's text would advise unsafe (pickle) loading
                detail = "it holds Python objects" if "pickle" in str(exc) else str(exc)
                raise TrajectoryError(f"{path}: cannot read entry {key!r}: {detail}") from exc

        if "__format__" not in keys:
            shown = sorted(keys)[:8]
            raise TrajectoryError(
                f"{path} is not an emu4d trajectory: it has no '__format__' entry (entries: "
                f"{shown}{' ...' if len(keys) > 8 else ''}); write trajectories with "
                "Trajectory.save"
            )
        fmt = str(get("__format__")[()])
        if fmt != FORMAT_VERSION:
            if fmt.startswith(_FORMAT_FAMILY):
                hint = "it was written by another emu4d version; upgrade emu4d to read it"
            else:
                hint = "it is not an emu4d trajectory"
            raise TrajectoryError(
                f"{path} has format {fmt!r} but this emu4d reads {FORMAT_VERSION!r}: {hint}"
            )
        try:
            metadata = json.loads(str(get("__metadata__")[()]))
            index = json.loads(str(get("__index__")[()]))
            track_index = list(index["tracks"])
            diagnostic_names = list(index["diagnostics"])
        except (json.JSONDecodeError, KeyError, TypeError) as exc:
            raise TrajectoryError(f"{path} has a damaged header: {exc!r}") from exc

        tracks: dict[str, Track] = {}
        for entry in track_index:
            try:
                name = entry["name"]
                key = f"tracks/{name}"
                tracks[name] = Track(
                    positions=get(f"{key}/positions"),
                    faces=get(f"{key}/faces") if entry["faces"] else None,
                    velocities=get(f"{key}/velocities") if entry["velocities"] else None,
                    attributes={a: get(f"{key}/attributes/{a}") for a in entry["attributes"]},
                    object_name=entry["object_name"],
                )
            except (KeyError, TypeError) as exc:
                raise TrajectoryError(f"{path} has a damaged track index: {exc!r}") from exc
        diagnostics = {name: get(f"diagnostics/{name}") for name in diagnostic_names}
        return cls(times=get("times"), tracks=tracks, diagnostics=diagnostics, metadata=metadata)

    def export(
        self,
        fmt: str,
        out: str | Path,
        tracks: Sequence[str] | None = None,
        **kw: Any,
    ) -> list[Path]:
        """Export to ``fmt`` (one of :data:`EXPORT_FORMATS`); returns the written files.

        ``out`` is a file for ``npz``, ``glb`` and ``usd`` and a directory for the per-frame
        sequences ``ply``, ``obj`` and ``gaussians``. ``tracks`` selects tracks by name (default:
        every track the format can hold). Extra keywords go to the exporter in
        :mod:`mpm.export`.
        """
        from mpm.export import EXPORTERS  # late: mpm.export imports this module

        key = fmt.lower().lstrip(".") if isinstance(fmt, str) else fmt
        if key not in EXPORTERS:
            raise TrajectoryError(
                f"unknown export format {fmt!r}; valid formats: {', '.join(EXPORT_FORMATS)}."
                + _closest(str(fmt).lower(), EXPORT_FORMATS)
            )
        exporter = EXPORTERS[key]
        parameters = list(inspect.signature(exporter).parameters.values())
        accepted = [p.name for p in parameters[2:] if p.kind is p.POSITIONAL_OR_KEYWORD
                    or p.kind is p.KEYWORD_ONLY]  # fmt: skip  # after (traj, out)
        takes_any = any(p.kind is p.VAR_KEYWORD for p in parameters)  # a wrapper: not checked
        if "frame" in kw and "frames" in accepted and "frame" not in accepted:
            kw["frames"] = [kw.pop("frame")]  # one frame of a per-frame sequence
        if "frames" in kw and "frame" in accepted and "frames" not in accepted:
            chosen = list(np.atleast_1d(kw.pop("frames")))
            if len(chosen) != 1:
                raise TrajectoryError(
                    f"{key} export writes one frame (frame=k) or all of them, not {chosen}."
                )
            kw["frame"] = int(chosen[0])
        unknown = [] if takes_any else [name for name in kw if name not in accepted]
        if unknown:
            raise TrajectoryError(
                f"{key} export takes no {', '.join(map(repr, unknown))}; its options are "
                f"{[p for p in accepted if p != 'tracks']}."
            )
        return exporter(self, out, tracks=tracks, **kw)

    def __repr__(self) -> str:
        span = f"t=[{self.times[0]:.6g}, {self.times[-1]:.6g}] s"
        tracks = ", ".join(f"{n}: {t!r}" for n, t in self.tracks.items())
        return (
            f"Trajectory(T={self.num_frames}, {span}, tracks={{{tracks}}}, "
            f"diagnostics={list(self.diagnostics)}, metadata keys={list(self.metadata)})"
        )
