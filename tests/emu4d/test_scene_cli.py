"""Scene files and the ``emu4d sim`` command: strict schema, outputs, reproducibility, atomicity.

The shipped scenes are only parsed and built (particles sampled), never run. The command-line
runs use a 0.2 s scene of a 512-particle jelly cube on a 20 x 20 x 17-cell grid (about a second
each).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest

import mpm
from assets import ASSETS_DIR
from emu4d import load_scene, simulate_scene
from emu4d.cli import main
from emu4d.scene import parse_scene
from mpm.errors import ConfigError, TrajectoryError

ALL_SCENES = sorted((ASSETS_DIR / "scenes").glob("*.toml"))
# human-object scenes ([hoi] table) have their own schema and command (`emu4d hoi`)
HOI_SCENES = [p for p in ALL_SCENES if p.read_text().lstrip().count("[hoi]")]
SHIPPED_SCENES = [p for p in ALL_SCENES if p not in HOI_SCENES]

SMALL_SCENE = """\
# a jelly cube sliding on the ground: small enough for a test
[simulator]
domain_min = [-0.2, -0.2, -0.04]
domain_max = [0.2, 0.2, 0.3]
dx = 0.02
seed = 7

[run]
duration = 0.2
fps = 30

[[objects]]
name = "jelly"
shape = { type = "box", size = [0.08, 0.08, 0.08], center = [0.0, 0.0, 0.1] }
material = "jelly"
velocity = [0.1, 0.0, 0.0]

[[colliders]]
type = "ground"
height = 0.0
friction = 0.5
mode = "slip"

[export]
formats = ["npz", "obj", "ply"]
"""


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def _edited(old: str, new: str) -> str:
    """SMALL_SCENE with one exact, unique substring replaced."""
    assert SMALL_SCENE.count(old) == 1, old
    return SMALL_SCENE.replace(old, new)


def _snapshot(directory: Path) -> dict[str, tuple[str, int]]:
    """Every file below ``directory``: relative path -> (sha256, mtime in ns)."""
    return {
        str(p.relative_to(directory)): (
            hashlib.sha256(p.read_bytes()).hexdigest(),
            p.stat().st_mtime_ns,
        )
        for p in sorted(directory.rglob("*"))
        if p.is_file()
    }


# --------------------------------------------------------------------------- shipped scenes
def test_the_documented_scenes_are_shipped() -> None:
    """README lists jelly_drop, sand_pile, water_dam_break and plasticine_strike."""
    names = {p.stem for p in SHIPPED_SCENES}
    assert {"jelly_drop", "sand_pile", "water_dam_break", "plasticine_strike"} <= names


@pytest.mark.parametrize("path", HOI_SCENES, ids=lambda p: p.stem)
def test_shipped_hoi_scene_parses(
    path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every human-object scene loads with its schema from any working directory."""
    from emu4d.hoi_scene import load_hoi_scene

    monkeypatch.chdir(tmp_path)
    config = load_hoi_scene(path)
    assert config["hoi"]["action"] in ("punch", "kick", "push", "slap")


def test_hoi_scene_typo_names_closest_key(tmp_path: Path) -> None:
    from emu4d.hoi_scene import load_hoi_scene

    bad = tmp_path / "bad.toml"
    bad.write_text(
        '[hoi]\naction = "punch"\ncontact_tme = 0.8\n[object]\n'
        'shape = { type = "box", size = [0.2, 0.2, 0.2], center = [0, 0, 1.3] }\n'
        'material = "jelly"\n'
    )
    with pytest.raises(ConfigError, match="Did you mean 'contact_time'"):
        load_hoi_scene(bad)
    with pytest.raises(ConfigError) as error:
        load_hoi_scene(bad)
    valid = str(error.value).split("Valid keys")[1]
    assert "'body'" not in valid and "'shape'" not in valid, valid  # not settable in [hoi]
    bad.write_text(bad.read_text().replace("contact_tme = 0.8", 'body = "smpl"'))
    with pytest.raises(ConfigError, match="cannot be set in a scene file"):
        load_hoi_scene(bad)
    bad.write_text(bad.read_text().replace('body = "smpl"', 'attraction = "false"'))
    with pytest.raises(ConfigError, match="attraction must be true or false"):
        load_hoi_scene(bad)


