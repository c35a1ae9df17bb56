"""Where the emulator's time goes, on the held-out drops and tosses of the NeuROK dataset.

For each clip, in one process (median of ``--repeats`` runs each):
- ``simulate``: the whole ``neurok.simulate`` call, as the evaluation times it;
- ``integrate_compiled`` and ``integrate_numpy``: the same 1 s of implicit-midpoint steps
  from the same state on the same surrogate, by the compiled integrator and by its NumPy twin
  (``FastDynamics.step``), and their ratio.

Usage: python benchmarks/neurok_speed.py [--data out/neurok_data] [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import platform
import time

import numpy as np
import trimesh

import neurok
from neurok import compiled
from neurok.binding import BoundShape, body_of, even_surface_samples
from neurok.data import load_index
from neurok.dynamics import Contact
from neurok.emulator import fit_state
from neurok.fast import FastDynamics
from neurok.material import MaterialParams

EMULATED = ("drop", "toss")
H = 1 / 240


def median_time(run, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def time_clip(model: neurok.NeuROK, seq: object, repeats: int) -> dict:
    """The three timings of one clip (see the module docstring)."""
    mesh = trimesh.Trimesh(seq.rest_vertices, seq.faces, process=False)
    params = MaterialParams.of(seq.spec.material)
    sub = slice(None, None, 4)
    observed = (seq.points[0][sub], seq.velocities[0][sub])

    def emulate() -> None:
        neurok.simulate(model, mesh, material=params, observed=observed,
                        points=seq.rest_points[sub], duration=1.0, progress=False)  # fmt: skip

    simulate_s = median_time(emulate, repeats)
    bound = BoundShape(model, mesh, points=seq.rest_points[sub],
                       surface=even_surface_samples(mesh, 192, 1))  # fmt: skip
    bound.restrict_to_modes(params, omega_max=1.5 / H)
    q0, v0, R0 = fit_state(bound, *observed)
    fast = FastDynamics(bound.surrogate, body_of(bound, params), contact=Contact())
    native = compiled.build(fast)

    def numpy_steps() -> None:
        fast.R0 = R0.copy()
        q, v = q0, v0
        for i in range(240):
            q, v = fast.step(q, v, H, i * H)

    compiled_s = median_time(lambda: compiled.advance(native, R0, q0, v0, H, 0.0, 240, 3),
                             repeats)  # fmt: skip
    numpy_s = median_time(numpy_steps, repeats)
    return {"sequence": seq.spec.index, "simulate_s": simulate_s,
            "integrate_compiled_s": compiled_s, "integrate_numpy_s": numpy_s,
            "integrator_speedup": numpy_s / compiled_s}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="out/neurok_data")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    model = neurok.load(None)
    clips = [s for s in load_index(args.data).sequences("heldout")
             if s.spec.condition["kind"] in EMULATED]  # fmt: skip
    time_clip(model, clips[0], 1)  # warm-up: loads the compiled integrator from Numba's cache
    rows = []
    for seq in clips:
        rows.append(time_clip(model, seq, args.repeats))
        print(json.dumps(rows[-1]))
    summary = {
        "machine": f"{platform.processor() or platform.machine()}, {platform.system()}",
        "median": {key: float(np.median([r[key] for r in rows])) for key in rows[0]
                   if key != "sequence"},
    }  # fmt: skip
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
