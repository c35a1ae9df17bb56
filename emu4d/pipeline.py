"""scene -> simulate -> export: the job behind ``emu4d sim``."""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

import mpm
from emu4d.scene import Scene
from mpm.errors import ConfigError
from mpm.fileio import atomic_directory, check_output_directory

DEFAULT_PASSES = ("rgb", "depth", "mask", "flow")
# Files every scene run writes at the top of its output directory, and every render: an
# existing -o directory holding none of them is someone else's and is refused before the run.
SCENE_OUTPUT_FILES = ("trajectory.npz", "metrics.json")
RENDER_OUTPUT_FILES = ("contact_sheet.png", "render.npz", "labels.json")

logger = logging.getLogger("emu4d.app")


@dataclass(frozen=True)
class RenderOptions:
    """How to render a trajectory: camera path kind ("orbit", "static", "dolly", "follow"),
    image size (width, height) [px], passes, PNG sequences too, shadows."""

    camera: str = "orbit"
    size: tuple[int, int] = (512, 512)
    passes: tuple[str, ...] = DEFAULT_PASSES
    png: bool = False
    shadows: bool = True

    def __post_init__(self) -> None:
        """Check everything here, so that a bad option fails before a long simulation."""
        from video_bridge.camera import FRAMINGS
        from video_bridge.renderer import check_passes, check_size

        if self.camera not in FRAMINGS:
            raise ConfigError(f"unknown camera path {self.camera!r}; use one of {FRAMINGS}.")
        object.__setattr__(self, "size", check_size(self.size))
        object.__setattr__(self, "passes", check_passes(self.passes))


def render_trajectory(
    traj: mpm.Trajectory, out_dir: str | Path, options: RenderOptions, progress: bool = True
) -> list[Path]:
    """Render ``traj`` and write videos, a contact sheet, raw arrays and a diagnostics plot
    into ``out_dir`` (see video_bridge.outputs.write_render_outputs)."""
    from video_bridge import plot_diagnostics, render, write_render_outputs

    result = render(
        traj,
        options.camera,
        size=options.size,
        passes=options.passes,
        shadows=options.shadows,
        progress=progress,
    )
    fps = traj.fps if traj.num_frames > 1 else 30.0
    files = write_render_outputs(result, out_dir, fps=fps, png=options.png)
    if traj.diagnostics:
        files.append(plot_diagnostics(traj, Path(out_dir) / "diagnostics.png"))
    return files


@dataclass(frozen=True)
class SimulationResult:
    """What ``simulate_scene`` produced.

    Attributes:
        trajectory: the simulated trajectory. out_dir: where files were written (or None).
        metrics: the contents of metrics.json. files: every file written.
    """

    trajectory: mpm.Trajectory
    out_dir: Path | None
    metrics: dict[str, Any]
    files: list[Path]


def _metrics(scene: Scene, traj: mpm.Trajectory, wall_time: float) -> dict[str, Any]:
    diag = traj.diagnostics
    particles = sum(t.num_points for t in traj.tracks.values() if t.kind == "points")
    steps = int(np.sum(diag["substeps"]))
    com = {
        key.split(":", 1)[1]: np.asarray(value)[-1].tolist()
        for key, value in diag.items()
        if key.startswith("center_of_mass:")
    }
    return {
        "frames": int(traj.num_frames),
        "duration_s": float(traj.times[-1] - traj.times[0]),
        "particles": int(particles),
        "substeps": steps,
        "dt_min_s": float(np.min(diag["dt"][1:])),
        "dt_max_s": float(np.max(diag["dt"][1:])),
        "wall_time_s": round(wall_time, 3),
        "particle_steps_per_s": particles * steps / max(wall_time, 1e-9),
        "final_kinetic_energy_J": float(diag["kinetic_energy"][-1]),
        "max_kinetic_energy_J": float(np.max(diag["kinetic_energy"])),
        "final_center_of_mass_m": com,
        "export_formats": list(scene.export.formats),
    }


def export_formats(
    traj: mpm.Trajectory, out_dir: Path, formats: tuple[str, ...], progress: bool = True
) -> None:
    """Write a scene's ``[export]`` formats into ``out_dir`` (npz is trajectory.npz itself):
    ply/obj/gaussians as folders, trajectory.glb, trajectory.usdc; OBJ only for mesh tracks."""
    for fmt in formats:
        if fmt == "npz":
            continue
        target = out_dir / ("trajectory.glb" if fmt == "glb" else "trajectory.usdc")
        if fmt in ("ply", "obj", "gaussians"):
            target = out_dir / fmt
        tracks = None
        if fmt == "obj":  # OBJ holds meshes only: export the surface tracks
            tracks = [n for n, t in traj.tracks.items() if t.kind == "mesh"] or None
        if fmt == "obj" and tracks is None:
            continue
        traj.export(fmt, target, tracks=tracks, progress=progress)


def simulate_scene(
    scene: Scene,
    out_dir: str | Path | None = None,
    progress: bool = True,
    render: RenderOptions | None = None,
) -> SimulationResult:
    """Run a scene and, when ``out_dir`` is given, write trajectory.npz, metrics.json, the
    export formats of ``[export]`` and, with ``render``, a rendered clip in ``render/``. The
    directory is replaced atomically: a failed run leaves an earlier output untouched."""
    if out_dir is not None:
        check_output_directory(out_dir, SCENE_OUTPUT_FILES)
    sim, run = scene.build()
    start = time.perf_counter()
    traj = sim.run(duration=run.duration, fps=run.fps, progress=progress)
    wall_time = time.perf_counter() - start
    traj.metadata["scene"] = scene.to_dict()
    metrics = _metrics(scene, traj, wall_time)
    if out_dir is None:
        return SimulationResult(traj, None, metrics, [])
    out_dir = Path(out_dir)
    files: list[Path] = []
    with atomic_directory(out_dir) as tmp:
        traj.save(tmp / "trajectory.npz")
        export_formats(traj, tmp, scene.export.formats, progress)
        if render is not None:
            render_trajectory(traj, tmp / "render", render, progress=progress)
        (tmp / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    files = sorted(p for p in out_dir.rglob("*") if p.is_file())
    logger.info("wrote %d files to %s", len(files), out_dir)
    return SimulationResult(traj, out_dir, metrics, files)
