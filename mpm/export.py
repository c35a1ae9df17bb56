"""Exporters from :class:`mpm.trajectory.Trajectory` to interchange formats.

Every exporter returns the paths it wrote and writes atomically: a failure part-way leaves no
partial output and keeps a previous export intact (see :mod:`mpm.fileio`).

=============  ======================================  ==========================================
format         function                                output
=============  ======================================  ==========================================
``npz``        :func:`export_npz`                      canonical lossless file (Trajectory.save)
``ply``        :func:`export_ply_sequence`             ``OUT/<track>/<track>_00000.ply`` ...
``obj``        :func:`export_obj_sequence`             ``OUT/<track>/<track>_00000.obj`` (meshes)
``glb``        :func:`export_glb`                      one animated glTF 2.0 binary (morph targets)
``gaussians``  :func:`export_gaussians_ply`            3D Gaussian Splatting PLY per frame
``usd``        :func:`export_usd`                      USD stage with time samples (needs usd-core)
=============  ======================================  ==========================================

Coordinates stay in the simulation frame (SI metres, Z up) except in glTF, whose convention is
Y up: GLB vertices are rotated once, (x, y, z) -> (x, z, -y). USD stages declare Z up.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import struct
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from mpm.errors import TrajectoryError
from mpm.fileio import atomic_directory, atomic_path
from mpm.trajectory import Track, Trajectory

__all__ = [
    "EXPORTERS",
    "export_gaussians_ply",
    "export_glb",
    "export_npz",
    "export_obj_sequence",
    "export_ply_sequence",
    "export_usd",
    "particle_radii",
    "track_color",
]

log = logging.getLogger("emu4d.mpm")

Color = Sequence[float]

# Distinct colours (matplotlib "tab10" values), assigned to tracks by their position.
_PALETTE: tuple[tuple[float, float, float], ...] = (
    (0.122, 0.467, 0.706),
    (1.000, 0.498, 0.055),
    (0.173, 0.627, 0.173),
    (0.839, 0.153, 0.157),
    (0.580, 0.404, 0.741),
    (0.549, 0.337, 0.294),
    (0.890, 0.467, 0.761),
    (0.498, 0.498, 0.498),
    (0.737, 0.741, 0.133),
    (0.090, 0.745, 0.812),
)

# Z-up (simulation) -> Y-up (glTF 2.0 convention), a proper rotation: (x, y, z) -> (x, z, -y).
_Z_UP_TO_Y_UP = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, -1.0, 0.0]], dtype=np.float32)

_SH_C0 = 0.28209479177387814
"""Zeroth-order real spherical harmonic 1 / (2 sqrt(pi)); 3DGS stores colour as (rgb - 0.5) / C0."""


# ----------------------------------------------------------------------------- helpers
def _numpy_scalar(value: Any) -> Any:
    """JSON fallback for numpy scalars (metadata may hold them)."""
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"{type(value).__name__} is not JSON-serialisable")


def _select(
    traj: Trajectory,
    tracks: Sequence[str] | str | None,
    fmt: str,
    kinds: tuple[str, ...] = ("mesh", "points"),
) -> list[tuple[str, Track]]:
    """The (name, track) pairs to export; explicit names of the wrong kind raise, implicit ones
    are skipped with a warning."""
    if tracks is None:
        chosen = []
        for name, track in traj.tracks.items():
            if track.kind in kinds:
                chosen.append((name, track))
            else:
                log.warning("%s export: skipping %s track %r", fmt, track.kind, name)
    else:
        names = [tracks] if isinstance(tracks, str) else list(tracks)
        chosen = [(name, traj.track(name)) for name in names]
        for name, track in chosen:
            if track.kind not in kinds:
                raise TrajectoryError(
                    f"{fmt} export cannot hold {track.kind} track {name!r}; it takes "
                    f"{' or '.join(kinds)} tracks. Choose another format (e.g. 'ply') or leave "
                    "it out of `tracks`"
                )
    if not chosen:
        raise TrajectoryError(
            f"nothing to export as {fmt}: the trajectory has no {' or '.join(kinds)} tracks "
            f"(tracks: {[f'{n} ({t.kind})' for n, t in traj.tracks.items()]})"
        )
    return chosen


def _frames(traj: Trajectory, frames: int | Sequence[int] | None) -> list[int]:
    """Validated, non-negative frame indices (default: all frames)."""
    if frames is None:
        return list(range(traj.num_frames))
    raw = [frames] if isinstance(frames, (int, np.integer)) else list(frames)
    out = []
    for f in raw:
        if not isinstance(f, (int, np.integer)) or not -traj.num_frames <= f < traj.num_frames:
            raise TrajectoryError(
                f"frame {f!r} is not a valid frame index; the trajectory has frames "
                f"0..{traj.num_frames - 1}"
            )
        out.append(int(f) % traj.num_frames)
    return list(dict.fromkeys(out))  # a frame asked twice is written once


def _progress(total: int, desc: str, enabled: bool) -> tqdm:
    return tqdm(total=total, desc=desc, unit="file", disable=not enabled, leave=False)


def track_color(
    traj: Trajectory, name: str, colors: Mapping[str, Color] | None = None
) -> np.ndarray:
    """RGB colour in [0, 1], shape (3,) float32, for track ``name``: ``colors[name]`` if given,
    else a palette colour chosen by the track's position in the trajectory."""
    if colors is not None and name in colors:
        rgb = np.asarray(colors[name], dtype=np.float32).reshape(-1)
        if rgb.shape != (3,) or not ((rgb >= 0) & (rgb <= 1)).all():
            raise TrajectoryError(f"colors[{name!r}] must be 3 values in [0, 1], got {rgb}")
        return rgb
    return np.asarray(_PALETTE[traj.track_names.index(name) % len(_PALETTE)], dtype=np.float32)


