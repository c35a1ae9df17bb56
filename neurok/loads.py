"""External loads on an emulated object (forces over an interval, impulses at an instant) and
their array form, which the NumPy and the compiled integrator both read."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from neurok.errors import LatentError, SettingsError


@dataclass
class Load:
    """An external load on the emulated object: a constant ``force`` [N] over [start, end) s,
    or an ``impulse`` [N s] at ``start`` (spread over one step); on the points inside
    ``region`` (an mpm shape at the rest placement), or on all points."""

    force: tuple[float, float, float] = (0.0, 0.0, 0.0)
    impulse: tuple[float, float, float] | None = None
    start: float = 0.0
    end: float = float("inf")
    region: Any = None
    mask: np.ndarray | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        """Refuse a load that would act wrongly without a word: a vector that is not 3 finite
        numbers, a start that is negative or not finite, an end before the start."""
        for name, vector in (("force", self.force), ("impulse", self.impulse)):
            if vector is None:
                continue
            values = np.asarray(vector, dtype=np.float64)
            if values.shape != (3,) or not np.isfinite(values).all():
                raise SettingsError(f"Load {name} must be 3 finite numbers, got {vector}.")
        if not (np.isfinite(self.start) and self.start >= 0):
            raise SettingsError(f"Load start must be a time >= 0 [s], got {self.start}.")
        if not self.end > self.start:
            raise SettingsError(
                f"Load end ({self.end} s) must come after its start ({self.start} s)."
            )


class LoadTable:
    """The loads as arrays, ``(t, x) -> (N, 3)`` forces [N] when called: per load its
    ``times`` (start, end, 1 for an impulse), ``vectors`` (force [N] or impulse [N s]) and
    ``shares`` (the fraction each point takes, by mass). An impulse is spread over the step
    ``h`` [s] that starts at or before its time; the compiled integrator reads the same arrays."""

    def __init__(self, loads: Sequence[Load], rest: np.ndarray, mass: np.ndarray, h: float) -> None:
        self.h = float(h)
        self.times = np.zeros((len(loads), 3))
        self.vectors = np.zeros((len(loads), 3))
        self.shares = np.zeros((len(loads), len(rest)))
        for i, load in enumerate(loads):
            mask = np.ones(len(rest), bool) if load.region is None else load.region.contains(rest)
            if not mask.any():
                raise LatentError(f"the load region of {load} contains no point of the object.")
            share = mass * mask
            self.shares[i] = share / share.sum()
            impulse = load.impulse is not None
            self.times[i] = (load.start, load.end, float(impulse))
            self.vectors[i] = np.asarray(load.impulse if impulse else load.force, np.float64)

    def __call__(self, t: float, x: np.ndarray) -> np.ndarray:
        f = np.zeros_like(x)
        for (start, end, impulse), vector, share in zip(
            self.times, self.vectors, self.shares, strict=True
        ):
            if impulse and start <= t < start + self.h:
                f += share[:, None] * vector / self.h
            elif not impulse and start <= t < end:
                f += share[:, None] * vector
        return f
