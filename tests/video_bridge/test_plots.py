"""Tests of video_bridge.plots: a diagnostics PNG from a small hand-made trajectory."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from mpm.errors import TrajectoryError
from mpm.trajectory import Track, Trajectory
from video_bridge.plots import diagnostics_figure, plot_diagnostics

T = 8


def falling_trajectory(with_diagnostics: bool = True) -> Trajectory:
    """Two free-falling point sets with the diagnostics keys ``mpm.Simulator.run`` records."""
    times = np.arange(T) / 30.0
    z = 0.5 - 0.5 * 9.81 * times**2
    points = np.zeros((T, 4, 3), np.float32)
    points[:, :, 2] = z[:, None] + np.linspace(0, 0.1, 4)
    mass = np.full(4, 0.25, np.float32)
    tracks = {
        "cube": Track(positions=points, attributes={"mass": mass}, object_name="cube"),
        "ball": Track(positions=points + 0.2, object_name="ball"),
    }
    vz = -9.81 * times
    diagnostics = {}
    if with_diagnostics:
        diagnostics = {
            "kinetic_energy": 0.5 * 2.0 * vz**2,
            "gravity_potential_energy": 2.0 * 9.81 * z,
            "linear_momentum": np.stack([0 * vz, 0 * vz, 2.0 * vz], axis=1),
            "angular_momentum": np.zeros((T, 3)),
            "substeps": np.r_[0, np.full(T - 1, 12)],
            "dt": np.r_[0.0, np.full(T - 1, 1 / 360)],
            "center_of_mass:cube": points.mean(axis=1).astype(np.float64),
            "center_of_mass:ball": (points + 0.2).mean(axis=1).astype(np.float64),
            "contact_force": np.abs(np.sin(times)),  # an unknown key gets its own panel
        }
    return Trajectory(times=times, tracks=tracks, diagnostics=diagnostics)


def test_plot_diagnostics_writes_png(tmp_path: Path) -> None:
    path = plot_diagnostics(falling_trajectory(), tmp_path / "plots" / "diagnostics.png")
    assert path == tmp_path / "plots" / "diagnostics.png"
    assert path.stat().st_size > 10_000
    with Image.open(path) as image:
        assert image.format == "PNG" and image.width == 800
        pixels = np.asarray(image.convert("L"))
    assert pixels.std() > 10  # not blank
    assert [p.name for p in path.parent.iterdir()] == ["diagnostics.png"]


def test_diagnostics_figure_panels_and_keys() -> None:
    traj = falling_trajectory()
    fig = diagnostics_figure(traj)
    # energy, linear, angular, stepping (plus its twin dt axis), centre of mass, contact_force
    assert len(fig.axes) == 7
    assert fig._repr_png_()[:8] == b"\x89PNG\r\n\x1a\n"  # shows inline in notebooks
    only = diagnostics_figure(traj, keys=["kinetic_energy", "center_of_mass:cube"])
    assert len(only.axes) == 2
    with pytest.raises(TrajectoryError, match="kinetic_energy"):
        diagnostics_figure(traj, keys=["kinetic_energi"])
    with pytest.raises(TrajectoryError, match="no diagnostics"):
        diagnostics_figure(falling_trajectory(with_diagnostics=False))


def test_headless_without_pyplot(tmp_path: Path) -> None:
    """No display and no pyplot: the global backend of a notebook is left alone."""
    code = (
        "import sys, numpy as np\n"
        "from mpm.trajectory import Trajectory\n"
        "from video_bridge.plots import plot_diagnostics\n"
        "t = Trajectory(times=np.arange(3) / 30, diagnostics={'kinetic_energy': np.ones(3)})\n"
        f"plot_diagnostics(t, {str(tmp_path / 'p.png')!r})\n"
        "assert 'matplotlib.pyplot' not in sys.modules, 'pyplot was imported'\n"
    )
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "MPLBACKEND")}
    result = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "p.png").stat().st_size > 0