def _point_colors(traj: Trajectory, name: str, colors: Mapping[str, Color] | None) -> np.ndarray:
    """Per-point RGB (N, 3) float32: attribute ``"color"`` unless ``colors`` names the track."""
    track = traj.tracks[name]
    rgb = track.attributes.get("color")
    if (colors is None or name not in colors) and rgb is not None:
        rgb = np.asarray(rgb, dtype=np.float32)
        if rgb.shape != (track.num_points, 3):
            raise TrajectoryError(
                f"attribute 'color' of track {name!r} must have shape (N, 3), got {rgb.shape}"
            )
        return np.clip(rgb, 0.0, 1.0)
    return np.broadcast_to(track_color(traj, name, colors), (track.num_points, 3))


def particle_radii(track: Track) -> np.ndarray:
    """Radius [m], shape (N,) float32, of the ball with each particle's volume.

    r = (3 V / 4 pi)^(1/3) from ``attributes["volume"]`` [m^3]. Without volumes the spacing is
    estimated from the nearest-neighbour distance h at frame 0, taking V = h^3.
    """
    volume = track.attributes.get("volume")
    if volume is not None:
        volume = np.asarray(volume, dtype=np.float64).reshape(-1)
        if volume.shape != (track.num_points,) or not (volume > 0).all():
            raise TrajectoryError(
                "attribute 'volume' must hold one positive volume [m^3] per point, shape (N,)"
            )
    else:
        if track.num_points < 2:
            raise TrajectoryError(
                "cannot infer a particle size from a single point without a 'volume' attribute; "
                "pass radius=..."
            )
        from scipy.spatial import cKDTree

        dist, _ = cKDTree(track.positions[0]).query(track.positions[0], k=2)
        h = dist[:, 1]
        h = np.where(h > 0, h, np.median(h[h > 0]) if (h > 0).any() else 1e-3)
        volume = h**3
    return ((3.0 * volume / (4.0 * math.pi)) ** (1.0 / 3.0)).astype(np.float32)


