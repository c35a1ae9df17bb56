"""Tests of mpm.export: every format is read back (trimesh, numpy, pxr) and writes are atomic."""

from __future__ import annotations

import importlib.util
import json
import logging
import math
import struct
import sys
from pathlib import Path

import numpy as np
import pytest
import trimesh

import mpm.export as export
from mpm.errors import TrajectoryError
from mpm.trajectory import Track, Trajectory

T = 5
FPS = 24.0
N_POINTS = 30
VOLUME = 8e-6  # [m^3] per particle
Z_UP_TO_Y_UP = np.array([[1, 0, 0], [0, 0, 1], [0, -1, 0]], dtype=np.float32)


def make_trajectory() -> Trajectory:
    """A box mesh rotating about Z and drifting up, plus a random point cloud, T frames."""
    rng = np.random.default_rng(7)
    box = trimesh.creation.box(extents=(0.1, 0.2, 0.3))
    frames = []
    for k in range(T):
        c, s = math.cos(0.3 * k), math.sin(0.3 * k)
        rot = np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])
        frames.append(box.vertices @ rot.T + [0.0, 0.0, 0.2 + 0.01 * k])
    pts = rng.uniform(-0.5, 0.5, size=(T, N_POINTS, 3))
    return Trajectory(
        times=np.arange(T) / FPS,
        tracks={
            "cube": Track(np.stack(frames), faces=box.faces, object_name="cube"),
            "grains": Track(
                pts,
                velocities=rng.normal(size=(T, N_POINTS, 3)),
                attributes={"volume": np.full(N_POINTS, VOLUME)},
                object_name="grains",
            ),
        },
        diagnostics={"kinetic_energy": np.linspace(0.0, 1.0, T)},
        metadata={"seed": 3, "scene": {"name": "test"}},
    )


@pytest.fixture(scope="module")
def traj() -> Trajectory:
    return make_trajectory()


def snapshot(root: Path) -> dict[str, bytes]:
    """Relative path -> bytes of every file below ``root``."""
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


def fail_on_call(monkeypatch: pytest.MonkeyPatch, name: str, call: int) -> None:
    """Make ``mpm.export.<name>`` raise on its ``call``-th invocation (1-based)."""
    original = getattr(export, name)
    calls = {"n": 0}

    def wrapper(*args: object, **kwargs: object) -> object:
        calls["n"] += 1
        if calls["n"] == call:
            raise OSError(f"simulated failure in {name} call {call}")
        return original(*args, **kwargs)

    monkeypatch.setattr(export, name, wrapper)


# -------------------------------------------------------------------------------- PLY / OBJ
def test_ply_sequence_reads_back_with_trimesh(traj: Trajectory, tmp_path: Path) -> None:
    paths = traj.export("ply", tmp_path / "ply", progress=False)
    assert len(paths) == 2 * T and all(p.is_file() for p in paths)
    assert paths[0] == tmp_path / "ply" / "cube" / "cube_00000.ply"
    assert paths[-1] == tmp_path / "ply" / "grains" / f"grains_{T - 1:05d}.ply"
    for k in range(T):
        mesh = trimesh.load(tmp_path / "ply" / "cube" / f"cube_{k:05d}.ply", process=False)
        assert isinstance(mesh, trimesh.Trimesh)
        np.testing.assert_allclose(
            mesh.vertices, traj.tracks["cube"].positions[k], rtol=0, atol=1e-6
        )
        np.testing.assert_array_equal(mesh.faces, traj.tracks["cube"].faces)
        cloud = trimesh.load(tmp_path / "ply" / "grains" / f"grains_{k:05d}.ply", process=False)
        assert isinstance(cloud, trimesh.PointCloud), "point tracks are written as point clouds"
        np.testing.assert_allclose(
            cloud.vertices, traj.tracks["grains"].positions[k], rtol=0, atol=1e-6
        )


