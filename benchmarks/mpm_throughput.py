"""MLS-MPM throughput: million particle-steps per second at 100k particles on a 64^3 grid.

Usage: python benchmarks/mpm_throughput.py [--particles 100000] [--repeats 5] [--device cpu]

Each material fills a block of ~100k particles (8 per cell) falling in a closed 1 m^3 box
(dx = 1/64). Kernel compilation and a first frame are excluded (warm-up); every repeat times
``steps`` substeps through the public ``Simulator.run`` path (frame read-back and diagnostics
included). Prints a table and, last, one JSON line.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time

import mpm


def measure(material_name: str, particles: int, repeats: int, steps: int, device: str) -> dict:
    """Median throughput of ``repeats`` timed runs of ``steps`` substeps each."""
    dx = 1.0 / 64.0
    cells = particles / 8.0
    side = round((cells / 0.8) ** (1.0 / 3.0))  # footprint side x side, height 0.8 side
    height = round(cells / side**2)
    size = (side * dx, side * dx, height * dx)
    material = mpm.materials.preset(material_name)
    sim = mpm.Simulator(domain_min=(0, 0, 0), domain_max=(1, 1, 1), dx=dx, device=device)
    sim.add_object("block", mpm.Box(size=size, center=(0.5, 0.5, 0.1 + size[2] / 2)), material)
    dt = 0.5 * sim.stable_dt(2.0)  # fixed step, stable for speeds up to 2 m/s
    sim.fixed_dt = dt
    fps = 1.0 / (dt * steps)
    n = sim.objects["block"].num_particles
    sim.run(duration=1.0 / fps, fps=fps, progress=False)  # compile + warm-up
    rates = []
    for _ in range(repeats):
        start = time.perf_counter()
        traj = sim.run(duration=1.0 / fps, fps=fps, progress=False)
        elapsed = time.perf_counter() - start
        substeps = int(traj.diagnostics["substeps"][1:].sum())
        rates.append(n * substeps / elapsed / 1e6)
    return {
        "mpsteps_per_s": round(statistics.median(rates), 3),
        "runs": [round(r, 3) for r in rates],
        "particles": n,
        "dt": dt,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--particles", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--materials", default="water,jelly")
    args = parser.parse_args()
    results = {}
    for name in args.materials.split(","):
        results[name] = measure(name, args.particles, args.repeats, args.steps, args.device)
    print(
        f"machine: {platform.processor() or platform.machine()}, python {platform.python_version()}"
    )
    print(f"{'material':<10} {'particles':>10} {'M p-steps/s (median)':>22}  runs")
    for name, r in results.items():
        print(f"{name:<10} {r['particles']:>10} {r['mpsteps_per_s']:>22.3f}  {r['runs']}")
    summary = {
        ("fluid" if k == "water" else k): {"mpsteps_per_s": v["mpsteps_per_s"]}
        for k, v in results.items()
    }
    summary["particles"] = next(iter(results.values()))["particles"]
    summary["grid"] = 64
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
