"""Renderer throughput: frames per second with RGB + depth + mask + flow read back.

Usage: python benchmarks/render_throughput.py [--frames 30] [--repeats 3] [--sizes 256,512]

Scene: an icosphere mesh of 20,480 triangles deforming over the frames and 50,000 particles
(sphere impostors) falling, on the checkered ground with shadows. The GL context and programs
are created and one render is done before timing; each repeat renders every frame through
``Renderer.render`` (buffer uploads, draws and pixel read-back included). Prints a table and,
last, one JSON line.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time

import numpy as np
import trimesh

from mpm.trajectory import Track, Trajectory
from video_bridge.camera import CameraPath
from video_bridge.gl import get_context
from video_bridge.renderer import Renderer

PASSES = ("rgb", "depth", "mask", "flow")


def make_scene(frames: int) -> Trajectory:
    """~20k triangles + 50k particles moving over ``frames`` frames."""
    rng = np.random.default_rng(0)
    sphere = trimesh.creation.icosphere(subdivisions=5, radius=0.25)
    base = np.asarray(sphere.vertices, np.float32) + np.float32([-0.4, 0.0, 0.35])
    t = np.arange(frames, dtype=np.float32)[:, None, None] / max(frames - 1, 1)
    squash = np.float32([1.0, 1.0, 1.0]) + t * np.float32([0.2, 0.2, -0.3])
    mesh_positions = (base - base.mean(0)) * squash + base.mean(0)
    points = rng.uniform([0.1, -0.3, 0.1], [0.7, 0.3, 0.6], size=(50_000, 3)).astype(np.float32)
    fall = t * np.float32([0.0, 0.0, -0.1])
    tracks = {
        "blob": Track(positions=mesh_positions, faces=sphere.faces),
        "grains": Track(
            positions=points[None] + fall,
            attributes={"volume": np.full(50_000, 0.004**3, np.float32)},
        ),
    }
    return Trajectory(times=np.arange(frames) / 30.0, tracks=tracks, diagnostics={}, metadata={})


def measure(traj: Trajectory, size: int, repeats: int) -> dict:
    renderer = Renderer(size=(size, size))
    path = CameraPath.framing(traj, "orbit", size=(size, size))
    renderer.render(traj, path, PASSES, progress=False)  # warm-up: shader compile, allocation
    rates = []
    for _ in range(repeats):
        start = time.perf_counter()
        renderer.render(traj, path, PASSES, progress=False)
        rates.append(traj.num_frames / (time.perf_counter() - start))
    renderer.release()
    return {"fps": round(statistics.median(rates), 2), "runs": [round(r, 2) for r in rates]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=30)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--sizes", default="256,512")
    args = parser.parse_args()
    traj = make_scene(args.frames)
    gl_renderer = get_context().info.get("GL_RENDERER")
    results = {int(s): measure(traj, int(s), args.repeats) for s in args.sizes.split(",")}
    triangles = len(traj.tracks["blob"].faces)
    print(f"machine: {platform.machine()}, GL: {gl_renderer}")
    print(f"scene: {triangles} triangles + {traj.tracks['grains'].num_points} particles, "
          f"passes {','.join(PASSES)}")  # fmt: skip
    print(f"{'size':>6} {'frames/s (median)':>18}  runs")
    for size, r in results.items():
        print(f"{size:>6} {r['fps']:>18.2f}  {r['runs']}")
    print(json.dumps({f"{s}x{s}": {"fps": r["fps"]} for s, r in results.items()}))


if __name__ == "__main__":
    main()
