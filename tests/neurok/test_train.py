"""Training on a tiny generated dataset (neurok.train)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

from neurok import NeuROKConfig, generate_dataset
from neurok.data import load_index
from neurok.train import TrainConfig, prepare, train


@pytest.fixture(scope="module")
def tiny_dataset(tmp_path_factory) -> str:
    root = tmp_path_factory.mktemp("neurok_data")
    generate_dataset(root, 2, seed=1, duration=0.3, cells_per_size=6, progress=False)
    return str(root)


def test_prepared_frames_are_rigidly_aligned(tiny_dataset: str) -> None:
    """After Kabsch alignment the particle subset of every frame has its centroid at the
    origin and no net rotation against the rest cloud (the cross-covariance is symmetric
    to 1e-6 relative); frame 0 equals the rest cloud."""
    index = load_index(tiny_dataset)
    seq = prepare(index.load(1), surface_samples=64)
    n = len(index.load(1).rest_points)
    np.testing.assert_allclose(seq.frames[0], seq.rest, atol=1e-6)
    for frame in seq.frames:
        particles = frame[:n].astype(np.float64)
        assert np.abs(particles.mean(axis=0)).max() < 1e-6
        H = seq.rest[:n].astype(np.float64).T @ particles
        assert np.abs(H - H.T).max() < 1e-6 * np.abs(H).max()


def test_training_lowers_the_loss_and_builds_an_orthonormal_subspace(tiny_dataset: str) -> None:
    """Training on the tiny set reconstructs its frames (posterior means, every frame) with a
    lower error than the untrained model, which outputs the rest shape (< 99 % of it;
    measured 97 %: learning is slow, see the session note); the
    active subspace is k x k_q with orthonormal columns and a sorted spectrum."""
    cfg = NeuROKConfig(latent_dim=6, width=16, num_tokens=4, heads=2, encoder_layers=1,
                       decoder_layers=1, frequencies=3)  # fmt: skip
    model, info = train(tiny_dataset, cfg, TrainConfig(steps=150, batch=4, points=64,
                        subspace_dim=3, surface_samples=64), progress=False)  # fmt: skip
    data = [prepare(load_index(tiny_dataset).load(i), surface_samples=64) for i in (0, 1)]
    trained, untrained = [], []
    with torch.no_grad():
        for seq in data:
            rest = torch.as_tensor(seq.rest)[None]
            tokens, _ = model.prior(rest)
            for frame in seq.frames:
                target = torch.as_tensor(frame)[None]
                mu, _ = model.encoder(tokens, rest, target)
                trained.append(float(((model.deform(mu, tokens, rest) - target) ** 2).mean()))
                untrained.append(float(((rest - target) ** 2).mean()))
    assert np.mean(trained) < 0.99 * np.mean(untrained), (np.mean(trained), np.mean(untrained))
    assert model.state_dim == 3
    gram = model.basis.T @ model.basis
    torch.testing.assert_close(gram, torch.eye(3), atol=1e-5, rtol=0)
    spectrum = info["subspace_spectrum"]
    assert all(a >= b for a, b in itertools.pairwise(spectrum))


def test_bad_training_settings_are_refused_before_any_work(tmp_path) -> None:
    """Settings that would train nothing or fail only after the data is prepared raise a
    SettingsError at once: zero steps (it failed inside the learning-rate schedule), a zero
    batch, a negative KL weight, and an active subspace larger than the latent (it failed
    after the whole training). The dataset directory is never read (it does not exist)."""
    from neurok import SettingsError

    for settings, message in (({"steps": 0}, "steps"), ({"steps": float("nan")}, "steps"),
                              ({"batch": 0}, "batch"),
                              ({"kl_weight": -0.1}, "kl_weight"), ({"lr": 0.0}, "lr")):  # fmt: skip
        with pytest.raises(SettingsError, match=message):
            TrainConfig(**settings)
    with pytest.raises(SettingsError, match="cannot be larger than the latent"):
        train(tmp_path / "missing", NeuROKConfig(latent_dim=4), TrainConfig(subspace_dim=6),
              progress=False)  # fmt: skip


@pytest.mark.parametrize("steps", [1, 2, 3, 20])
def test_a_short_training_runs_whatever_its_step_count(tiny_dataset: str, steps: int) -> None:
    """`--steps 20` (a natural toy value) crashed in the learning-rate schedule with a
    ZeroDivisionError (its 5 % warm-up was one step); short runs of 1, 2, 3 and 20 steps now
    train and return a model with its active subspace."""
    cfg = NeuROKConfig(latent_dim=6, width=16, num_tokens=4, heads=2, encoder_layers=1,
                       decoder_layers=1, frequencies=3)  # fmt: skip
    model, _ = train(tiny_dataset, cfg, TrainConfig(steps=steps, batch=2, points=32,
                        subspace_dim=3, surface_samples=32), progress=False)  # fmt: skip
    assert model.state_dim == 3
