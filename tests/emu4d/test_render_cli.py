"""`emu4d render` and `emu4d sim --render`: files written, readable, atomic, bad input."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import mpm
import video_bridge as vb
from emu4d.cli import main


@pytest.fixture(scope="module")
def trajectory_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    sim = mpm.Simulator(domain_min=(-0.3, -0.3, -0.1), domain_max=(0.3, 0.3, 0.5), dx=0.03)
    sim.add_object(
        "cube", mpm.Box(size=(0.12, 0.12, 0.12), center=(0, 0, 0.2)), mpm.materials.preset("jelly")
    )
    sim.add_collider(mpm.colliders.Ground(height=0.0))
    traj = sim.run(duration=0.3, fps=20, progress=False)
    return traj.save(tmp_path_factory.mktemp("traj") / "trajectory.npz")


def test_render_writes_videos_arrays_and_sheet(trajectory_file: Path, tmp_path: Path) -> None:
    """Each pass becomes an MP4 with one frame per trajectory frame at the requested size;
    render.npz holds the raw passes and the per-frame camera matrices."""
    out = tmp_path / "render"
    code = main([
        "render", str(trajectory_file), "-o", str(out), "--size", "96x64", "-q",
        "--passes", "rgb,depth,mask,normals,flow", "--camera", "static",
    ])  # fmt: skip
    assert code == 0
    frames = mpm.Trajectory.load(trajectory_file).num_frames
    for name in ("rgb", "depth", "mask", "normals", "flow"):
        info = vb.video_info(out / f"{name}.mp4")
        assert (info["frames"], info["width"], info["height"]) == (frames, 96, 64)
    assert vb.video_info(out / "panel.mp4")["width"] == 5 * 96
    arrays = np.load(out / "render.npz")
    assert arrays["depth"].shape == (frames, 64, 96)
    assert arrays["extrinsics"].shape == (frames, 4, 4)
    assert arrays["intrinsics"].shape == (frames, 3, 3)
    labels = json.loads((out / "labels.json").read_text())
    assert labels["2"] == "cube_surface"
    assert (out / "contact_sheet.png").stat().st_size > 0
    assert (out / "diagnostics.png").stat().st_size > 0


def test_unknown_pass_is_rejected_and_keeps_old_output(
    trajectory_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "render"
    assert main(["render", str(trajectory_file), "-o", str(out), "--size", "64x64", "-q"]) == 0
    before = sorted(p.name for p in out.iterdir())
    code = main(["render", str(trajectory_file), "-o", str(out), "--passes", "rgb,albedo", "-q"])
    assert code == 2  # bad input
    assert "unknown render pass" in capsys.readouterr().err
    assert sorted(p.name for p in out.iterdir()) == before


def test_missing_trajectory_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["render", str(tmp_path / "nope.npz"), "-o", str(tmp_path / "o"), "-q"])
    assert code == 2
    assert "nope.npz" in capsys.readouterr().err


def test_sim_render_writes_mp4(tmp_path: Path) -> None:
    """`emu4d sim --render` ends with an MP4 that decodes to the trajectory's frame count."""
    scene = tmp_path / "scene.toml"
    scene.write_text(
        """
[simulator]
domain_min = [-0.3, -0.3, -0.1]
domain_max = [0.3, 0.3, 0.5]
dx = 0.03

[run]
duration = 0.2
fps = 20

[[objects]]
name = "cube"
shape = { type = "box", size = [0.12, 0.12, 0.12], center = [0.0, 0.0, 0.2] }
material = "jelly"

[[colliders]]
type = "ground"

[export]
formats = ["npz"]
"""
    )
    out = tmp_path / "out"
    assert main(["sim", str(scene), "-o", str(out), "--render", "--size", "64x48", "-q"]) == 0
    info = vb.video_info(out / "render" / "rgb.mp4")
    assert (info["frames"], info["width"], info["height"]) == (5, 64, 48)
    assert vb.read_video(out / "render" / "rgb.mp4").std() > 5  # not blank
