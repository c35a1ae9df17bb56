"""Scene files on the learned emulator (emu4d.emulation): what the scene says reaches the
emulation (shipped checkpoint)."""

from __future__ import annotations

import numpy as np
import pytest

import mpm
import neurok
from emu4d.emulation import emulate_scene
from emu4d.scene import parse_scene
from mpm.errors import ConfigError

CUBE = {"name": "cube", "material": "jelly",
        "shape": {"type": "box", "size": [0.1, 0.1, 0.1], "center": [0.0, 0.0, 0.5]}}  # fmt: skip


def test_scene_forces_and_impulses_change_the_momentum_they_should() -> None:
    """A jelly cube with no ground (it falls freely) gets a force of 2 N along +y over the
    first 0.1 s and an impulse of 0.3 N s along +x at 0.2 s: at the end its horizontal
    velocity is (J / m, F t / m), m = density x volume, within 2 % (momentum; gravity is
    vertical and nothing else acts sideways)."""
    scene = parse_scene({"run": {"duration": 0.4, "fps": 50}, "objects": [CUBE],
                         "forces": [{"object": "cube", "force": [0.0, 2.0, 0.0], "start": 0.0,
                                     "end": 0.1}],
                         "impulses": [{"object": "cube", "impulse": [0.3, 0.0, 0.0],
                                       "time": 0.2}]})  # fmt: skip
    mass = mpm.materials.from_dict("jelly").density * 0.1**3
    traj = emulate_scene(scene, neurok.load(), progress=False)
    centre = traj.tracks["cube"].positions.astype(np.float64).mean(axis=1)
    velocity = (centre[-1] - centre[-2]) * 50
    np.testing.assert_allclose(velocity[:2], [0.3 / mass, 0.2 / mass], rtol=0.02)


def test_scene_with_two_objects_or_a_tilted_ground_is_refused() -> None:
    """The emulator runs one object on a level ground: two objects, or a ground tilted by
    10 degrees, raise a ConfigError that says so."""
    two = parse_scene({"objects": [CUBE, {**CUBE, "name": "other"}]})
    with pytest.raises(ConfigError, match="one object"):
        emulate_scene(two, neurok.load(), progress=False)
    tilted = parse_scene({"objects": [CUBE], "colliders": [
        {"type": "half_space", "center": [0.0, 0.0, 0.0], "rotation": [10.0, 0.0, 0.0]}]})
    with pytest.raises(ConfigError, match="level, fixed ground"):
        emulate_scene(tilted, neurok.load(), progress=False)


def test_hoi_command_emulates_the_punch_scene(tmp_path) -> None:
    """`emu4d hoi assets/scenes/punch_jelly.toml --emulate` runs the scene with the object
    emulated: exit 0, metrics.json says which engine made it and that the cube took the
    fist's momentum (cosine to the fist's velocity > 0.9; measured 1.00), and the trajectory
    has the body, the object and the pedestal for renders."""
    import json

    from emu4d.cli import main

    out = tmp_path / "punch"
    code = main(["hoi", "assets/scenes/punch_jelly.toml", "-o", str(out), "--emulate",
                 "--no-render", "-q"])  # fmt: skip
    assert code == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["engine"] == "neurok" and metrics["impulse_effector_cosine"] > 0.9
    traj = mpm.Trajectory.load(out / "trajectory.npz")
    assert {"body", "object_surface"} <= set(traj.tracks)
    assert [c["type"] for c in traj.metadata["colliders"]] == ["Box"]
