"""Per-frame recording of a run: particle and surface positions, diagnostics, metadata."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from kernels import ParticleData
from mpm import diagnostics
from mpm.trajectory import Track, Trajectory

if TYPE_CHECKING:
    from mpm.simulator import Simulator


class FrameRecorder:
    """Accumulates frames and diagnostics during ``Simulator.run``."""

    def __init__(self, sim: Simulator, record_velocities: bool) -> None:
        self.sim = sim
        self.record_velocities = record_velocities
        self.times: list[float] = []
        self.positions: list[np.ndarray] = []
        self.velocities: list[np.ndarray] = []
        self.surfaces: list[np.ndarray] = []
        self.diag: dict[str, list[Any]] = {}

    def _add(self, key: str, value: Any) -> None:
        self.diag.setdefault(key, []).append(value)

    def record(
        self, time: float, state: ParticleData, tracers: np.ndarray, substeps: int, dt: float
    ) -> None:
        sim = self.sim
        self.times.append(time)
        self.positions.append(state.x.copy())
        if self.record_velocities:
            self.velocities.append(state.v.copy())
        self.surfaces.append(tracers.copy())
        m, x, v, C = state.mass, state.x, state.v, state.C
        self._add("kinetic_energy", diagnostics.kinetic_energy(m, v))
        self._add("gravity_potential_energy", diagnostics.gravity_potential(m, x, sim.gravity))
        self._add(
            "elastic_energy",
            diagnostics.elastic_energy(state.F, state.Jp, state.volume, sim._groups),
        )
        self._add("linear_momentum", diagnostics.linear_momentum(m, v))
        self._add("angular_momentum", diagnostics.angular_momentum(m, x, v, C, sim.dx))
        self._add("substeps", substeps)
        self._add("dt", dt)
        for obj in sim.objects.values():
            sl = slice(obj.start, obj.end)
            self._add(f"center_of_mass:{obj.name}", diagnostics.center_of_mass(m[sl], x[sl]))

    def finish(self) -> Trajectory:
        sim = self.sim
        positions = np.stack(self.positions)
        velocities = np.stack(self.velocities) if self.record_velocities else None
        surfaces = np.stack(self.surfaces)
        tracks: dict[str, Track] = {}
        for obj in sim.objects.values():
            sl = slice(obj.start, obj.end)
            tracks[obj.name] = Track(
                positions=positions[:, sl],
                velocities=None if velocities is None else velocities[:, sl],
                attributes={
                    "mass": obj.sample.volumes * np.float32(obj.material.density),
                    "volume": obj.sample.volumes,
                },
                object_name=obj.name,
            )
            if obj.tracer_end > obj.tracer_start:
                tracks[f"{obj.name}_surface"] = Track(
                    positions=surfaces[:, obj.tracer_start : obj.tracer_end],
                    faces=obj.sample.surface_faces,
                    object_name=obj.name,
                )
        diag = {k: np.asarray(v) for k, v in self.diag.items()}
        meta = sim.metadata()
        substeps = diag["substeps"][1:]
        meta["time_stepping"] = {
            "substeps_total": int(substeps.sum()),
            "dt_min": float(diag["dt"][1:].min()),
            "dt_max": float(diag["dt"][1:].max()),
        }
        return Trajectory(
            times=np.asarray(self.times, dtype=np.float64),
            tracks=tracks,
            diagnostics=diag,
            metadata=meta,
        )