def _ply_header(
    vertex_props: Sequence[str], num_vertices: int, num_faces: int, comments: Sequence[str]
) -> bytes:
    lines = ["ply", "format binary_little_endian 1.0"]
    lines += [f"comment {c}" for c in comments]
    lines.append(f"element vertex {num_vertices}")
    lines += [f"property float {p}" for p in vertex_props]
    if num_faces:
        lines += [f"element face {num_faces}", "property list uchar int vertex_indices"]
    lines.append("end_header")
    return ("\n".join(lines) + "\n").encode("ascii")


def _write_ply(
    path: Path,
    vertex_props: Sequence[str],
    vertex_data: np.ndarray,
    faces: np.ndarray | None = None,
    comments: Sequence[str] = (),
) -> None:
    """Binary little-endian PLY: float32 vertex columns ``vertex_props`` (N, P), optional
    triangles (F, 3) as ``list uchar int vertex_indices``."""
    data = np.ascontiguousarray(vertex_data, dtype="<f4")
    num_faces = 0 if faces is None else len(faces)
    with open(path, "wb") as f:
        f.write(_ply_header(vertex_props, data.shape[0], num_faces, comments))
        f.write(data.tobytes())
        if faces is not None:
            packed = np.empty(num_faces, dtype=[("n", "u1"), ("v", "<i4", (3,))])
            packed["n"] = 3
            packed["v"] = faces
            f.write(packed.tobytes())


def _write_obj(
    path: Path, vertices: np.ndarray, faces: np.ndarray, comments: Sequence[str]
) -> None:
    """Wavefront OBJ; ``%.9g`` round-trips float32 exactly, faces are 1-based."""
    head = "".join(f"# {c}\n" for c in comments)
    v = ("v %.9g %.9g %.9g\n" * len(vertices)) % tuple(vertices.astype(np.float64).ravel().tolist())
    fc = ("f %d %d %d\n" * len(faces)) % tuple((faces + 1).ravel().tolist())
    with open(path, "w", encoding="ascii", newline="\n") as f:
        f.write(head)
        f.write(v)
        f.write(fc)


def _comments(traj: Trajectory, name: str, frame: int) -> list[str]:
    return [
        f"emu4d track={json.dumps(name)} frame={frame} time={traj.times[frame]:.9g} s",
        "units=m up=+Z",
    ]


def _write_sequence(
    traj: Trajectory,
    out_dir: str | Path,
    chosen: list[tuple[str, Track]],
    frames: list[int],
    ext: str,
    write_frame: Callable[[Path, str, Track, int], None],
    progress: bool,
) -> list[Path]:
    """Write ``OUT/<track>/<track>_<frame:05d>.<ext>`` for every chosen track and frame.

    Each track directory is staged in a temporary directory and all of them replace their
    destinations only after every file of every track was written.
    """
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise TrajectoryError(
            f"{ext} export writes a folder of files per track, but {out_dir} is a file; give "
            "a folder path."
        )
    written: list[Path] = []
    bar = _progress(len(chosen) * len(frames), f"{ext} export", progress)
    with bar, contextlib.ExitStack() as stack:
        for name, track in chosen:
            staging = stack.enter_context(atomic_directory(out_dir / name))
            for k in frames:
                file_name = f"{name}_{k:05d}.{ext}"
                write_frame(staging / file_name, name, track, k)
                written.append(out_dir / name / file_name)
                bar.update()
    log.debug("wrote %d %s files to %s", len(written), ext, out_dir)
    return written


# --------------------------------------------------------------------------- exporters
def export_npz(
    traj: Trajectory,
    path: str | Path,
    tracks: Sequence[str] | None = None,
    progress: bool = True,
) -> list[Path]:
    """The canonical lossless ``.npz`` (:meth:`Trajectory.save`), optionally of some tracks.

    ``progress`` is accepted for a uniform exporter signature (a single file shows no bar).
    """
    source = traj if tracks is None else traj.subset(tracks)
    return [source.save(path)]


