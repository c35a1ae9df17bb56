"""Training the CVAE on a generated dataset, and the active-subspace reduction afterwards.

Each training sample is one frame of one sequence: the rest point cloud (the particle subset
plus area-uniform surface samples, carried along by barycentric coordinates) and the same
points at that frame, both in the object's body frame -- the frame's rigid motion is removed
by Kabsch alignment of the particles -- and normalised by the rest centre of mass and bounding-
box diagonal. Samples are randomly turned about the vertical (the same turn for rest and
deformed points), so the model does not learn the headings that happen to be in the data;
tilts are not augmented, because gravity and the floor make "down" special.

Loss per sample: mean squared point error / sigma^2 (sigma = 0.5 % of the diagonal) plus
0.01 x KL(posterior || prior).
"""

from __future__ import annotations

import logging
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
import trimesh
from scipy.spatial.transform import Rotation
from tqdm.auto import tqdm

from neurok.data import DatasetIndex, Sequence, load_index
from neurok.errors import DatasetError, SettingsError
from neurok.geometry import kabsch
from neurok.model import NeuROK, NeuROKConfig

logger = logging.getLogger("emu4d.neurok")
SIGMA = 0.005  # reconstruction scale, fraction of the bounding-box diagonal


@dataclass(frozen=True)
class TrainConfig:
    """Training options: optimiser steps, batch size (frames), points per sample, learning
    rate, KL weight, seed, active-subspace size, surface samples per shape, and a wall-clock
    limit [s] after which training stops early (0: none)."""

    steps: int = 3000
    batch: int = 16
    points: int = 512
    lr: float = 1e-3
    kl_weight: float = 0.01
    seed: int = 0
    subspace_dim: int = 6
    surface_samples: int = 256
    time_limit: float = 0.0

    def __post_init__(self) -> None:
        """Refuse settings that would fail late (after the data is prepared) or train
        nothing."""
        counts = {"steps": self.steps, "batch": self.batch, "points": self.points,
                  "subspace_dim": self.subspace_dim, "surface_samples": self.surface_samples}
        for name, value in counts.items():
            if not (value >= 1 and float(value).is_integer()):  # also NaN and inf
                raise SettingsError(f"training {name} must be a whole number >= 1, got {value}.")
        if not (self.lr > 0 and np.isfinite(self.lr)):
            raise SettingsError(f"training lr must be > 0, got {self.lr}.")
        for name, value in (("kl_weight", self.kl_weight), ("time_limit", self.time_limit)):
            if not (value >= 0 and np.isfinite(value)):
                raise SettingsError(f"training {name} must be >= 0, got {value}.")


@dataclass
class PreparedSequence:
    """One sequence in normalised body coordinates: rest (P, 3) and frames (T, P, 3)."""

    rest: np.ndarray
    frames: np.ndarray
    scale: float
    family: str
    index: int


def prepare(sequence: Sequence, surface_samples: int = 256, seed: int = 0) -> PreparedSequence:
    """Normalised, rigidly aligned point sets of a sequence (see the module docstring)."""
    rest_mesh = trimesh.Trimesh(sequence.rest_vertices, sequence.faces, process=False)
    rng = np.random.default_rng(seed)
    areas = rest_mesh.area_faces
    faces = rng.choice(len(areas), size=surface_samples, p=areas / areas.sum())
    u, v = rng.uniform(size=(2, surface_samples))
    flip = u + v > 1
    u[flip], v[flip] = 1 - u[flip], 1 - v[flip]
    bary = np.stack([1 - u - v, u, v], axis=1)  # (S, 3)
    corners = sequence.faces[faces]  # (S, 3)

    def surface_at(vertices: np.ndarray) -> np.ndarray:
        return np.einsum("sk,skd->sd", bary, vertices[corners])

    particles0 = sequence.rest_points.astype(np.float64)
    centre0 = particles0.mean(axis=0)
    scale = float(np.linalg.norm(sequence.rest_vertices.max(0) - sequence.rest_vertices.min(0)))
    rest = np.concatenate([particles0, surface_at(sequence.rest_vertices.astype(np.float64))])
    frames = []
    for t in range(sequence.num_frames):
        particles = sequence.points[t].astype(np.float64)
        R, _ = kabsch(particles0 - centre0, particles - particles.mean(axis=0))
        moved = np.concatenate([particles, surface_at(sequence.vertices[t].astype(np.float64))])
        frames.append((moved - particles.mean(axis=0)) @ R)  # back into the rest orientation
    return PreparedSequence(
        rest=((rest - centre0) / scale).astype(np.float32),
        frames=(np.stack(frames) / scale).astype(np.float32),
        scale=scale,
        family=sequence.spec.shape.family,
        index=sequence.spec.index,
    )


def prepare_split(
    index: DatasetIndex, split: str, surface_samples: int = 256
) -> list[PreparedSequence]:
    """Prepared sequences of a split ("train" or "heldout")."""
    out = [prepare(s, surface_samples, seed=s.spec.index) for s in index.sequences(split)]
    if not out:
        raise DatasetError(f"the {split!r} split of {index.root} is empty; generate more data.")
    return out


