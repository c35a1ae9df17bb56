"""Evaluate a trained NeuROK on the held-out shapes of its dataset.

    python benchmarks/neurok_eval.py --data out/neurok_data --parts ik,rollout,energy

Reports, in one run on the same machine:
- IK: surface Chamfer L1 / L2 (fractions of the rest bounding-box diagonal) and solid voxel IoU
  of the fitted shape, decoded at the rest mesh vertices, against the MPM surface, for NeuROK
  and a PCA linear subspace of the same dimension; ``ablation`` adds NeuROK without its active
  subspace, ``nearest`` a nearest-training-shape retrieval.
- Rollout: surface Chamfer between the emulated and the MPM surface over 1 s (mean, worst
  frame, before the first ground contact, through the first bounce) for the held-out drops,
  tosses, impulses (the same blow as the MPM run's) and pokes (the same moving sphere),
  initial state fitted to the first MPM frame, split into shape (Chamfer after the best rigid
  alignment) and placement (centroid distance), also per condition; for drops and tosses the
  spin the first impact gives the body, emulated and in MPM (``impact_spin``); wall-clock
  time of the emulator and of the MPM run of the same clip, in this process (medians of
  ``--repeats`` runs each).
- Energy: total-energy drift over 200 undamped steps at two latent amplitudes.
``--calibrate`` scores ground damping ratios on the training drops instead.
Writes a JSON summary (``--out``) and prints it.
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
from neurok.binding import BoundShape, body_of, surface_samples
from neurok.data import (
    CONDITIONS,
    IMPULSE_TIME,
    DatasetIndex,
    Sequence,
    impulse_blow,
    load_index,
    placement,
    poke_sphere,
    simulate_sequence,
)
from neurok.fast import FastDynamics
from neurok.geometry import chamfer, kabsch, surface_chamfer, voxel_iou
from neurok.ik import fit_bound, rigid_icp
from neurok.loads import Load
from neurok.material import MaterialParams
from neurok.train import prepare

GRID = np.linspace(-0.6, 0.6, 9)


class LinearShape:
    """The PCA baseline in the interface the IK uses: y = X + mean(X) + sum_i a_i B_i(X),
    X relative to the rest centre (the body frame)."""

    def __init__(self, rest: np.ndarray, mesh: trimesh.Trimesh, basis: list, mean: Any) -> None:
        self.rest = rest
        self.mesh = mesh
        self.centre = rest.mean(axis=0)
        self.scale = float(np.linalg.norm(mesh.bounds[1] - mesh.bounds[0]))
        self.basis, self.mean = basis, mean
        self.base, self.offset, self.B = self._fields(rest)
        self.state_dim = len(basis)
        self.contact_radius = np.zeros(len(rest))
        self.weights = np.full(len(rest), 1.0 / len(rest))

    def _fields(self, points: np.ndarray) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        local = (points - self.centre) / self.scale
        offset = torch.as_tensor(self.mean(local) * self.scale)
        B = torch.as_tensor(np.stack([b(local) for b in self.basis], axis=0) * self.scale)
        return torch.as_tensor(points - self.centre), offset, B

    def body_positions(self, z: torch.Tensor) -> torch.Tensor:
        batch = z if z.dim() == 2 else z[None]
        out = self.base + self.offset + torch.einsum("bk,knd->bnd", batch, self.B)
        return out if z.dim() == 2 else out[0]

    def decode_points(self, z: torch.Tensor, points: np.ndarray) -> np.ndarray:
        base, offset, B = self._fields(np.asarray(points, dtype=np.float64))
        return (base + offset + torch.einsum("k,knd->nd", z, B)).numpy()


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


def ik_scores(shape: Any, seq: Sequence, frame: int, scale: float) -> dict:
    """Fit ``shape`` to the MPM surface vertices of ``frame`` (no correspondences), then
    decode the fit at the rest mesh vertices: surface Chamfer L1 / L2 to the observed surface
    (fractions of the diagonal; 0 for a perfect fit, whatever the sampling or a symmetric
    shape's spin) and the IoU of the enclosed solids."""
    truth = seq.vertices[frame].astype(np.float64)
    result = fit_bound(shape, truth, iterations=60)
    local = shape.decode_points(torch.as_tensor(result.z), seq.rest_vertices.astype(np.float64))
    fitted = local @ result.rotation.T + result.translation
    l1, l2 = surface_chamfer(fitted / scale, truth / scale, seq.faces)
    return {"cd_l1": l1, "cd_l2": l2, "iou": voxel_iou(fitted, truth, seq.faces)}


def shape_descriptor(points: np.ndarray, bins: int = 32, pairs: int = 4000) -> np.ndarray:
    """Rotation-invariant shape signature: the histogram of distances between random point
    pairs (D2), the distances divided by the bounding-box diagonal (seeded)."""
    rng = np.random.default_rng(0)
    i, j = rng.integers(len(points), size=(2, pairs))
    scale = float(np.linalg.norm(points.max(axis=0) - points.min(axis=0)))
    distances = np.linalg.norm(points[i] - points[j], axis=1) / scale
    histogram, _ = np.histogram(distances, bins=bins, range=(0.0, 1.0))
    return histogram / pairs


def retrieval_scores(train: list, seq: Sequence, frame: int, scale: float,
                     shortlist: int = 6) -> dict:  # fmt: skip
    """Nearest training shape: among the training surfaces (the middle and last frame of
    every training sequence, scaled to this object's diagonal), the ``shortlist`` with the
    closest D2 descriptors are rigidly aligned to the observation (ICP on the vertices); the
    best is scored like the fits (surface Chamfer; no IoU, the meshes differ)."""
    observed = seq.vertices[frame].astype(np.float64)
    target = observed - observed.mean(axis=0)
    candidates = []
    for cand in train:
        size = float(np.linalg.norm(np.ptp(cand.rest_vertices, axis=0)))
        for f in (cand.num_frames // 2, cand.num_frames - 1):
            vertices = cand.vertices[f].astype(np.float64)
            candidates.append(((vertices - vertices.mean(axis=0)) * scale / size, cand.faces))
    signature = shape_descriptor(target)
    gaps = [np.abs(shape_descriptor(v) - signature).sum() for v, _ in candidates]
    best = (np.inf, None, None)
    for index in np.argsort(gaps)[:shortlist]:
        vertices, faces = candidates[index]
        R, t = rigid_icp(vertices, target, 1, False)
        moved = vertices @ R.T + t
        l1, _ = chamfer(moved, target)
        if l1 < best[0]:
            best = (l1, moved, faces)
    l1, l2 = surface_chamfer(best[1] / scale, target / scale, best[2], faces_b=seq.faces)
    return {"cd_l1": l1, "cd_l2": l2}


# conditions the emulator reproduces from the first frame (and the blow of an impulse, the
# moving sphere of a poke): all the dataset's
EMULATED = CONDITIONS


def blow(seq: Sequence) -> list[Load]:
    """The loads of a sequence's condition for the emulator: an impulse condition's blow (the
    same impulse on the same region at the same time as the MPM run), else none."""
    if seq.spec.condition["kind"] != "impulse":
        return []
    center, extent, _ = placement(seq.spec, seq.cells_per_size)
    mesh = trimesh.Trimesh(seq.rest_vertices, seq.faces, process=False)
    mass = float(mesh.volume) * float(seq.spec.material["density"])
    impulse, region = impulse_blow(seq.spec.condition, center, extent, mass)
    return [Load(impulse=tuple(impulse.tolist()), start=IMPULSE_TIME, region=region)]


def poke(seq: Sequence) -> list[Any]:
    """The colliders of a sequence's condition for the emulator: a poke's moving sphere (the
    same path as in the MPM run), else none."""
    if seq.spec.condition["kind"] != "poke":
        return []
    center, extent, _ = placement(seq.spec, seq.cells_per_size)
    return [poke_sphere(seq.spec.condition, center, extent)]


def emulate(
    model: neurok.NeuROK, seq: Sequence, contact_damping: float | None = None,
    contact_seed: int = 1,
) -> Any:  # fmt: skip
    """Emulate a drop, toss, impulse or poke from the MPM sequence's first frame (positions and
    velocities of 128 of its recorded particles); returns (trajectory, wall-clock seconds)."""
    mesh = trimesh.Trimesh(seq.rest_vertices, seq.faces, process=False)
    sub = slice(None, None, 4)  # 128 of the 512 recorded particles drive the dynamics
    extra = {"contact_seed": contact_seed}
    if contact_damping is not None:
        extra["contact_damping"] = contact_damping
    loads = blow(seq)
    start = time.perf_counter()
    traj = neurok.simulate(
        model, mesh, material=MaterialParams.of(seq.spec.material),
        observed=(seq.points[0][sub], seq.velocities[0][sub]), points=seq.rest_points[sub],
        duration=(seq.num_frames - 1) / seq.fps, fps=seq.fps, loads=loads,
        colliders=poke(seq), progress=False, **extra,
    )  # fmt: skip
    return traj, time.perf_counter() - start


def rollout_errors(traj: Any, seq: Sequence, samples: int = 1024) -> np.ndarray:
    """Surface Chamfer L1 between emulated and MPM surfaces per frame / the rest diagonal."""
    scale = float(np.linalg.norm(seq.rest_vertices.max(axis=0) - seq.rest_vertices.min(axis=0)))
    emulated = traj.tracks["object_surface"].positions
    return np.array([surface_chamfer(emulated[t], seq.vertices[t], seq.faces, samples)[0]
                     for t in range(seq.num_frames)]) / scale  # fmt: skip


def rollout_split(traj: Any, seq: Sequence, samples: int = 1024) -> tuple[np.ndarray, np.ndarray]:
    """Per frame, the error split into shape and placement (both / the rest diagonal): the
    surface Chamfer after the best rigid alignment of the emulated mesh onto MPM's (same
    vertices, so Kabsch on them), and the distance between the two vertex centroids."""
    scale = float(np.linalg.norm(seq.rest_vertices.max(axis=0) - seq.rest_vertices.min(axis=0)))
    emulated = traj.tracks["object_surface"].positions.astype(np.float64)
    shape, placement = [], []
    for t in range(seq.num_frames):
        truth = seq.vertices[t].astype(np.float64)
        R, shift = kabsch(emulated[t], truth)
        aligned = emulated[t] @ R.T + shift
        shape.append(surface_chamfer(aligned, truth, seq.faces, samples)[0])
        placement.append(np.linalg.norm(emulated[t].mean(axis=0) - truth.mean(axis=0)))
    return np.array(shape) / scale, np.array(placement) / scale


def first_contact(seq: Sequence) -> int:
    """Frames before the MPM object first touches the ground (at least 1)."""
    touching = seq.vertices[:, :, 2].min(axis=1) < 0.25 * seq.dx
    return max(int(np.argmax(touching)) if touching.any() else seq.num_frames, 1)


def first_bounce(seq: Sequence, after: float = 1 / 3) -> int:
    """Frames up to ``after`` seconds past the first ground contact: the window through the
    first impact and rebound, where MPM runs that differ by a 1 mm drop height or a 0.5 deg
    turn still agree within 0.5 % of the diagonal (later bounces are chaotic)."""
    return min(first_contact(seq) + round(after * seq.fps), seq.num_frames)


def surface_spin(vertices: np.ndarray, frame: int, fps: float) -> np.ndarray:
    """(3,) angular velocity [rad/s] of a surface between ``frame`` and the next: the
    rotation vector of the best rigid fit (Kabsch about the vertex centroids) times fps."""
    from scipy.spatial.transform import Rotation

    now, then = vertices[frame].astype(np.float64), vertices[frame + 1].astype(np.float64)
    R, _ = kabsch(now - now.mean(axis=0), then - then.mean(axis=0))
    return Rotation.from_matrix(R).as_rotvec() * fps


def impact_spin(traj: Any, seq: Sequence) -> tuple[float, float] | None:
    """How much the first ground impact of a drop or toss changes the body's spin [rad/s],
    (emulated, MPM): |spin 4 frames after the first contact - spin 2 frames before it|,
    each from the surface's best rigid fit between consecutive frames. A tilted body landing
    on an edge gets a spin from the floor's torque; MPM's soft bodies spread the landing and
    turn less (benchmarks/RESULTS.md, session 12). None when the clip has no such window."""
    contact = first_contact(seq)
    before, after = contact - 2, contact + 4
    if before < 0 or after + 1 >= seq.num_frames:
        return None
    emulated = traj.tracks["object_surface"].positions
    change = [np.linalg.norm(surface_spin(v, after, seq.fps) - surface_spin(v, before, seq.fps))
              for v in (emulated, seq.vertices)]  # fmt: skip
    return float(change[0]), float(change[1])


def warm_up(model: neurok.NeuROK, heldout: list[Sequence]) -> None:
    """One untimed emulation and MPM run of the first drop or toss, so neither timing below
    includes loading compiled kernels (Numba's integrator, Warp's MPM kernels)."""
    seq = next((s for s in heldout if s.spec.condition["kind"] in EMULATED), None)
    if seq is not None:
        emulate(model, seq)
        simulate_sequence(seq.spec, duration=(seq.num_frames - 1) / seq.fps, fps=seq.fps,
                          cells_per_size=seq.cells_per_size)  # fmt: skip


def rollout(
    model: neurok.NeuROK, seq: Sequence, other_seeds: tuple[int, ...] = (), repeats: int = 3
) -> dict:
    """Emulate the MPM sequence from its first frame and time the MPM run of the same clip
    (same process, same machine): mean / max surface Chamfer over the clip and the speed-up,
    the median wall time of ``repeats`` emulations over the median of ``repeats`` MPM runs.
    With ``other_seeds`` the clip is emulated again with each of those seeds for the contact
    samples (the default is seed 1), and the clip and first-bounce Chamfer of every seed are
    reported too: how much of a figure is the draw of those samples."""
    traj, wall = emulate(model, seq)
    walls = [wall] + [emulate(model, seq)[1] for _ in range(repeats - 1)]
    by_seed = {}
    for seed in other_seeds:
        other = rollout_errors(emulate(model, seq, contact_seed=seed)[0], seq)
        by_seed[int(seed)] = (float(other.mean()), float(other[: first_bounce(seq)].mean()))
    mpm_walls = []
    for _ in range(repeats):
        start = time.perf_counter()
        simulate_sequence(seq.spec, duration=(seq.num_frames - 1) / seq.fps, fps=seq.fps,
                          cells_per_size=seq.cells_per_size)  # fmt: skip
        mpm_walls.append(time.perf_counter() - start)
    wall, mpm_wall = float(np.median(walls)), float(np.median(mpm_walls))
    errors = rollout_errors(traj, seq)
    shape, placement = rollout_split(traj, seq)
    contact, bounce = first_contact(seq), first_bounce(seq)
    by_seed = {1: (float(errors.mean()), float(errors[:bounce].mean())), **by_seed}
    return {"sequence": seq.spec.index, "condition": seq.spec.condition["kind"],
            "chamfer_by_contact_seed": by_seed,
            "material": seq.spec.material["type"], "chamfer_mean": float(errors.mean()),
            "chamfer_max": float(errors.max()),
            # a free flight before the first contact only in a drop or a toss (impulses and
            # pokes start on the floor: their "before" is the fitted first frame alone)
            "chamfer_before_contact": float(errors[:contact].mean())
            if seq.spec.condition["kind"] in ("drop", "toss") else None,
            "chamfer_first_bounce": float(errors[:bounce].mean()),
            "impact_spin": impact_spin(traj, seq)
            if seq.spec.condition["kind"] in ("drop", "toss") else None,
            "shape_chamfer_mean": float(shape.mean()),
            "shape_chamfer_first_bounce": float(shape[:bounce].mean()),
            "centroid_error_mean": float(placement.mean()),
            "centroid_error_first_bounce": float(placement[:bounce].mean()),
            "wall_s": wall, "mpm_s": mpm_wall, "speedup": mpm_wall / wall,
            "wall_s_runs": walls, "mpm_s_runs": mpm_walls,
            "force_evaluations": traj.metadata["neurok"]["force_evaluations"]}  # fmt: skip


def calibrate(model: neurok.NeuROK, index: DatasetIndex, values: list[float]) -> dict:
    """Mean rollout Chamfer through the first bounce (:func:`first_bounce`) on the *training*
    drops and tosses of elastic objects for each ground damping ratio in ``values`` (the
    spring's omega from the material, :func:`neurok.emulator.contact_law`): how the
    emulator's default is scored. (Over the whole clip the score would favour whatever
    bounces least: after the first bounce the emulated body drifts away from MPM's, and one
    that stays near the mean position is closer on average. MPM itself is not chaotic here:
    two runs 1 mm or 0.5 degrees apart stay within 0.2-1.6 %, see RESULTS.md.)"""
    cases = [s for s in index.sequences("train") if s.spec.condition["kind"] in ("drop", "toss")
             and s.spec.material["type"] == "elastic"]  # fmt: skip
    scores = {}
    for value in values:
        errors = [rollout_errors(emulate(model, seq, value)[0], seq, 256)[: first_bounce(seq)]
                  .mean() for seq in cases]  # fmt: skip
        scores[value] = float(np.mean(errors))
        print(f"contact damping {value}: mean Chamfer {scores[value]:.4f} ({len(cases)} cases)")
    return scores


def energy_drift(
    model: neurok.NeuROK, seq: Sequence, amplitude: float, steps: int = 200
) -> dict:
    """Spread of the total energy (kinetic + elastic: no gravity, no floor, no damping) over
    ``steps`` steps of 1/240 s, relative to its initial value; starting with a spin, a throw
    and every latent mode swinging out to ``amplitude`` times its range. Also returns the
    elastic share of the initial energy, so the number is not just the rigid motion's."""
    mesh = trimesh.Trimesh(seq.rest_vertices, seq.faces, process=False)
    m = seq.spec.material
    params = MaterialParams(E=m["E"], nu=m["nu"], density=m["density"], viscosity=0.0)
    bound = BoundShape(model, mesh, points=seq.rest_points[::4])
    bound.restrict_to_modes(params, omega_max=1.5 * 240)
    dyn = FastDynamics(bound.surrogate, body_of(bound, params), contact=None, gravity=False,
                       damping=False)  # fmt: skip
    q = np.concatenate([bound.centre, np.zeros(3 + bound.state_dim)])
    # latent velocities that swing every kept mode out to a fraction of its box (v = a omega)
    swing = amplitude * bound.range * np.sqrt(bound.mode_stiffness)
    qdot = np.concatenate([[0.2, 0.0, 0.5, 1.0, -2.0, 0.5], swing])
    energies = [dyn.energy(q, qdot)]
    rigid = q.copy(), np.concatenate([qdot[:6], np.zeros(bound.state_dim)])
    elastic_share = 1.0 - dyn.energy(*rigid) / energies[0]
    for i in range(steps):
        q, qdot = dyn.step(q, qdot, 1 / 240, i / 240)
        energies.append(dyn.energy(q, qdot))
    return {"drift": float((max(energies) - min(energies)) / abs(energies[0])),
            "latent_share": float(elastic_share)}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="out/neurok_data")
    parser.add_argument("--checkpoint", default=None)
    parser.add_argument("--displacement-checkpoint", default=None,
                        help="the no-dual-quaternion ablation: a model trained with "
                             "--output displacement, scored in the IK part")  # fmt: skip
    parser.add_argument("--out", default="out/neurok_eval.json")
    parser.add_argument("--frames", default="5,10,15,20,25,30", help="IK frames per sequence")
    parser.add_argument("--limit", type=int, default=0, help="held-out sequences (0: all)")
    parser.add_argument("--parts", default="ik,rollout,energy",
                        help="comma list of ik, ablation (no active subspace), nearest "
                             "(retrieval baseline, slow), rollout, energy")  # fmt: skip
    parser.add_argument("--contact-seeds", default="",
                        help="more seeds for the emulator's contact samples, e.g. 11,21,31: "
                             "each clip is also emulated with these, and the means over "
                             "all seeds (with the default, 1) are reported")  # fmt: skip
    parser.add_argument("--repeats", type=int, default=3,
                        help="timed runs of each clip, emulated and in MPM; the speed-up is "
                             "the ratio of the medians")  # fmt: skip
    parser.add_argument("--calibrate", default="",
                        help="ground damping ratios to score on the training drops, e.g. "
                             "0,0.1,0.2 (then exit)")  # fmt: skip
    args = parser.parse_args()
    if args.repeats < 1:
        parser.error(f"--repeats must be at least 1, got {args.repeats}")
    parts = set(args.parts.split(","))
    model = neurok.load(args.checkpoint)
    index: DatasetIndex = load_index(args.data)
    if args.calibrate:
        calibrate(model, index, [float(v) for v in args.calibrate.split(",")])
        return
    heldout = list(index.sequences("heldout"))[: args.limit or None]
    summary: dict[str, Any] = {
        "machine": f"{platform.processor() or platform.machine()}, {platform.system()}",
        "checkpoint": args.checkpoint or "shipped", "heldout_sequences": len(heldout),
    }  # fmt: skip
    if parts & {"ik", "ablation", "nearest"}:
        raw_train = list(index.sequences("train"))
        train = [prepare(s, 256, seed=s.spec.index) for s in raw_train]
        basis, mean = pca_basis(train, model.state_dim)
        full = neurok.load(args.checkpoint)
        full.set_subspace(torch.eye(full.cfg.latent_dim), None)
        rows: dict[str, list] = {"neurok": [], "pca": [], "nearest": [], "no_subspace": [],
                                 "no_dual_quaternion": []}  # fmt: skip
        plain = neurok.load(args.displacement_checkpoint) if args.displacement_checkpoint else None
        for seq in heldout:
            mesh = trimesh.Trimesh(seq.rest_vertices, seq.faces, process=False)
            scale = float(np.linalg.norm(mesh.bounds[1] - mesh.bounds[0]))
            samples = surface_samples(mesh, 512, 0)
            bound = BoundShape(model, mesh, points=samples)
            linear = LinearShape(samples, mesh, basis, mean)
            unreduced = BoundShape(full, mesh, points=samples) if "ablation" in parts else None
            displaced = BoundShape(plain, mesh, points=samples) if plain is not None else None
            for frame in (int(f) for f in args.frames.split(",")):
                rows["neurok"].append(ik_scores(bound, seq, frame, scale))
                rows["pca"].append(ik_scores(linear, seq, frame, scale))
                if "ablation" in parts:
                    rows["no_subspace"].append(ik_scores(unreduced, seq, frame, scale))
                if displaced is not None:
                    rows["no_dual_quaternion"].append(ik_scores(displaced, seq, frame, scale))
                if "nearest" in parts:
                    rows["nearest"].append(retrieval_scores(raw_train, seq, frame, scale))
        summary["ik"] = {k: {m: float(np.mean([r[m] for r in v])) for m in v[0]}
                         for k, v in rows.items() if v}  # fmt: skip
        summary["ik_fits"] = len(rows["neurok"])
    if "rollout" in parts:
        rollouts = []
        seeds = [int(v) for v in args.contact_seeds.split(",") if v]
        warm_up(model, heldout)
        for seq in heldout:
            try:
                rollouts.append(rollout(model, seq, tuple(seeds), args.repeats))
            except neurok.LatentError as error:  # reported, not hidden: it diverged
                rollouts.append({"sequence": seq.spec.index, "diverged": str(error)})
        finished = [r for r in rollouts if "diverged" not in r]
        summary["rollouts"] = rollouts
        summary["rollout_mean"] = {
            k: float(np.mean([r[k] for r in finished if r[k] is not None]))
            for k in ("chamfer_mean", "chamfer_max", "chamfer_before_contact",
                      "chamfer_first_bounce", "shape_chamfer_mean", "shape_chamfer_first_bounce",
                      "centroid_error_mean", "centroid_error_first_bounce", "wall_s", "mpm_s")
        } if finished else {}  # fmt: skip
        summary["rollout_mean_by_condition"] = {
            kind: {k: float(np.mean([r[k] for r in finished if r["condition"] == kind]))
                   for k in ("chamfer_mean", "chamfer_first_bounce", "shape_chamfer_mean",
                             "centroid_error_mean")}
            for kind in EMULATED if any(r["condition"] == kind for r in finished)
        }  # fmt: skip
        if finished and seeds:  # the whole table's two Chamfer figures per contact seed
            summary["rollout_mean_by_contact_seed"] = {
                str(seed): {"chamfer_mean": float(np.mean(
                                [r["chamfer_by_contact_seed"][seed][0] for r in finished])),
                            "chamfer_first_bounce": float(np.mean(
                                [r["chamfer_by_contact_seed"][seed][1] for r in finished]))}
                for seed in [1, *seeds]
            }  # fmt: skip
        spins = [r["impact_spin"] for r in finished if r.get("impact_spin")]
        if spins:  # emulated and MPM spin change through the first impact
            summary["impact_spin_median"] = [float(np.median([e for e, _ in spins])),
                                             float(np.median([m for _, m in spins]))]  # fmt: skip
        if finished:
            speedups = [r["speedup"] for r in finished]
            summary["speedup_median"] = float(np.median(speedups))
            summary["speedup_range"] = [float(np.min(speedups)), float(np.max(speedups))]
    if "energy" in parts:
        summary["energy_drift"] = {
            str(amplitude): [energy_drift(model, seq, amplitude) for seq in heldout[:6]]
            for amplitude in (0.1, 0.5)
        }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(summary, indent=2))
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