def export_ply_sequence(
    traj: Trajectory,
    out_dir: str | Path,
    tracks: Sequence[str] | None = None,
    frames: Sequence[int] | None = None,
    progress: bool = True,
) -> list[Path]:
    """One binary PLY per track and frame: ``out_dir/<track>/<track>_00000.ply``.

    Mesh tracks become triangle meshes, point tracks point clouds (vertices only); float32
    positions [m], Z up. ``frames`` selects frame indices (default: all).
    """
    chosen = _select(traj, tracks, "ply")
    frame_ids = _frames(traj, frames)

    def write(path: Path, name: str, track: Track, k: int) -> None:
        _write_ply(path, ("x", "y", "z"), track.positions[k], track.faces, _comments(traj, name, k))

    return _write_sequence(traj, out_dir, chosen, frame_ids, "ply", write, progress)


def export_obj_sequence(
    traj: Trajectory,
    out_dir: str | Path,
    tracks: Sequence[str] | None = None,
    frames: Sequence[int] | None = None,
    progress: bool = True,
) -> list[Path]:
    """One Wavefront OBJ per mesh track and frame: ``out_dir/<track>/<track>_00000.obj``.

    OBJ holds surfaces only: point tracks are skipped with a warning, or rejected with
    :class:`TrajectoryError` when named in ``tracks``.
    """
    chosen = _select(traj, tracks, "obj", kinds=("mesh",))
    frame_ids = _frames(traj, frames)

    def write(path: Path, name: str, track: Track, k: int) -> None:
        assert track.faces is not None  # guaranteed by _select(kinds=("mesh",))
        _write_obj(path, track.positions[k], track.faces, _comments(traj, name, k))

    return _write_sequence(traj, out_dir, chosen, frame_ids, "obj", write, progress)


def export_gaussians_ply(
    traj: Trajectory,
    out_dir: str | Path,
    tracks: Sequence[str] | None = None,
    frames: Sequence[int] | None = None,
    radius: float | Mapping[str, float] | None = None,
    opacity: float = 0.9,
    colors: Mapping[str, Color] | None = None,
    progress: bool = True,
) -> list[Path]:
    """Particles as isotropic 3D Gaussians, in the PLY layout of 3D Gaussian Splatting.

    Writes ``out_dir/<track>/<track>_00000.ply`` (binary little endian, float32 vertex
    properties ``x y z nx ny nz f_dc_0 f_dc_1 f_dc_2 opacity scale_0 scale_1 scale_2 rot_0 rot_1
    rot_2 rot_3``; SH degree 0, i.e. no ``f_rest_*``). Per Gaussian:

    - scale_i = log(sigma): sigma [m] is ``radius`` when given (a float, or a mapping track ->
      float), else the standard deviation of a uniform ball with the particle's volume,
      sigma = r / sqrt(5), r = (3 V / 4 pi)^(1/3) (second-moment match, see
      :func:`particle_radii`);
    - rot = (1, 0, 0, 0) (identity quaternion, w first); normals 0;
    - opacity = logit(``opacity``);
    - f_dc = (rgb - 0.5) / C0, rgb from ``colors[track]``, else attribute ``"color"`` (N, 3),
      else the track's palette colour.

    Default tracks: the point tracks (mesh vertices are not volume samples; name a mesh track
    explicitly to export its vertices). Positions keep the simulation frame (metres, Z up).
    """
    kinds = ("points",) if tracks is None else ("points", "mesh")
    chosen = _select(traj, tracks, "gaussians", kinds=kinds)
    frame_ids = _frames(traj, frames)
    if not 0.0 < opacity < 1.0:
        raise TrajectoryError(f"opacity must lie strictly between 0 and 1, got {opacity}")
    props = (
        "x", "y", "z", "nx", "ny", "nz", "f_dc_0", "f_dc_1", "f_dc_2", "opacity",
        "scale_0", "scale_1", "scale_2", "rot_0", "rot_1", "rot_2", "rot_3",
    )  # fmt: skip

    static: dict[str, np.ndarray] = {}
    for name, track in chosen:
        given = radius.get(name) if isinstance(radius, Mapping) else radius
        if given is not None:
            sigma = np.broadcast_to(np.asarray(given, dtype=np.float32), (track.num_points,))
            if not (np.isfinite(sigma) & (sigma > 0)).all():
                raise TrajectoryError(f"radius for track {name!r} must be positive, got {given}")
        else:
            sigma = particle_radii(track) / np.float32(math.sqrt(5.0))
        block = np.zeros((track.num_points, len(props)), dtype=np.float32)
        block[:, 6:9] = (_point_colors(traj, name, colors) - 0.5) / _SH_C0
        block[:, 9] = math.log(opacity / (1.0 - opacity))
        block[:, 10:13] = np.log(sigma)[:, None]
        block[:, 13] = 1.0
        static[name] = block

    def write(path: Path, name: str, track: Track, k: int) -> None:
        block = static[name].copy()
        block[:, 0:3] = track.positions[k]
        _write_ply(path, props, block, None, _comments(traj, name, k))

    return _write_sequence(traj, out_dir, chosen, frame_ids, "ply", write, progress)


