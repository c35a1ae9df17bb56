"""Scripted loads on objects: forces over a time span and instantaneous impulses."""

from __future__ import annotations

import math
from dataclasses import dataclass

from mpm.config import as_vec3, is_number
from mpm.errors import ConfigError
from mpm.shapes import Shape


@dataclass(frozen=True)
class Force:
    """A total force [N] spread over the selected particles by mass, during [start, end) [s].

    ``region`` (a Shape) restricts it to the particles inside the region at the start time;
    None selects the whole object.
    """

    object_name: str
    force: tuple[float, float, float]
    start: float
    end: float
    region: Shape | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "force", as_vec3("Force.force", self.force))
        object.__setattr__(self, "start", _time("Force.start", self.start))
        object.__setattr__(self, "end", _time("Force.end", self.end))
        if not (math.isfinite(self.start) and math.isfinite(self.end) and self.end > self.start):
            raise ConfigError(
                f"Force on {self.object_name!r}: need start < end [s], got "
                f"start={self.start}, end={self.end}."
            )


@dataclass(frozen=True)
class Impulse:
    """An impulse [N s] applied at ``time`` [s] as a velocity change J / M_selected."""

    object_name: str
    impulse: tuple[float, float, float]
    time: float
    region: Shape | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "impulse", as_vec3("Impulse.impulse", self.impulse))
        object.__setattr__(self, "time", _time("Impulse.time", self.time))
        if not math.isfinite(self.time) or self.time < 0:
            raise ConfigError(f"Impulse on {self.object_name!r}: time must be >= 0 [s].")


def _time(name: str, value: object) -> float:
    """``value`` [s] as a float, or ConfigError naming ``name`` (a text, None)."""
    if not is_number(value):
        raise ConfigError(f"{name} must be a time in seconds (a number), got {value!r}.")
    return float(value)
