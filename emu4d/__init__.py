"""emu4d application layer: scene files, the simulate-export pipeline and the ``emu4d`` command."""

from __future__ import annotations

from emu4d.pipeline import SimulationResult, simulate_scene
from emu4d.scene import Scene, load_scene

__all__ = ["Scene", "SimulationResult", "load_scene", "simulate_scene"]