# --------------------------------------------------------------------------------- glTF
_FLOAT, _UINT = 5126, 5125
_ARRAY_BUFFER, _ELEMENT_ARRAY_BUFFER = 34962, 34963
_POINTS, _TRIANGLES = 0, 4


class _GltfBuffer:
    """Collects binary data for one glTF buffer and the bufferViews / accessors into it."""

    def __init__(self) -> None:
        self.parts: list[bytes] = []
        self.size = 0
        self.views: list[dict[str, Any]] = []
        self.accessors: list[dict[str, Any]] = []

    def add(
        self, data: np.ndarray, kind: str, target: int | None = None, bounds: bool = False
    ) -> int:
        """Append ``data`` (n,) "SCALAR" or (n, 3) "VEC3"; returns the accessor index."""
        data = np.ascontiguousarray(data)
        component = {np.dtype(np.float32): _FLOAT, np.dtype(np.uint32): _UINT}[data.dtype]
        pad = -self.size % 4  # every accessor offset must be a multiple of its component size
        if pad:
            self.parts.append(b"\0" * pad)
            self.size += pad
        view: dict[str, Any] = {"buffer": 0, "byteOffset": self.size, "byteLength": data.nbytes}
        if target is not None:
            view["target"] = target
        self.parts.append(data.tobytes())
        self.size += data.nbytes
        self.views.append(view)
        accessor: dict[str, Any] = {
            "bufferView": len(self.views) - 1,
            "componentType": component,
            "count": int(data.shape[0]),
            "type": kind,
        }
        if bounds:
            flat = data.reshape(data.shape[0], -1)
            accessor["min"] = flat.min(axis=0).tolist()
            accessor["max"] = flat.max(axis=0).tolist()
        self.accessors.append(accessor)
        return len(self.accessors) - 1

    def blob(self) -> bytes:
        return b"".join(self.parts) + b"\0" * (-self.size % 4)


def _glb_bytes(document: dict[str, Any], binary: bytes) -> bytes:
    """Pack a glTF JSON document and its binary buffer into a GLB container (glTF 2.0 §4.4)."""
    text = json.dumps(document, separators=(",", ":"), default=_numpy_scalar).encode("utf-8")
    text += b" " * (-len(text) % 4)
    total = 12 + 8 + len(text) + 8 + len(binary)
    if total >= 2**32:
        raise TrajectoryError(
            f"the GLB would be {total / 2**30:.1f} GiB, above the format's 4 GiB limit; export "
            "fewer frames (traj.select_frames(...)) or tracks, or use 'usd' / 'ply'"
        )
    return b"".join(
        (
            struct.pack("<4sII", b"glTF", 2, total),
            struct.pack("<I4s", len(text), b"JSON"),
            text,
            struct.pack("<I4s", len(binary), b"BIN\0"),
            binary,
        )
    )