def test_obj_sequence_reads_back_and_skips_points(
    traj: Trajectory, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="emu4d.mpm"):
        paths = export.export_obj_sequence(traj, tmp_path / "obj", progress=False)
    assert "skipping points track 'grains'" in caplog.text
    assert [p.name for p in paths] == [f"cube_{k:05d}.obj" for k in range(T)]
    assert not (tmp_path / "obj" / "grains").exists()
    for k, path in enumerate(paths):
        mesh = trimesh.load(path, process=False)
        np.testing.assert_allclose(
            mesh.vertices, traj.tracks["cube"].positions[k], rtol=0, atol=1e-6
        )
        assert len(mesh.faces) == traj.tracks["cube"].num_faces == 12
        np.testing.assert_array_equal(mesh.faces, traj.tracks["cube"].faces)


def test_obj_rejects_an_explicit_point_track(traj: Trajectory, tmp_path: Path) -> None:
    with pytest.raises(TrajectoryError, match="obj export cannot hold points track 'grains'"):
        traj.export("obj", tmp_path / "obj", tracks=["grains"])
    with pytest.raises(TrajectoryError, match="Did you mean 'grains'"):
        traj.export("obj", tmp_path / "obj", tracks=["grain"])
    assert not (tmp_path / "obj").exists()


def test_frames_selection(traj: Trajectory, tmp_path: Path) -> None:
    paths = export.export_ply_sequence(
        traj, tmp_path, tracks=["cube"], frames=[0, -1], progress=False
    )
    assert [p.name for p in paths] == ["cube_00000.ply", f"cube_{T - 1:05d}.ply"]
    with pytest.raises(TrajectoryError, match=r"frames 0\.\.4"):
        export.export_ply_sequence(traj, tmp_path, frames=[T], progress=False)