class _Batches:
    """Random (sequence, frame) samples with random rotations and point subsets."""

    def __init__(self, data: list[PreparedSequence], cfg: TrainConfig) -> None:
        self.data = data
        self.cfg = cfg
        self.rng = np.random.default_rng(cfg.seed)

    def sample(self) -> tuple[torch.Tensor, torch.Tensor]:
        rest, deformed = [], []
        for _ in range(self.cfg.batch):
            seq = self.data[self.rng.integers(len(self.data))]
            frame = self.rng.integers(seq.frames.shape[0])
            chosen = self.rng.choice(len(seq.rest), size=self.cfg.points, replace=False)
            # turned about the vertical only: gravity's direction stays meaningful
            angle = self.rng.uniform(0.0, 2 * np.pi)
            R = Rotation.from_rotvec([0.0, 0.0, angle]).as_matrix().astype(np.float32)
            rest.append(seq.rest[chosen] @ R.T)
            deformed.append(seq.frames[frame][chosen] @ R.T)
        return torch.as_tensor(np.stack(rest)), torch.as_tensor(np.stack(deformed))


def _schedule(
    optimizer: torch.optim.Optimizer, cfg: TrainConfig
) -> torch.optim.lr_scheduler.LRScheduler:
    """One-cycle learning rate: a warm-up over 5 % of the steps (at least 2, which the
    schedule needs: 20 steps gave it a 1-step warm-up and a division by zero), then the
    anneal; a run of fewer than 4 steps keeps the rate constant."""
    if cfg.steps < 4:
        return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda _: 1.0)
    return torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=cfg.lr, total_steps=cfg.steps, pct_start=max(0.05, 2.0 / cfg.steps)
    )


def train(
    data_dir: str | Path,
    model_cfg: NeuROKConfig | None = None,
    cfg: TrainConfig | None = None,
    progress: bool = True,
) -> tuple[NeuROK, dict[str, object]]:
    """Train a NeuROK on the ``train`` split of a dataset; returns (model, info) with the
    active subspace applied (``cfg.subspace_dim``) and the loss history in ``info``."""
    cfg = cfg or TrainConfig()
    model_cfg = model_cfg or NeuROKConfig()
    if cfg.subspace_dim > model_cfg.latent_dim:
        raise SettingsError(
            f"the active subspace ({cfg.subspace_dim}) cannot be larger than the latent "
            f"({model_cfg.latent_dim}); lower --subspace or raise --latent."
        )
    torch.manual_seed(cfg.seed)
    index = load_index(data_dir)
    data = prepare_split(index, "train", cfg.surface_samples)
    model = NeuROK(model_cfg)
    optimizer = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=1e-4)
    schedule = _schedule(optimizer, cfg)
    batches = _Batches(data, cfg)
    history: list[tuple[int, float, float]] = []
    start = time.perf_counter()
    bar = tqdm(range(cfg.steps), desc="neurok train", unit="step", disable=not progress)
    model.train()
    for step in bar:
        rest, deformed = batches.sample()
        predicted, kl = model(rest, deformed, rest)
        recon = torch.mean(torch.sum((predicted - deformed) ** 2, dim=-1), dim=-1) / SIGMA**2
        loss = torch.mean(recon + cfg.kl_weight * kl)
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        schedule.step()
        if step % 50 == 0 or step == cfg.steps - 1:
            history.append((step, float(recon.mean().detach()), float(kl.mean().detach())))
            bar.set_postfix(recon=f"{history[-1][1]:.3f}", kl=f"{history[-1][2]:.2f}")
        if cfg.time_limit and time.perf_counter() - start > cfg.time_limit:
            logger.warning("training stopped at step %d by the %.0f s limit", step, cfg.time_limit)
            break
    model.eval()
    basis, spectrum = active_subspace(model, data, cfg.subspace_dim, seed=cfg.seed)
    reduced = torch.cat([mu for _, _, mu in posterior_means(model, data)]) @ basis
    model.set_subspace(basis, (1.25 * reduced.abs().max(dim=0).values).clamp_min(1e-3))
    info = {
        "train_config": asdict(cfg),
        "data": {"root": str(index.root), "seed": index.seed, "train": len(data)},
        "history": history,
        "subspace_spectrum": spectrum,
        "train_time_s": round(time.perf_counter() - start, 1),
    }
    return model, info


@torch.no_grad()
def posterior_means(
    model: NeuROK, data: list[PreparedSequence], frames: int = 4
) -> list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
    """(tokens, rest, mu) for a few frames of every sequence, encoded in the rest frame."""
    out = []
    for seq in data:
        rest = torch.as_tensor(seq.rest)[None]
        tokens, _ = model.prior(rest)
        picks = np.linspace(0, seq.frames.shape[0] - 1, frames).round().astype(int)
        for t in picks:
            mu, _ = model.encoder(tokens, rest, torch.as_tensor(seq.frames[t])[None])
            out.append((tokens, rest, mu))
    return out


@torch.no_grad()
def active_subspace(
    model: NeuROK, data: list[PreparedSequence], dim: int, seed: int = 0
) -> tuple[torch.Tensor, list[float]]:
    """(basis (k, dim), eigenvalues): the top eigenvectors of C = E[J^T J], J the Jacobian of
    the decoded points with respect to the full latent at the data's posterior means
    (central differences)."""
    k = model.cfg.latent_dim
    C = torch.zeros(k, k, dtype=torch.float64)
    samples = posterior_means(model, data)
    eps = 1e-3
    for tokens, rest, mu in samples:
        stencil = torch.cat([mu + eps * torch.eye(k), mu - eps * torch.eye(k)])
        out = model.deform(stencil, tokens.expand(2 * k, -1, -1), rest.expand(2 * k, -1, -1))
        J = ((out[:k] - out[k:]) / (2 * eps)).reshape(k, -1).T.double()  # (3P, k)
        C += J.T @ J / J.shape[0]
    C /= len(samples)
    values, vectors = torch.linalg.eigh(C)
    order = torch.argsort(values, descending=True)
    basis = vectors[:, order[:dim]].to(torch.float32)
    return basis, values[order].tolist()