def export_glb(
    traj: Trajectory,
    path: str | Path,
    tracks: Sequence[str] | None = None,
    frame: int | None = None,
    interpolation: str = "STEP",
    colors: Mapping[str, Color] | None = None,
    progress: bool = True,
) -> list[Path]:
    """One glTF 2.0 binary (``.glb``) holding every chosen track, animated by morph targets.

    Each track is a node with one mesh (triangles for mesh tracks, ``POINTS`` for point tracks).
    The base geometry is frame 0; target k holds the displacement ``positions[k] - positions[0]``
    (one target per frame, target 0 is zero) and one animation (``"simulation"``) steps the
    morph weights one-hot through the frames at ``times - times[0]`` [s]. ``interpolation`` is
    ``"STEP"`` (exact frames) or ``"LINEAR"`` (linear blend of consecutive frames). With
    ``frame`` given, only that frame is written, as static geometry.

    Vertices are converted to glTF's Y-up frame, (x, y, z) -> (x, z, -y); units are metres.
    Trajectory metadata is kept in ``asset.extras.emu4d``. ``colors`` maps track -> RGB in
    [0, 1] (default: palette). ``progress`` is accepted for a uniform exporter signature.
    """
    if Path(path).suffix.lower() != ".glb":
        raise TrajectoryError(
            f"GLB export writes one file and needs a .glb file name, got {Path(path).name!r}"
        )
    chosen = _select(traj, tracks, "glb")
    if interpolation not in ("STEP", "LINEAR"):
        raise TrajectoryError(f"interpolation must be 'STEP' or 'LINEAR', got {interpolation!r}")
    frame_ids = _frames(traj, frame) if frame is not None else list(range(traj.num_frames))
    animated = len(frame_ids) > 1
    buf = _GltfBuffer()
    doc: dict[str, Any] = {
        "asset": {
            "version": "2.0",
            "generator": "emu4d",
            "extras": {"emu4d": {"metadata": traj.metadata}},
        },
        "scene": 0,
        "scenes": [{"name": "emu4d", "nodes": list(range(len(chosen)))}],
        "nodes": [],
        "meshes": [],
        "materials": [],
    }
    for name, track in chosen:
        positions = track.positions[frame_ids] @ _Z_UP_TO_Y_UP.T  # (T', N, 3), Y up
        base = np.ascontiguousarray(positions[0], dtype=np.float32)
        primitive: dict[str, Any] = {
            "attributes": {"POSITION": buf.add(base, "VEC3", _ARRAY_BUFFER, bounds=True)},
            "mode": _POINTS if track.faces is None else _TRIANGLES,
            "material": len(doc["materials"]),
        }
        if track.faces is not None:
            indices = track.faces.astype(np.uint32).reshape(-1)
            primitive["indices"] = buf.add(indices, "SCALAR", _ELEMENT_ARRAY_BUFFER)
        mesh: dict[str, Any] = {"name": name, "primitives": [primitive]}
        if animated:
            primitive["targets"] = [
                {
                    "POSITION": buf.add(
                        (p - base).astype(np.float32), "VEC3", _ARRAY_BUFFER, bounds=True
                    )
                }
                for p in positions
            ]
            mesh["weights"] = [0.0] * len(frame_ids)
            mesh["extras"] = {"targetNames": [f"frame_{k:05d}" for k in frame_ids]}
        rgb = track_color(traj, name, colors).tolist()
        doc["materials"].append(
            {
                "name": f"{name}_material",
                "pbrMetallicRoughness": {
                    "baseColorFactor": [*rgb, 1.0],
                    "metallicFactor": 0.0,
                    "roughnessFactor": 0.8,
                },
                "doubleSided": True,
            }
        )
        node: dict[str, Any] = {"name": name, "mesh": len(doc["meshes"])}
        if track.object_name is not None:
            node["extras"] = {"object_name": track.object_name}
        doc["meshes"].append(mesh)
        doc["nodes"].append(node)

    if animated:
        t = (traj.times[frame_ids] - traj.times[frame_ids[0]]).astype(np.float32)
        times_acc = buf.add(t, "SCALAR", bounds=True)
        # Output: T keyframes x T weights, the identity (frame k shows target k only).
        weights_acc = buf.add(np.eye(len(frame_ids), dtype=np.float32).reshape(-1), "SCALAR")
        sampler = {"input": times_acc, "output": weights_acc, "interpolation": interpolation}
        doc["animations"] = [
            {
                "name": "simulation",
                "samplers": [dict(sampler) for _ in chosen],
                "channels": [
                    {"sampler": i, "target": {"node": i, "path": "weights"}}
                    for i in range(len(chosen))
                ],
            }
        ]
    binary = buf.blob()
    doc["buffers"] = [{"byteLength": len(binary)}]
    doc["bufferViews"] = buf.views
    doc["accessors"] = buf.accessors

    path = Path(path)
    with atomic_path(path) as tmp:
        tmp.write_bytes(_glb_bytes(doc, binary))
    log.debug("wrote %s (%d tracks, %d frames)", path, len(chosen), len(frame_ids))
    return [path]