@pytest.mark.parametrize("path", SHIPPED_SCENES, ids=lambda p: p.stem)
def test_shipped_scene_parses_and_builds(
    path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every scene in assets/scenes/ loads and builds from any working directory (here an empty
    temporary one): each [[objects]] entry becomes a simulator object with particles inside the
    domain, each [[colliders]] entry a collider, [run] a positive duration and frame rate.
    Nothing is simulated."""
    monkeypatch.chdir(tmp_path)
    scene = load_scene(path)
    sim, run = scene.build()
    assert list(sim.objects) == [o.name for o in scene.objects]
    lo, hi = sim.interior_bounds()
    for obj in sim.objects.values():
        x = obj.sample.positions
        assert len(x) > 100
        assert np.all(x >= lo) and np.all(x <= hi)
    assert len(sim.colliders) + len(sim.mesh_colliders) == len(scene.colliders)
    assert run.duration > 0 and run.fps > 0
    assert sim.stable_dt() > 0
    json.dumps(scene.to_dict())  # the scene is storable in trajectory metadata


# --------------------------------------------------------------------------- strict schema
TYPOS: dict[str, tuple[str, str, str]] = {
    # case: (exact text in SMALL_SCENE, replacement, the valid key the message must suggest)
    "top-level table": ("[simulator]", "[simulater]", "simulator"),
    "run key": ("duration = 0.2", "duraton = 0.2", "duration"),
    "object key": ("velocity = [0.1", "velocty = [0.1", "velocity"),
    "simulator key dx_": ("dx = 0.02", "dx_ = 0.02", "dx"),
    "simulator key domian_min": ("domain_min", "domian_min", "domain_min"),
    "shape key": ("center = [0.0, 0.0, 0.1]", "centre = [0.0, 0.0, 0.1]", "center"),
    "shape type": ('type = "box"', 'type = "bxo"', "box"),
    "material preset": ('material = "jelly"', 'material = "jely"', "jelly"),
    "ground key": ("friction = 0.5", "frictoin = 0.5", "friction"),
    "collider key": (
        "[export]",
        '[[colliders]]\ntype = "sphere"\nraduis = 0.05\ncenter = [0.0, 0.1, 0.2]\n\n[export]',
        "radius",
    ),
    "collider type": ('type = "ground"', 'type = "grond"', "ground"),
    "export format": ('"obj", "ply"', '"objj", "ply"', "obj"),
    "export key": ("formats =", "format =", "formats"),
}


@pytest.mark.parametrize("case", list(TYPOS))
def test_unknown_key_names_closest_valid_key(case: str, tmp_path: Path) -> None:
    """A misspelt key anywhere in a scene file is rejected with ConfigError before anything is
    simulated; the message names the bad key and suggests the closest valid one ("Did you mean
    '<key>'?"; the list of valid keys alone does not count)."""
    old, new, suggestion = TYPOS[case]
    path = _write(tmp_path / "typo.toml", _edited(old, new))
    with pytest.raises(ConfigError) as info:
        load_scene(path).build()
    message = str(info.value)
    assert f"Did you mean {suggestion!r}" in message, message


WRONG_TYPES = {
    # case: (text in SMALL_SCENE, replacement, what the message must say)
    "quoted number": ("duration = 0.2", 'duration = "0.2"', "duration must be a number"),
    "quoted seed": ("seed = 7", 'seed = "7"', "seed must be a whole number"),
    "word for a number": ("friction = 0.5", 'friction = "high"', "friction must be a number"),
    "text for a list": ('formats = ["npz", "obj", "ply"]', 'formats = "ply"', "list of texts"),
    "short vector": ("velocity = [0.1, 0.0, 0.0]", "velocity = [0.1, 0.0]", "list of 3"),
    "number for a material": ('material = "jelly"', "material = 5", "preset name"),
    "missing material": ('material = "jelly"\n', "", "needs 'material'"),
    "one table for a list": ("[[objects]]", "[objects]", r"write \[\[objects\]\]"),
    "negative seed": ("seed = 7", "seed = -1", "seed must be a whole number >= 0"),
    "zero duration": ("duration = 0.2", "duration = 0", "duration must be positive"),
    "keyframe typo": (
        '[[colliders]]\ntype = "ground"',
        '[[colliders]]\ntype = "sphere"\nradius = 0.02\n'
        "keyframes = [{ time = 0.0, positon = [0.0, 0.0, 0.25] }]\n\n"
        '[[colliders]]\ntype = "ground"',
        "Did you mean 'position'",
    ),
}


@pytest.mark.parametrize("case", list(WRONG_TYPES))
def test_a_value_of_the_wrong_kind_is_refused_naming_its_key(case: str, tmp_path: Path) -> None:
    """A value of the wrong kind (a quoted number, a text where a list or a table belongs, a
    vector of the wrong length, a missing required key, a misspelt keyframe key) is refused
    with ConfigError naming the key, when the scene is read and built, before anything runs.
    Before, these failed deep inside with a bare TypeError or ValueError, were split into
    characters ("unknown export format 'p'") or were taken silently ("0.04" as a number)."""
    old, new, message = WRONG_TYPES[case]
    assert old in SMALL_SCENE, old
    path = _write(tmp_path / "wrong.toml", _edited(old, new))
    with pytest.raises(ConfigError, match=message):
        load_scene(path).build()


def test_a_file_that_is_not_text_is_refused_as_a_scene(tmp_path: Path) -> None:
    """Passing a binary file (a trajectory.npz) as the scene gives a ConfigError saying a
    scene is a TOML text file, not a UnicodeDecodeError."""
    path = tmp_path / "trajectory.npz"
    path.write_bytes(b"PK\x03\x04\xff\xfe\x00binary")
    with pytest.raises(ConfigError, match="not a text file"):
        load_scene(path)


def test_an_object_inside_the_ground_is_refused_and_an_overlap_is_reported(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """An object that starts 2 cm into the ground (the domain reaching below it) was
    simulated half-buried and frozen; it is now refused (DomainError, exit status 2) with the
    depth and the collider named, before the run. An object resting on the ground is taken
    (the small scene's cube, 6 cm up, runs elsewhere in this file). Two objects that overlap
    (MPM fuses them) are reported with a warning; two that only touch are not."""
    buried = _edited("domain_min = [-0.2, -0.2, -0.04]", "domain_min = [-0.2, -0.2, -0.2]")
    buried = buried.replace("center = [0.0, 0.0, 0.1]", "center = [0.0, 0.0, 0.02]")
    path = _write(tmp_path / "buried.toml", buried)
    sim, _ = load_scene(path).build()
    with pytest.raises(mpm.errors.DomainError, match=r"starts 0\.0\d+ m inside collider 0"):
        sim.initialize()
    assert main(["sim", str(path), "-o", str(tmp_path / "out"), "-q"]) == 2
    assert not (tmp_path / "out").exists()

    def cubes(second_x: float) -> mpm.Simulator:
        sim = mpm.Simulator(domain_min=(-0.3, -0.3, 0.0), domain_max=(0.3, 0.3, 0.4), dx=0.02)
        for name, x in (("a", 0.0), ("b", second_x)):
            sim.add_object(name, mpm.Box(size=(0.1, 0.1, 0.1), center=(x, 0.0, 0.2)),
                           mpm.materials.preset("jelly"))  # fmt: skip
        return sim

    with caplog.at_level("WARNING", logger="emu4d.mpm"):
        cubes(0.1)._check_placement()  # touching faces
        assert "overlap" not in caplog.text
        cubes(0.05)._check_placement()  # half of b inside a
        assert "objects 'a' and 'b' overlap: 50% of 'b'" in caplog.text, caplog.text


def test_object_names_that_would_clash_as_tracks_or_files_are_refused() -> None:
    """An object records the tracks <name> and <name>_surface, and exports use the names as
    file and folder names: "cube" next to "cube_surface" (one track silently replaced the
    other) and names with a '/' are refused by add_object with a ConfigError."""
    jelly = mpm.materials.preset("jelly")
    for first, second in (("cube", "cube_surface"), ("cube_surface", "cube")):
        sim = mpm.Simulator(domain_min=(-0.3, -0.3, 0.0), domain_max=(0.3, 0.3, 0.4), dx=0.02)
        sim.add_object(first, mpm.Box(size=(0.1, 0.1, 0.1), center=(-0.1, 0.0, 0.2)), jelly)
        with pytest.raises(ConfigError, match="clash with the tracks"):
            sim.add_object(second, mpm.Box(size=(0.1, 0.1, 0.1), center=(0.1, 0.0, 0.2)), jelly)
    with pytest.raises(ConfigError, match="not allowed"):
        sim.add_object("a/b", mpm.Box(size=(0.1, 0.1, 0.1), center=(0.1, 0.0, 0.2)), jelly)
    with pytest.raises(ConfigError, match="shape must be an mpm shape"):
        sim.add_object("c", "box", jelly)


@pytest.mark.parametrize(
    "options",
    [["--passes", "rgb,dept"], ["--passes="], ["--size", "8x8"], ["--size", "9000x512"]],
    ids=["misspelt pass", "no pass", "tiny size", "huge size"],
)
def test_bad_render_options_are_refused_before_the_simulation(
    options: list[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """`emu4d sim --render` with a misspelt or empty pass list, or an image size outside
    16..8192 px, exits with status 2 and says why before the simulation starts (it used to
    run the whole simulation first; `emu4d hoi` renders by default, so a typo there cost
    the full run)."""
    import emu4d.scene

    monkeypatch.setattr(emu4d.scene.Scene, "build", _refuse_work)
    path = _write(tmp_path / "scene.toml", SMALL_SCENE)
    out = tmp_path / "out"
    assert main(["sim", str(path), "-o", str(out), "-q", "--render", *options]) == 2
    err = capsys.readouterr().err
    assert "render pass" in err or "image size" in err, err
    assert not out.exists()


def test_cli_reports_typo_with_suggestion(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`emu4d sim` on a scene with a misspelt key exits with status 2 (bad input), names the
    closest valid key on stderr and writes no output directory."""
    path = _write(tmp_path / "typo.toml", _edited("dx = 0.02", "dx_ = 0.02"))
    out = tmp_path / "out"
    assert main(["sim", str(path), "-o", str(out), "-q"]) == 2
    err = capsys.readouterr().err
    assert "'dx_'" in err and "Did you mean 'dx'" in err, err
    assert not out.exists()


# --------------------------------------------------------------------------- emu4d sim
def test_cli_sim_writes_outputs_and_is_reproducible(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`emu4d sim SCENE -o OUT -q` returns 0 and writes trajectory.npz, metrics.json and one
    directory per sequence format (obj/, ply/) holding a file per frame (0.2 s at 30 fps = 7
    frames). Trajectory.load reads it back with the scene and the seed in its metadata. A second
    run with the same seed gives bitwise identical positions, and so does a run rebuilt from the
    stored metadata alone; a different seed gives different (jittered) particles, so the
    comparison is not vacuous."""
    scene_path = _write(tmp_path / "small.toml", SMALL_SCENE)
    out = tmp_path / "run1"
    assert main(["sim", str(scene_path), "-o", str(out), "-q"]) == 0
    assert "wrote" in capsys.readouterr().out

    assert (out / "trajectory.npz").is_file()
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["frames"] == 7 and metrics["particles"] == 512
    for fmt in ("obj", "ply"):
        files = sorted((out / fmt).rglob(f"*.{fmt}"))
        assert files, fmt
        per_track = {p.parent.name for p in files}
        assert all(len(list((out / fmt / t).glob(f"*.{fmt}"))) == 7 for t in per_track)
    assert (out / "obj" / "jelly_surface").is_dir()  # the box surface as a mesh sequence
    assert not list(tmp_path.glob("run1.*"))  # no temporary or old directory left behind

    traj = mpm.Trajectory.load(out / "trajectory.npz")
    assert traj.num_frames == 7
    assert traj.metadata["seed"] == 7
    assert traj.metadata["scene"]["simulator"]["seed"] == 7
    assert traj.metadata["scene"]["objects"][0]["name"] == "jelly"
    assert traj.metadata["scene"]["run"] == {"duration": 0.2, "fps": 30}
    positions = traj.tracks["jelly"].positions
    assert positions.shape == (7, 512, 3)
    assert np.ptp(positions[:, :, 0].mean(axis=1)) > 0.01  # it did slide

    out2 = tmp_path / "run2"
    assert main(["sim", str(scene_path), "-o", str(out2), "-q"]) == 0
    again = mpm.Trajectory.load(out2 / "trajectory.npz")
    for name, track in traj.tracks.items():
        assert np.array_equal(track.positions, again.tracks[name].positions), name

    rebuilt = simulate_scene(parse_scene(traj.metadata["scene"]), progress=False).trajectory
    assert np.array_equal(rebuilt.tracks["jelly"].positions, positions)

    def initial_particles(seed: int) -> np.ndarray:
        stored = traj.metadata["scene"]
        scene = parse_scene({**stored, "simulator": {**stored["simulator"], "seed": seed}})
        sim, _ = scene.build()
        return sim.objects["jelly"].sample.positions.astype(np.float32)

    assert np.array_equal(initial_particles(7), positions[0])
    assert not np.array_equal(initial_particles(8), positions[0])


def test_failed_run_keeps_previous_output(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A scene whose object lies partly outside the domain (below the ground wall) makes
    `emu4d sim` exit with status 2, print a message naming the object and the domain on stderr,
    and leave the output directory of an earlier successful run byte-for-byte untouched (same
    files, contents and modification times; no temporary directory left)."""
    good = _write(tmp_path / "good.toml", SMALL_SCENE)
    out = tmp_path / "out"
    assert main(["sim", str(good), "-o", str(out), "-q"]) == 0
    before = _snapshot(out)
    entries = sorted(p.name for p in tmp_path.iterdir())
    capsys.readouterr()

    bad = _write(
        tmp_path / "bad.toml",
        _edited("center = [0.0, 0.0, 0.1]", "center = [0.0, 0.0, 0.02]"),
    )
    assert main(["sim", str(bad), "-o", str(out), "-q"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("emu4d: error:")
    assert "'jelly'" in err and "domain" in err, err
    assert _snapshot(out) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([*entries, "bad.toml"])


def test_failure_while_writing_keeps_previous_output(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """If an exporter fails after writing part of its files (after trajectory.npz and obj/ were
    already staged), `emu4d sim` exits with a non-zero status and reports the error on stderr,
    and the previous output directory is untouched: no partial ply/ directory, no new
    trajectory.npz, no temporary directory left. (The status is 2 today because TrajectoryError
    is a ValueError; only atomicity is asserted here.)"""
    good = _write(tmp_path / "good.toml", SMALL_SCENE)
    out = tmp_path / "out"
    assert main(["sim", str(good), "-o", str(out), "-q"]) == 0
    before = _snapshot(out)
    entries = sorted(p.name for p in tmp_path.iterdir())
    capsys.readouterr()

    def broken_ply(traj: mpm.Trajectory, out_dir: Path, **kwargs: object) -> list[Path]:
        target = Path(out_dir) / "jelly"
        target.mkdir(parents=True)
        (target / "jelly_00000.ply").write_bytes(b"partial")
        raise TrajectoryError("disk full (simulated)")

    monkeypatch.setitem(mpm.export.EXPORTERS, "ply", broken_ply)
    changed = _write(tmp_path / "changed.toml", _edited("seed = 7", "seed = 9"))
    assert main(["sim", str(changed), "-o", str(out), "-q"]) != 0
    assert "disk full (simulated)" in capsys.readouterr().err
    assert _snapshot(out) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([*entries, "changed.toml"])


def test_simulation_failure_exits_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A run that fails while stepping (an object thrown at 20 m/s with no walls leaves the grid
    within the first frame) exits with status 1, names the object on stderr and writes nothing."""
    text = _edited("dx = 0.02", 'dx = 0.02\nboundary = "none"')
    text = text.replace("velocity = [0.1, 0.0, 0.0]", "velocity = [20.0, 0.0, 0.0]")
    path = _write(tmp_path / "throw.toml", text)
    out = tmp_path / "out"
    assert main(["sim", str(path), "-o", str(out), "-q"]) == 1
    err = capsys.readouterr().err
    assert "'jelly'" in err and "left the simulation grid" in err, err
    assert not out.exists()


def test_missing_scene_file_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`emu4d sim` on a file that does not exist exits with status 2 and says which file was
    not found; no output directory is created."""
    missing = tmp_path / "no_such_scene.toml"
    out = tmp_path / "out"
    assert main(["sim", str(missing), "-o", str(out), "-q"]) == 2
    err = capsys.readouterr().err
    assert "no_such_scene.toml" in err and "not found" in err, err
    assert not out.exists()


class _WorkStartedError(Exception):
    """Raised by a stand-in for a command's first piece of real work."""


def _refuse_work(*args: object, **kwargs: object) -> None:
    raise _WorkStartedError("the command started its work")


@pytest.mark.parametrize(
    ("command", "work"),
    [
        (["sim", str(ASSETS_DIR / "scenes" / "jelly_drop.toml")], ("emu4d.scene", "Scene.build")),
        (["hoi", str(ASSETS_DIR / "scenes" / "punch_jelly.toml")], ("emu4d.scene", "build_shape")),
        (["render", "trajectory.npz"], ("mpm.trajectory", "Trajectory.load")),
        (
            ["neurok", "simulate", "--mesh", str(ASSETS_DIR / "meshes" / "bunny.obj")],
            ("neurok.checkpoint", "load"),
        ),
        (
            ["neurok", "scene", str(ASSETS_DIR / "scenes" / "plasticine_strike.toml")],
            ("emu4d.emulation", "emulate_scene"),
        ),
    ],
    ids=["sim", "hoi", "render", "neurok-simulate", "neurok-scene"],
)
def test_a_directory_of_other_files_is_refused_before_the_run(
    command: list[str],
    work: tuple[str, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """`-o` naming a directory that holds none of the command's output files (a folder of the
    user's notes) is refused with exit status 2 and a message saying why, before the
    simulation, emulation or render starts (its first step is replaced by one that fails the
    test), and the folder is left as it was, with nothing written beside it. A file at the
    output path is refused the same way."""
    import importlib

    module_name, attribute = work
    target = importlib.import_module(module_name)
    owner_name, _, name = attribute.rpartition(".")
    monkeypatch.setattr(getattr(target, owner_name) if owner_name else target, name, _refuse_work)
    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "todo.txt").write_text("keep me")
    assert main([*command, "-o", str(notes), "-q"]) == 2
    assert "holds none of the files this output writes" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes"]
    assert [p.name for p in notes.iterdir()] == ["todo.txt"]
    assert (notes / "todo.txt").read_text() == "keep me"
    a_file = tmp_path / "a_file"
    a_file.write_text("not a directory")
    assert main([*command, "-o", str(a_file), "-q"]) == 2
    assert "a file with that name exists" in capsys.readouterr().err
    assert a_file.read_text() == "not a directory"


def test_a_missing_mesh_names_every_place_looked_at_once(tmp_path: Path) -> None:
    """A scene's mesh path that exists nowhere is refused with MeshFileError listing each
    place tried once (the working directory and the repository root were listed twice when
    they coincide) and the scene's own folder, where relative paths are looked for first."""
    from mpm.errors import MeshFileError

    scene = _edited(
        'shape = { type = "box", size = [0.08, 0.08, 0.08], center = [0.0, 0.0, 0.1] }',
        'shape = { type = "mesh", path = "meshes/nope.obj", scale = 0.08, '
        "center = [0.0, 0.0, 0.1] }",
    )
    path = _write(tmp_path / "scene.toml", scene)
    with pytest.raises(MeshFileError) as error:
        load_scene(path).build()
    message = str(error.value)
    assert str(tmp_path / "meshes" / "nope.obj") in message, message
    looked = message.split("looked for ")[1].split(")")[0].split(" and ")
    assert len(looked) == len(set(looked)), looked


def test_the_log_names_where_outputs_landed_not_their_temporary_folders(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Outputs are staged in OUT.tmp-xxxxxxxx and moved into place at the end, so paths inside
    the staging folder do not exist after the run: `-v` logged them (the exports' folders,
    the videos). At INFO level the log now names OUT only."""
    path = _write(tmp_path / "scene.toml", SMALL_SCENE)
    out = tmp_path / "out"
    with caplog.at_level("INFO"):
        simulate_scene(load_scene(path), out, progress=False)
    infos = [r.getMessage() for r in caplog.records if r.levelname == "INFO"]
    assert any(str(out) in m for m in infos), infos
    assert not any(".tmp-" in m for m in infos), infos
