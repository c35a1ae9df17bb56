"""Saving and loading trained models (a single ``.pt`` file: config, weights, active subspace
and how it was trained)."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Any

import torch

from mpm.fileio import atomic_path
from neurok.errors import CheckpointError
from neurok.model import NeuROK, NeuROKConfig

FORMAT_VERSION = 1
DEFAULT_CHECKPOINT = Path(__file__).resolve().parent.parent / "assets" / "checkpoints" / "neurok.pt"
REPRODUCE = (
    "emu4d neurok train --data out/neurok_data -o assets/checkpoints/neurok.pt --steps 7000 "
    "--time-limit 0"
)


def save(model: NeuROK, path: str | Path, info: dict[str, Any] | None = None) -> Path:
    """Write ``model`` (with ``info``: training command, data seed, metrics) atomically."""
    path = Path(path)
    payload = {
        "version": FORMAT_VERSION,
        "config": asdict(model.cfg),
        "state_dict": {k: v.detach().to(torch.float32) for k, v in model.state_dict().items()},
        "info": info or {},
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        torch.save(payload, tmp)
    return path


def load(path: str | Path | None = None) -> NeuROK:
    """Load a model (default: the shipped ``assets/checkpoints/neurok.pt``), in eval mode.

    Raises:
        CheckpointError: the file is missing, unreadable or from another format version.
    """
    path = Path(path) if path is not None else DEFAULT_CHECKPOINT
    if not path.is_file():
        raise CheckpointError(
            f"no NeuROK checkpoint at {path}. Train one with `{REPRODUCE}` (after `emu4d "
            "neurok data -o out/neurok_data`), or pass the path of a checkpoint you have."
        )
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
        if payload.get("version") != FORMAT_VERSION:
            raise CheckpointError(
                f"{path} is checkpoint format {payload.get('version')}, this emu4d reads "
                f"{FORMAT_VERSION}; retrain it with `{REPRODUCE}`."
            )
        # checkpoints from before the latent coupling was an option used "tokens"
        model = NeuROK(NeuROKConfig(**{"coupling": "tokens", **payload["config"]}))
        state = payload["state_dict"]
        model.basis = torch.zeros_like(state["basis"])  # the reduced size is in the file
        model.latent_range = torch.zeros_like(state["latent_range"])
        model.load_state_dict(state)
    except CheckpointError:
        raise
    except Exception as error:  # torch raises many types for truncated or foreign files
        raise CheckpointError(  # torch's own text advises unsafe loading: not repeated
            f"{path} is not a readable NeuROK checkpoint ({type(error).__name__}; a checkpoint "
            f"is the .pt file `emu4d neurok train` writes); retrain it with `{REPRODUCE}`."
        ) from error
    model.info = dict(payload.get("info", {}))  # type: ignore[attr-defined]
    return model.eval()