# ------------------------------------------------------------------------------- atomicity
def test_failed_sequence_export_leaves_no_partial_output(
    traj: Trajectory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fail_on_call(monkeypatch, "_write_ply", 3)
    with pytest.raises(OSError, match="call 3"):
        traj.export("ply", tmp_path / "out", progress=False)
    assert snapshot(tmp_path) == {}, "no file of the failed export is visible"
    assert not [p for p in tmp_path.rglob("*") if "tmp" in p.name], "staging dirs are removed"


def test_failed_sequence_export_keeps_the_previous_export(
    traj: Trajectory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "out"
    (out).mkdir()
    (out / "notes.txt").write_text("user file next to the export")
    traj.export("ply", out, progress=False)
    before = snapshot(out)
    moved = Trajectory(
        traj.times,
        {n: Track(t.positions + 1.0, t.faces) for n, t in traj.tracks.items()},
    )
    # fails in the second track, after the whole first track was staged
    fail_on_call(monkeypatch, "_write_ply", T + 3)
    with pytest.raises(OSError, match="simulated failure"):
        moved.export("ply", out, progress=False)
    assert snapshot(out) == before, "the earlier export is intact, byte for byte"
    assert sorted(p.name for p in out.iterdir()) == ["cube", "grains", "notes.txt"]


def test_reexport_replaces_stale_frames(traj: Trajectory, tmp_path: Path) -> None:
    traj.export("obj", tmp_path, progress=False)
    short = traj.select_frames([0, 1])
    short.export("obj", tmp_path, progress=False)
    assert sorted(p.name for p in (tmp_path / "cube").iterdir()) == [
        "cube_00000.obj",
        "cube_00001.obj",
    ]


def test_an_output_never_replaces_a_directory_of_other_files(tmp_path: Path) -> None:
    """atomic_directory replaces an earlier output of the same kind (an entry of the same
    name), stale files and all, but refuses a non-empty directory that holds none of the new
    output's names (``emu4d ... -o ~/Desktop`` had deleted the desktop): FileExistsError,
    the directory and its files untouched, no temporary left behind. An empty directory is
    simply filled."""
    from mpm.fileio import atomic_directory

    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("keep me")
    refused = pytest.raises(FileExistsError, match="holds none of the files this output writes")
    with refused, atomic_directory(mine) as staging:
        (staging / "trajectory.npz").write_bytes(b"new")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mine"]
    assert sorted(p.name for p in mine.iterdir()) == ["notes.txt"]
    assert (mine / "notes.txt").read_text() == "keep me"
    earlier = tmp_path / "earlier"
    for names in (["trajectory.npz", "stale.json"], ["trajectory.npz"]):
        with atomic_directory(earlier) as staging:
            for name in names:
                (staging / name).write_bytes(b"x")
    assert sorted(p.name for p in earlier.iterdir()) == ["trajectory.npz"]
    empty = tmp_path / "empty"
    empty.mkdir()
    with atomic_directory(empty) as staging:
        (staging / "a.txt").write_text("a")
    assert sorted(p.name for p in empty.iterdir()) == ["a.txt"]


def test_glb_export_needs_a_glb_file_name(traj: Trajectory, tmp_path: Path) -> None:
    """A GLB export is one file: `export("glb", "out/glb")` wrote a file named "glb" with no
    extension (where "obj" makes a folder); it is refused, as USD refuses a name without its
    extension, and nothing is written."""
    with pytest.raises(TrajectoryError, match=r"needs a \.glb file name"):
        traj.export("glb", tmp_path / "glb")
    assert list(tmp_path.iterdir()) == []


def test_failed_glb_export_keeps_the_previous_file(
    traj: Trajectory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = traj.export("glb", tmp_path / "scene.glb")[0]
    before = path.read_bytes()
    fail_on_call(monkeypatch, "_glb_bytes", 1)
    with pytest.raises(OSError, match="simulated"):
        traj.export("glb", path, frame=2)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["scene.glb"], "no temporary file remains"


# ------------------------------------------------------------------------------------ GLB
def parse_glb(path: Path) -> tuple[dict, bytes]:
    """(JSON document, BIN chunk) of a GLB file, checking the container header."""
    data = path.read_bytes()
    magic, version, length = struct.unpack_from("<4sII", data, 0)
    assert (magic, version, length) == (b"glTF", 2, len(data)), "GLB header"
    json_len, json_type = struct.unpack_from("<I4s", data, 12)
    assert json_type == b"JSON" and json_len % 4 == 0
    doc = json.loads(data[20 : 20 + json_len])
    bin_len, bin_type = struct.unpack_from("<I4s", data, 20 + json_len)
    assert bin_type == b"BIN\0" and bin_len % 4 == 0
    start = 28 + json_len
    return doc, data[start : start + bin_len]


def read_accessor(doc: dict, blob: bytes, index: int) -> np.ndarray:
    acc = doc["accessors"][index]
    view = doc["bufferViews"][acc["bufferView"]]
    dtype = {5126: np.float32, 5125: np.uint32}[acc["componentType"]]
    width = {"SCALAR": 1, "VEC3": 3}[acc["type"]]
    arr = np.frombuffer(blob, dtype=dtype, count=acc["count"] * width, offset=view["byteOffset"])
    return arr.reshape(acc["count"], width) if width > 1 else arr


def test_glb_is_an_animated_morph_target_file(traj: Trajectory, tmp_path: Path) -> None:
    path = traj.export("glb", tmp_path / "anim.glb")[0]
    scene = trimesh.load(path)
    assert isinstance(scene, trimesh.Scene) and set(scene.geometry) == {"cube", "grains"}
    assert isinstance(scene.geometry["grains"], trimesh.PointCloud), "POINTS primitive"
    cube_y_up = traj.tracks["cube"].positions[0] @ Z_UP_TO_Y_UP.T
    np.testing.assert_allclose(scene.geometry["cube"].vertices, cube_y_up, rtol=0, atol=1e-6)
    assert len(scene.geometry["cube"].faces) == 12

    doc, blob = parse_glb(path)
    assert doc["asset"]["version"] == "2.0"
    assert doc["asset"]["extras"]["emu4d"]["metadata"] == traj.metadata
    for mesh in doc["meshes"]:
        (prim,) = mesh["primitives"]
        assert len(prim["targets"]) == T, "one morph target per frame"
        assert len(mesh["weights"]) == T
        assert prim["mode"] == (4 if mesh["name"] == "cube" else 0)
    (anim,) = doc["animations"]
    assert len(anim["channels"]) == 2 and {c["target"]["path"] for c in anim["channels"]} == {
        "weights"
    }
    sampler = anim["samplers"][0]
    assert sampler["interpolation"] == "STEP"
    key_times = read_accessor(doc, blob, sampler["input"])
    np.testing.assert_allclose(key_times, traj.times - traj.times[0], rtol=0, atol=1e-7)
    weights = read_accessor(doc, blob, sampler["output"]).reshape(T, T)
    np.testing.assert_array_equal(weights, np.eye(T), "frame k shows target k only")

    # frame k = base + target k, in Y-up coordinates, for both tracks
    for node in doc["nodes"]:
        name = node["name"]
        prim = doc["meshes"][node["mesh"]]["primitives"][0]
        base = read_accessor(doc, blob, prim["attributes"]["POSITION"])
        for k in range(T):
            delta = read_accessor(doc, blob, prim["targets"][k]["POSITION"])
            expected = traj.tracks[name].positions[k] @ Z_UP_TO_Y_UP.T
            np.testing.assert_allclose(base + delta, expected, rtol=0, atol=1e-6)
        acc = doc["accessors"][prim["attributes"]["POSITION"]]
        np.testing.assert_array_equal(acc["min"], base.min(axis=0))
        np.testing.assert_array_equal(acc["max"], base.max(axis=0))
    assert all(v["byteOffset"] % 4 == 0 for v in doc["bufferViews"]), "4-byte alignment"
    assert doc["buffers"][0]["byteLength"] == len(blob)


def test_glb_single_frame_is_static(traj: Trajectory, tmp_path: Path) -> None:
    path = export.export_glb(traj, tmp_path / "frame3.glb", tracks=["cube"], frame=3)[0]
    doc, _ = parse_glb(path)
    assert "animations" not in doc and "targets" not in doc["meshes"][0]["primitives"][0]
    mesh = trimesh.load(path, force="mesh")
    expected = traj.tracks["cube"].positions[3] @ Z_UP_TO_Y_UP.T
    np.testing.assert_allclose(mesh.vertices, expected, rtol=0, atol=1e-6)


# ------------------------------------------------------------------------------ Gaussians
GS_PROPS = [
    "x", "y", "z", "nx", "ny", "nz", "f_dc_0", "f_dc_1", "f_dc_2", "opacity",
    "scale_0", "scale_1", "scale_2", "rot_0", "rot_1", "rot_2", "rot_3",
]  # fmt: skip


def read_gaussians(path: Path) -> np.ndarray:
    """Parse a 3DGS PLY with numpy: returns (N, 17) float32 in GS_PROPS order."""
    data = path.read_bytes()
    end = data.index(b"end_header\n") + len(b"end_header\n")
    header = data[:end].decode("ascii").splitlines()
    assert header[:2] == ["ply", "format binary_little_endian 1.0"]
    count = int(next(h for h in header if h.startswith("element vertex")).split()[-1])
    props = [h.split() for h in header if h.startswith("property")]
    assert [p[2] for p in props] == GS_PROPS and all(p[1] == "float" for p in props)
    assert not any(h.startswith("element face") for h in header)
    body = np.frombuffer(data, dtype="<f4", offset=end)
    assert body.size == count * len(GS_PROPS), "no trailing bytes"
    return body.reshape(count, len(GS_PROPS))


def test_gaussians_ply_parses_back(traj: Trajectory, tmp_path: Path) -> None:
    paths = traj.export("gaussians", tmp_path / "gs", progress=False)
    assert [p.relative_to(tmp_path).as_posix() for p in paths] == [
        f"gs/grains/grains_{k:05d}.ply" for k in range(T)
    ], "default: point tracks only, one file per frame"
    ball_radius = (3 * VOLUME / (4 * math.pi)) ** (1 / 3)
    for k, path in enumerate(paths):
        g = read_gaussians(path)
        assert g.shape == (N_POINTS, 17)
        np.testing.assert_array_equal(g[:, 0:3], traj.tracks["grains"].positions[k])
        np.testing.assert_array_equal(g[:, 3:6], 0.0)
        np.testing.assert_allclose(g[:, 10:13], math.log(ball_radius / math.sqrt(5)), atol=1e-6)
        np.testing.assert_array_equal(g[:, 13:17], np.tile([1, 0, 0, 0], (N_POINTS, 1)))
        np.testing.assert_allclose(1 / (1 + np.exp(-g[:, 9])), 0.9, atol=1e-6)
        rgb = g[:, 6:9] * 0.28209479177387814 + 0.5
        np.testing.assert_allclose(
            rgb, export.track_color(traj, "grains")[None].repeat(N_POINTS, 0), atol=1e-6
        )


def test_gaussians_explicit_radius_and_color(traj: Trajectory, tmp_path: Path) -> None:
    paths = export.export_gaussians_ply(
        traj, tmp_path, tracks=["grains", "cube"], frames=[2], radius=0.01,
        opacity=0.5, colors={"grains": (1.0, 0.0, 0.5)}, progress=False,
    )  # fmt: skip
    assert [p.name for p in paths] == ["grains_00002.ply", "cube_00002.ply"]
    g = read_gaussians(paths[0])
    np.testing.assert_allclose(g[:, 10:13], math.log(0.01), atol=1e-6)
    np.testing.assert_allclose(g[:, 9], 0.0, atol=1e-7, err_msg="logit(0.5) = 0")
    np.testing.assert_allclose(g[0, 6:9] * 0.28209479177387814 + 0.5, [1.0, 0.0, 0.5], atol=1e-6)
    cube = read_gaussians(paths[1])
    np.testing.assert_array_equal(cube[:, 0:3], traj.tracks["cube"].positions[2])
    with pytest.raises(TrajectoryError, match="opacity"):
        export.export_gaussians_ply(traj, tmp_path, opacity=1.0, progress=False)


def test_particle_radii_without_volume_uses_spacing() -> None:
    grid = np.stack(np.meshgrid(*[np.arange(4) * 0.01] * 3, indexing="ij"), -1).reshape(-1, 3)
    radii = export.particle_radii(Track(grid[None]))
    # spacing h = 0.01 m -> V = h^3 -> r = (3/(4 pi))^(1/3) h
    np.testing.assert_allclose(radii, (3 / (4 * math.pi)) ** (1 / 3) * 0.01, rtol=1e-5)


# ------------------------------------------------------------------------------------ USD
HAVE_PXR = importlib.util.find_spec("pxr") is not None


def test_usd_export(traj: Trajectory, tmp_path: Path) -> None:
    """Round trip when usd-core is installed; otherwise the error must say how to install it."""
    if not HAVE_PXR:
        with pytest.raises(ImportError, match=r'pip install "emu4d\[usd\]"'):
            traj.export("usd", tmp_path / "scene.usdc")
        return
    from pxr import Usd, UsdGeom

    path = traj.export("usd", tmp_path / "scene.usdc", progress=False)[0]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["scene.usdc"]
    stage = Usd.Stage.Open(str(path))
    assert UsdGeom.GetStageUpAxis(stage) == UsdGeom.Tokens.z
    assert UsdGeom.GetStageMetersPerUnit(stage) == 1.0
    assert stage.GetTimeCodesPerSecond() == FPS
    assert (stage.GetStartTimeCode(), stage.GetEndTimeCode()) == (0.0, T - 1.0)
    assert json.loads(stage.GetRootLayer().customLayerData["emu4d_metadata"]) == traj.metadata

    mesh = UsdGeom.Mesh(stage.GetPrimAtPath("/World/cube"))
    assert mesh, "mesh track is a UsdGeom.Mesh"
    points_attr = mesh.GetPointsAttr()
    assert points_attr.GetTimeSamples() == [float(k) for k in range(T)]
    for k in range(T):
        got = np.asarray(points_attr.Get(k), dtype=np.float32)
        np.testing.assert_array_equal(got, traj.tracks["cube"].positions[k])
    indices = np.asarray(mesh.GetFaceVertexIndicesAttr().Get()).reshape(-1, 3)
    np.testing.assert_array_equal(indices, traj.tracks["cube"].faces)
    assert list(mesh.GetFaceVertexCountsAttr().Get()) == [3] * 12

    cloud = UsdGeom.Points(stage.GetPrimAtPath("/World/grains"))
    assert cloud, "point track is a UsdGeom.Points"
    for k in range(T):
        got = np.asarray(cloud.GetPointsAttr().Get(k), dtype=np.float32)
        np.testing.assert_array_equal(got, traj.tracks["grains"].positions[k])
        vel = np.asarray(cloud.GetVelocitiesAttr().Get(k), dtype=np.float32)
        np.testing.assert_array_equal(vel, traj.tracks["grains"].velocities[k])
    widths = np.asarray(cloud.GetWidthsAttr().Get())
    ball_radius = (3 * VOLUME / (4 * math.pi)) ** (1 / 3)
    np.testing.assert_allclose(widths, 2 * ball_radius, rtol=1e-6)
    assert cloud.GetWidthsInterpolation() == UsdGeom.Tokens.vertex


def test_usd_missing_dependency_message(
    traj: Trajectory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "pxr", None)  # makes `import pxr` raise ImportError
    with pytest.raises(ImportError, match=r'pip install "emu4d\[usd\]"') as info:
        traj.export("usd", tmp_path / "scene.usd")
    assert isinstance(info.value.__cause__, ImportError), "the original error is chained"
    assert not list(tmp_path.iterdir())


def test_usd_rejects_unknown_extension(traj: Trajectory, tmp_path: Path) -> None:
    with pytest.raises(TrajectoryError, match=r"\.usd, \.usdc or \.usda"):
        traj.export("usd", tmp_path / "scene.abc")


# ----------------------------------------------------------------------------------- npz
def test_npz_export_of_some_tracks(traj: Trajectory, tmp_path: Path) -> None:
    (path,) = traj.export("npz", tmp_path / "t.npz", tracks=["grains"])
    loaded = Trajectory.load(path)
    assert loaded.track_names == ["grains"]
    np.testing.assert_array_equal(
        loaded.tracks["grains"].positions, traj.tracks["grains"].positions
    )
    assert loaded.metadata == traj.metadata


@pytest.mark.parametrize("fmt", ["npz", "ply", "obj", "glb", "gaussians", "usd"])
def test_every_format_dispatches_with_a_uniform_signature(
    traj: Trajectory, tmp_path: Path, fmt: str
) -> None:
    out = tmp_path / {"npz": "t.npz", "glb": "t.glb", "usd": "t.usd"}.get(fmt, "seq")
    if fmt == "usd" and not HAVE_PXR:
        with pytest.raises(ImportError, match="emu4d"):
            traj.export(fmt, out, progress=False)
        return
    paths = traj.export(fmt.upper(), out, progress=False)
    assert paths and all(p.is_file() and p.stat().st_size > 0 for p in paths)
    assert not [p for p in tmp_path.rglob("*") if ".tmp-" in p.name], "no staging leftovers"


def test_export_takes_frame_or_frames_for_every_format(traj: Trajectory, tmp_path: Path) -> None:
    """frame=k works for the per-frame formats as for GLB (a TypeError before), frames=[k]
    for GLB, a frame asked twice is written once, an option a format does not have is named
    with the ones it has, and a per-frame export into a path that is a file says so (a bare
    FileExistsError before)."""
    one = traj.export("ply", tmp_path / "one", frame=2)
    assert [p.name for p in one] == [f"{name}_00002.ply" for name in traj.tracks]
    twice = traj.export("ply", tmp_path / "twice", frames=(1, 1))
    assert len(twice) == len(traj.tracks)
    glb = traj.export("glb", tmp_path / "one.glb", frames=[2])
    assert glb == [tmp_path / "one.glb"]
    with pytest.raises(TrajectoryError, match=r"one frame \(frame=k\)"):
        traj.export("glb", tmp_path / "two.glb", frames=[1, 2])
    with pytest.raises(TrajectoryError, match="npz export takes no 'frame'"):
        traj.export("npz", tmp_path / "t.npz", frame=1)
    a_file = tmp_path / "a_file"
    a_file.write_text("x")
    with pytest.raises(TrajectoryError, match="is a file"):
        traj.export("ply", a_file)