# ---------------------------------------------------------------------------------- USD
_USD_INSTALL_HINT = (
    'USD export needs the OpenUSD Python bindings (module "pxr"): pip install "emu4d[usd]" '
    "(or pip install usd-core)"
)


def _import_pxr() -> SimpleNamespace:
    """The pxr modules used here, or ImportError with the install command (original chained)."""
    try:
        from pxr import Gf, Sdf, Tf, Usd, UsdGeom, Vt
    except ImportError as exc:
        raise ImportError(_USD_INSTALL_HINT, name="pxr") from exc
    return SimpleNamespace(Gf=Gf, Sdf=Sdf, Tf=Tf, Usd=Usd, UsdGeom=UsdGeom, Vt=Vt)


def _usd_time_codes(traj: Trajectory) -> tuple[float, list[float]]:
    """(timeCodesPerSecond, one time code per frame): code = time * fps, snapped to integers
    when within 1e-6 of one (uniform frames starting on a frame boundary)."""
    try:
        fps = traj.fps
    except TrajectoryError:
        fps = 24.0
    codes = traj.times * fps
    snapped = np.round(codes)
    codes = np.where(np.abs(codes - snapped) <= 1e-6, snapped, codes)
    return fps, [float(c) for c in codes]


def _usd_prim_names(names: list[str], make_valid: Callable[[str], str]) -> list[str]:
    out: list[str] = []
    for name in names:
        base = make_valid(name)
        candidate, i = base, 1
        while candidate in out:
            candidate, i = f"{base}_{i}", i + 1
        out.append(candidate)
    return out


