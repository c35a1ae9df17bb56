"""Tests of mpm.trajectory: validation, the canonical .npz round trip, queries, atomic saving."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import numpy as np
import pytest
import trimesh

from mpm.errors import TrajectoryError, TrajectoryNotFoundError
from mpm.trajectory import FORMAT_VERSION, Track, Trajectory

T = 6
FPS = 30.0


def _rotation_z(angle: float) -> np.ndarray:
    c, s = np.cos(angle), np.sin(angle)
    return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])


def make_trajectory(seed: int = 0) -> Trajectory:
    """A cube mesh rotating about Z plus a random point cloud falling, T frames at 30 fps."""
    rng = np.random.default_rng(seed)
    box = trimesh.creation.box(extents=(0.2, 0.3, 0.4))
    times = np.arange(T) / FPS
    cube = np.stack([box.vertices @ _rotation_z(0.4 * k).T for k in range(T)])
    cube += np.array([0.0, 0.0, 0.5])
    n = 40
    start = rng.uniform(-0.1, 0.1, size=(n, 3)) + np.array([0.5, 0.0, 1.0])
    vel = (
        np.broadcast_to(rng.normal(size=(n, 3)), (T, n, 3))
        + np.array([0.0, 0.0, -9.81]) * times[:, None, None]
    )
    pts = start + np.cumsum(vel, axis=0) / FPS
    tracks = {
        "cube": Track(cube, faces=box.faces, object_name="cube"),
        "sand": Track(
            pts,
            velocities=vel,
            attributes={
                "mass": np.full(n, 2e-3),
                "volume": np.full(n, 1e-6),
                "material_id": np.arange(n, dtype=np.int32) % 3,
            },
            object_name="sand pile",
        ),
    }
    diagnostics = {
        "kinetic_energy": rng.uniform(size=T),
        "linear_momentum": rng.normal(size=(T, 3)),
    }
    metadata = {
        "seed": seed,
        "dt": 1e-4,
        "backend": "warp-cpu",
        "scene": {"objects": [{"name": "cube", "material": "jelly", "E": 1.0e5}], "grid": 64},
        "versions": {"emu4d": "0.1.0"},
        "fps": FPS,
        "none": None,
        "flag": True,
    }
    return Trajectory(times=times, tracks=tracks, diagnostics=diagnostics, metadata=metadata)


def assert_bitwise_equal(a: np.ndarray, b: np.ndarray) -> None:
    """Same dtype, shape and bytes (stricter than ==: distinguishes -0.0 and NaN payloads)."""
    assert a.dtype == b.dtype, f"dtype {a.dtype} != {b.dtype}"
    assert a.shape == b.shape, f"shape {a.shape} != {b.shape}"
    assert a.tobytes() == b.tobytes(), "array bytes differ"


def assert_same_trajectory(a: Trajectory, b: Trajectory) -> None:
    assert_bitwise_equal(a.times, b.times)
    assert list(a.tracks) == list(b.tracks), "track names and order are kept"
    for name, ta in a.tracks.items():
        tb = b.tracks[name]
        assert ta.kind == tb.kind
        assert ta.object_name == tb.object_name
        assert_bitwise_equal(ta.positions, tb.positions)
        for field in ("faces", "velocities"):
            fa, fb = getattr(ta, field), getattr(tb, field)
            assert (fa is None) == (fb is None), f"{name}.{field} presence differs"
            if fa is not None:
                assert_bitwise_equal(fa, fb)
        assert list(ta.attributes) == list(tb.attributes)
        for key in ta.attributes:
            assert_bitwise_equal(ta.attributes[key], tb.attributes[key])
    assert list(a.diagnostics) == list(b.diagnostics)
    for key in a.diagnostics:
        assert_bitwise_equal(a.diagnostics[key], b.diagnostics[key])
    assert a.metadata == b.metadata


# ------------------------------------------------------------------------------ round trip
def test_save_load_round_trip_is_bitwise(tmp_path: Path) -> None:
    traj = make_trajectory()
    path = traj.save(tmp_path / "run" / "trajectory.npz")
    assert path == tmp_path / "run" / "trajectory.npz" and path.is_file()
    loaded = Trajectory.load(path)
    assert_same_trajectory(traj, loaded)
    # exact dtypes of the canonical format
    assert loaded.times.dtype == np.float64
    assert loaded.tracks["cube"].positions.dtype == np.float32
    assert loaded.tracks["cube"].faces.dtype == np.int64
    assert loaded.tracks["sand"].attributes["material_id"].dtype == np.int32
    assert loaded.tracks["cube"].kind == "mesh" and loaded.tracks["sand"].kind == "points"
    assert not list(path.parent.glob(".*tmp*")), "no temporary file is left behind"


def test_file_layout_and_format_version(tmp_path: Path) -> None:
    path = make_trajectory().save(tmp_path / "t.npz")
    with np.load(path, allow_pickle=False) as archive:
        assert str(archive["__format__"]) == FORMAT_VERSION == "emu4d.trajectory/1"
        assert json.loads(str(archive["__metadata__"]))["seed"] == 0
        assert "tracks/cube/faces" in archive.files
        assert "tracks/sand/attributes/volume" in archive.files
    with zipfile.ZipFile(path) as zf:
        assert all(i.compress_type == zipfile.ZIP_DEFLATED for i in zf.infolist()), "compressed"


def test_metadata_numpy_scalars_are_stored_as_numbers(tmp_path: Path) -> None:
    traj = make_trajectory()
    traj.metadata["dt"] = np.float32(0.5)
    traj.metadata["steps"] = np.int64(7)
    loaded = Trajectory.load(traj.save(tmp_path / "t.npz"))
    assert loaded.metadata["dt"] == 0.5 and type(loaded.metadata["dt"]) is float
    assert loaded.metadata["steps"] == 7 and type(loaded.metadata["steps"]) is int


def test_save_failure_keeps_previous_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = make_trajectory(seed=1).save(tmp_path / "t.npz")
    before = path.read_bytes()

    def broken(*args: object, **kwargs: object) -> None:
        raise OSError("disk full (simulated)")

    monkeypatch.setattr(np, "savez_compressed", broken)
    with pytest.raises(OSError, match="disk full"):
        make_trajectory(seed=2).save(path)
    assert path.read_bytes() == before, "the earlier file is untouched"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["t.npz"], "no temporary file remains"


# ------------------------------------------------------------------------------ bad files
def test_load_missing_file_is_file_not_found(tmp_path: Path) -> None:
    with pytest.raises(TrajectoryNotFoundError, match="does not exist") as info:
        Trajectory.load(tmp_path / "nope.npz")
    assert isinstance(info.value, FileNotFoundError) and isinstance(info.value, TrajectoryError)
    with pytest.raises(TrajectoryError, match="already loaded"):  # was a bare TypeError
        Trajectory.load(make_trajectory())


def test_load_random_npz_is_rejected(tmp_path: Path) -> None:
    np.savez(tmp_path / "other.npz", x=np.zeros(3), y=np.ones(2))
    with pytest.raises(TrajectoryError, match=r"not an emu4d trajectory.*__format__"):
        Trajectory.load(tmp_path / "other.npz")


@pytest.mark.parametrize("content", [b"hello, not a zip file", b""])
def test_load_non_npz_is_rejected(tmp_path: Path, content: bytes) -> None:
    (tmp_path / "junk.npz").write_bytes(content)
    with pytest.raises(TrajectoryError, match="not an emu4d trajectory"):
        Trajectory.load(tmp_path / "junk.npz")


def test_load_single_npy_is_rejected(tmp_path: Path) -> None:
    np.save(tmp_path / "a.npy", np.zeros(3))
    with pytest.raises(TrajectoryError, match=r"single \.npy array"):
        Trajectory.load(tmp_path / "a.npy")


def _rewrite(
    src: Path, dst: Path, change: dict[str, np.ndarray], drop: tuple[str, ...] = ()
) -> None:
    with np.load(src, allow_pickle=False) as archive:
        arrays = {k: archive[k] for k in archive.files if k not in drop}
    arrays.update(change)
    np.savez(dst, **arrays)


def test_load_other_format_version_is_rejected(tmp_path: Path) -> None:
    src = make_trajectory().save(tmp_path / "t.npz")
    _rewrite(src, tmp_path / "v2.npz", {"__format__": np.array("emu4d.trajectory/2")})
    with pytest.raises(TrajectoryError, match=r"emu4d\.trajectory/2.*upgrade emu4d"):
        Trajectory.load(tmp_path / "v2.npz")
    _rewrite(src, tmp_path / "x.npz", {"__format__": np.array("something/1")})
    with pytest.raises(TrajectoryError, match="not an emu4d trajectory"):
        Trajectory.load(tmp_path / "x.npz")


def test_load_missing_entry_names_it(tmp_path: Path) -> None:
    src = make_trajectory().save(tmp_path / "t.npz")
    _rewrite(src, tmp_path / "bad.npz", {}, drop=("tracks/sand/velocities",))
    with pytest.raises(TrajectoryError, match="'tracks/sand/velocities' is missing"):
        Trajectory.load(tmp_path / "bad.npz")


# ----------------------------------------------------------------------------- validation
def _cube_track(frames: int = T) -> Track:
    box = trimesh.creation.box()
    return Track(np.broadcast_to(box.vertices, (frames, 8, 3)), faces=box.faces)


def test_mismatched_frame_count_is_rejected() -> None:
    with pytest.raises(TrajectoryError, match="track 'cube' has 5 frames but times has 6"):
        Trajectory(times=np.arange(T) / FPS, tracks={"cube": _cube_track(frames=5)})


def test_faces_out_of_range_are_rejected() -> None:
    box = trimesh.creation.box()
    faces = box.faces.copy()
    faces[3, 1] = 8
    with pytest.raises(TrajectoryError, match=r"\[0, 8\] but the track has N=8.*0\.\.7"):
        Track(np.broadcast_to(box.vertices, (T, 8, 3)), faces=faces)
    faces[3, 1] = -1
    with pytest.raises(TrajectoryError, match="N=8"):
        Track(np.broadcast_to(box.vertices, (T, 8, 3)), faces=faces)
    with pytest.raises(TrajectoryError, match="must be integers"):
        Track(np.broadcast_to(box.vertices, (T, 8, 3)), faces=box.faces.astype(float))


@pytest.mark.parametrize("times", [[0.0, 0.1, 0.1, 0.3, 0.4, 0.5], [0.0, 0.2, 0.1, 0.3, 0.4, 0.5]])
def test_non_increasing_times_are_rejected(times: list[float]) -> None:
    with pytest.raises(TrajectoryError, match=r"strictly increasing; times\[1\]"):
        Trajectory(times=np.array(times), tracks={"cube": _cube_track()})


def test_non_finite_times_and_positions_are_rejected() -> None:
    with pytest.raises(TrajectoryError, match="NaN or inf"):
        Trajectory(times=np.array([0.0, np.nan]), tracks={})
    pos = np.zeros((2, 4, 3))
    pos[1, 2, 0] = np.inf
    with pytest.raises(TrajectoryError, match="non-finite value at frame 1, point 2"):
        Track(pos)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"positions": np.zeros((4, 3))}, r"shape \(T, N, 3\)"),
        ({"positions": np.zeros((2, 4, 2))}, r"shape \(T, N, 3\)"),
        ({"positions": np.zeros((2, 0, 3))}, "empty"),
        ({"positions": np.zeros((2, 4, 3)), "velocities": np.zeros((2, 5, 3))}, "velocities"),
        ({"positions": np.zeros((2, 4, 3)), "attributes": {"mass": np.ones(3)}}, "N=4"),
        ({"positions": np.zeros((2, 4, 3)), "attributes": {"a/b": np.ones(4)}}, "'a/b'"),
        ({"positions": np.zeros((2, 4, 3)), "attributes": {"s": np.array(list("abcd"))}}, "<U1"),
        ({"positions": np.zeros((2, 4, 3)), "faces": np.zeros((0, 3), int)}, "faces=None"),
        ({"positions": np.full((2, 4, 3), "x")}, "real numeric"),
    ],
)
def test_bad_track_inputs_name_the_problem(kwargs: dict, message: str) -> None:
    with pytest.raises(TrajectoryError, match=message):
        Track(**kwargs)


def test_bad_trajectory_inputs_name_the_problem() -> None:
    times = np.arange(T) / FPS
    with pytest.raises(TrajectoryError, match=r"diagnostics\['kinetic_energy'\].*T=6"):
        Trajectory(times, {"cube": _cube_track()}, {"kinetic_energy": np.zeros(T - 1)})
    with pytest.raises(TrajectoryError, match="track name 'a/b' is not allowed"):
        Trajectory(times, {"a/b": _cube_track()})
    with pytest.raises(TrajectoryError, match="must be a Track"):
        Trajectory(times, {"cube": np.zeros((T, 3, 3))})
    with pytest.raises(
        TrajectoryError, match=r"metadata\['scene'\]\['origin'\] is a ndarray.*tolist"
    ):
        Trajectory(times, {}, {}, {"scene": {"origin": np.zeros(3)}})
    with pytest.raises(TrajectoryError, match="JSON keys must be str"):
        Trajectory(times, {}, {}, {"scene": {1: "x"}})


def test_unknown_export_format_suggests_closest(tmp_path: Path) -> None:
    traj = make_trajectory()
    with pytest.raises(TrajectoryError, match=r"'plyy'.*npz, ply, obj, glb, gaussians, usd.*'ply'"):
        traj.export("plyy", tmp_path / "out")
    assert not (tmp_path / "out").exists(), "nothing is written for an unknown format"


# ------------------------------------------------------------------------- values and queries
def test_inputs_are_coerced_without_mutating_the_caller() -> None:
    box = trimesh.creation.box()
    pos = np.broadcast_to(box.vertices, (T, 8, 3)).copy()  # float64
    faces = box.faces.astype(np.int32)
    pos_before, faces_before = pos.copy(), faces.copy()
    track = Track(pos, faces=faces, attributes={"mass": np.ones(8)})
    assert track.positions.dtype == np.float32 and track.faces.dtype == np.int64
    assert track.attributes["mass"].dtype == np.float32, "float attributes are stored as float32"
    assert track.num_frames == T and track.num_points == 8 and track.num_faces == 12
    assert pos.dtype == np.float64 and np.array_equal(pos, pos_before)
    assert faces.dtype == np.int32 and np.array_equal(faces, faces_before)
    with pytest.raises(AttributeError):
        track.faces = None  # type: ignore[misc]  # frozen


def test_fps_and_frame_index() -> None:
    traj = make_trajectory()
    assert traj.num_frames == T
    assert traj.fps == 30.0, "1/(1/30) is reported as exactly 30.0"
    assert traj.is_uniform
    assert traj.duration == pytest.approx((T - 1) / FPS, rel=1e-12)
    assert traj.frame_index(0.0) == 0
    assert traj.frame_index(2.4 / FPS) == 2, "nearest frame below"
    assert traj.frame_index(2.6 / FPS) == 3, "nearest frame above"
    assert traj.frame_index((T - 1) / FPS + 0.4 / FPS) == T - 1, "within half a frame of the end"
    with pytest.raises(TrajectoryError, match="outside the trajectory"):
        traj.frame_index(1.0)
    single = Trajectory(np.array([0.0]), {}, {}, {})
    with pytest.raises(TrajectoryError, match="single-frame"):
        _ = single.fps


def test_subset_and_select_frames() -> None:
    traj = make_trajectory()
    sub = traj.subset(["sand"])
    assert sub.track_names == ["sand"] and list(sub.diagnostics) == list(traj.diagnostics)
    assert sub.metadata == traj.metadata and sub.metadata is not traj.metadata
    with pytest.raises(TrajectoryError, match=r"no track named 'cub'.*Did you mean 'cube'"):
        traj.subset(["cub"])
    part = traj.select_frames([1, 3, 5])
    assert part.num_frames == 3
    np.testing.assert_array_equal(part.times, traj.times[[1, 3, 5]])
    np.testing.assert_array_equal(
        part.tracks["sand"].velocities, traj.tracks["sand"].velocities[[1, 3, 5]]
    )
    np.testing.assert_array_equal(
        part.diagnostics["linear_momentum"], traj.diagnostics["linear_momentum"][[1, 3, 5]]
    )
    assert part.tracks["cube"].faces is traj.tracks["cube"].faces, "static data is shared"
    with pytest.raises(TrajectoryError, match="frame indices"):
        traj.select_frames([0, T])


def test_repr_is_short() -> None:
    text = repr(make_trajectory())
    assert "Trajectory(T=6" in text and "kind='mesh'" in text and len(text) < 600


def test_save_revalidates_edited_fields(tmp_path: Path) -> None:
    traj = make_trajectory()
    traj.tracks["late"] = _cube_track(frames=T - 2)  # dicts stay editable after construction
    with pytest.raises(TrajectoryError, match="track 'late' has 4 frames"):
        traj.save(tmp_path / "t.npz")
    assert not list(tmp_path.iterdir()), "nothing is written for an invalid trajectory"


def test_a_missing_track_is_named_with_the_closest_one() -> None:
    """traj.tracks["cbe"] raises a KeyError that suggests the closest track and lists them
    (a plain dict's KeyError said only 'cbe')."""
    traj = make_trajectory()
    name = next(iter(traj.tracks))
    with pytest.raises(KeyError, match=f"Did you mean {name!r}"):
        traj.tracks[name[:-1]]
    assert traj.tracks[name] is traj.tracks.get(name)


def test_an_unreadable_file_is_refused_without_advising_unsafe_loading(tmp_path: Path) -> None:
    """A pickled object array is not a trajectory; the error says so and does not repeat
    NumPy's advice to load it with allow_pickle (unsafe for a file of unknown origin)."""
    scene = tmp_path / "scene.toml"  # `emu4d render scene.toml`: NumPy tries to unpickle it
    scene.write_text('[run]\nduration = 1.0\n')
    with pytest.raises(TrajectoryError, match="not an emu4d trajectory") as error:
        Trajectory.load(scene)
    assert "pickle" not in str(error.value)
    saved, path = tmp_path / "saved.npz", tmp_path / "objects.npz"
    make_trajectory().save(saved)
    with zipfile.ZipFile(saved) as source, zipfile.ZipFile(path, "w") as archive:
        for name in source.namelist():  # the same file with one entry an object array
            if name != "times.npy":
                archive.writestr(name, source.read(name))
        with archive.open("times.npy", "w") as entry:
            np.save(entry, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(TrajectoryError, match="cannot read entry 'times'") as error:
        Trajectory.load(path)
    assert "pickle" not in str(error.value)