def _write_usd(
    path: Path, traj: Trajectory, chosen: list[tuple[str, Track]], progress: bool
) -> None:
    pxr = _import_pxr()
    Gf, Sdf, Tf, Usd, UsdGeom, Vt = pxr.Gf, pxr.Sdf, pxr.Tf, pxr.Usd, pxr.UsdGeom, pxr.Vt
    fps, codes = _usd_time_codes(traj)
    stage = Usd.Stage.CreateNew(str(path))
    UsdGeom.SetStageUpAxis(stage, UsdGeom.Tokens.z)
    UsdGeom.SetStageMetersPerUnit(stage, 1.0)
    stage.SetTimeCodesPerSecond(fps)
    stage.SetFramesPerSecond(fps)
    stage.SetStartTimeCode(codes[0])
    stage.SetEndTimeCode(codes[-1])
    stage.GetRootLayer().customLayerData = {
        "emu4d_metadata": json.dumps(traj.metadata, default=_numpy_scalar)
    }
    world = UsdGeom.Xform.Define(stage, "/World")
    stage.SetDefaultPrim(world.GetPrim())

    prim_names = _usd_prim_names([n for n, _ in chosen], Tf.MakeValidIdentifier)
    bar = _progress(len(chosen) * len(codes), "usd export", progress)
    with bar:
        for (name, track), prim_name in zip(chosen, prim_names, strict=True):
            prim_path = Sdf.Path(f"/World/{prim_name}")
            if track.faces is None:
                geom = UsdGeom.Points.Define(stage, prim_path)
                widths = 2.0 * particle_radii(track)  # diameters [m]
                geom.CreateWidthsAttr(Vt.FloatArray.FromNumpy(widths))
                geom.SetWidthsInterpolation(UsdGeom.Tokens.vertex)
                pad = float(widths.max()) / 2.0
            else:
                geom = UsdGeom.Mesh.Define(stage, prim_path)
                counts = np.full(track.num_faces, 3, dtype=np.int32)
                geom.CreateFaceVertexCountsAttr(Vt.IntArray.FromNumpy(counts))
                indices = track.faces.astype(np.int32).reshape(-1)
                geom.CreateFaceVertexIndicesAttr(Vt.IntArray.FromNumpy(indices))
                geom.CreateSubdivisionSchemeAttr(UsdGeom.Tokens.none)
                pad = 0.0
            prim = geom.GetPrim()
            prim.SetCustomDataByKey("emu4d:track", name)
            if track.object_name is not None:
                prim.SetCustomDataByKey("emu4d:object_name", track.object_name)
            rgb = _point_colors(traj, name, None)
            if "color" in track.attributes:
                geom.CreateDisplayColorPrimvar(UsdGeom.Tokens.vertex).Set(
                    Vt.Vec3fArray.FromNumpy(np.ascontiguousarray(rgb))
                )
            else:
                geom.CreateDisplayColorPrimvar(UsdGeom.Tokens.constant).Set(
                    Vt.Vec3fArray([Gf.Vec3f(*map(float, rgb[0]))])
                )
            points = geom.CreatePointsAttr()
            extent = geom.CreateExtentAttr()
            velocities = geom.CreateVelocitiesAttr() if track.velocities is not None else None
            for k, code in enumerate(codes):
                time = Usd.TimeCode(code)
                frame = track.positions[k]
                points.Set(Vt.Vec3fArray.FromNumpy(frame), time)
                lo, hi = frame.min(axis=0) - pad, frame.max(axis=0) + pad
                extent.Set(
                    Vt.Vec3fArray([Gf.Vec3f(*map(float, lo)), Gf.Vec3f(*map(float, hi))]), time
                )
                if velocities is not None:
                    velocities.Set(Vt.Vec3fArray.FromNumpy(track.velocities[k]), time)
                bar.update()
    stage.GetRootLayer().Save()


def export_usd(
    traj: Trajectory,
    path: str | Path,
    tracks: Sequence[str] | None = None,
    progress: bool = True,
) -> list[Path]:
    """A USD stage (``.usd`` / ``.usdc`` binary, ``.usda`` text) with time-sampled tracks.

    Stage: Z up, metersPerUnit 1, timeCodesPerSecond = framesPerSecond = ``traj.fps``, frame k
    at time code ``times[k] * fps`` (integers for uniform frames starting on a frame boundary).
    Mesh tracks are ``UsdGeom.Mesh`` prims (triangles, no subdivision) and point tracks
    ``UsdGeom.Points`` prims with per-point ``widths`` (diameter of the particle-volume ball,
    see :func:`particle_radii`) under ``/World/<track>``; points, extent and (if recorded)
    velocities [m/s] are time-sampled. Metadata is kept as JSON in the layer's customLayerData.

    Raises:
        ImportError: ``usd-core`` is not installed (the message gives the pip command).
    """
    path = Path(path)
    if path.suffix.lower() not in (".usd", ".usdc", ".usda"):
        raise TrajectoryError(
            f"USD export needs a .usd, .usdc or .usda file name, got {path.name!r}"
        )
    chosen = _select(traj, tracks, "usd")
    _import_pxr()  # fail before creating anything when usd-core is missing
    with atomic_path(path) as tmp:
        _write_usd(tmp, traj, chosen, progress)
    log.debug("wrote %s (%d tracks, %d frames)", path, len(chosen), traj.num_frames)
    return [path]


EXPORTERS: dict[str, Callable[..., list[Path]]] = {
    "npz": export_npz,
    "ply": export_ply_sequence,
    "obj": export_obj_sequence,
    "glb": export_glb,
    "gaussians": export_gaussians_ply,
    "usd": export_usd,
}
"""Format name -> exporter ``(traj, out, tracks=None, **kw) -> list[Path]``."""
