"""Helpers for typed configuration: strict construction from mappings (scene files)."""

from __future__ import annotations

import dataclasses
import difflib
import math
from collections.abc import Mapping
from typing import Any, TypeVar

from mpm.errors import ConfigError

T = TypeVar("T")


def closest_key_hint(key: str, valid: list[str] | tuple[str, ...]) -> str:
    """A ' Did you mean ...?' suffix naming the closest valid key, or ''."""
    match = difflib.get_close_matches(key, list(valid), n=1, cutoff=0.5)
    return f" Did you mean {match[0]!r}?" if match else ""


def build_dataclass(cls: type[T], values: Mapping[str, Any], where: str) -> T:
    """Construct dataclass ``cls`` from ``values``, rejecting unknown keys by name.

    Raises:
        ConfigError: a key is not a field of ``cls`` (message names the closest field).
    """
    names = [f.name for f in dataclasses.fields(cls) if f.init]  # type: ignore[arg-type]
    unknown = [k for k in values if k not in names]
    if unknown:
        problems = [f"unknown key {k!r} in {where}.{closest_key_hint(k, names)}" for k in unknown]
        raise ConfigError("; ".join(problems) + f" Valid keys: {names}.")
    return cls(**values)


def require_positive(name: str, value: float, unit: str, fix: str = "") -> float:
    """Return ``value`` as float, or raise ConfigError if it is not a finite positive number."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{name} must be a number [{unit}], got {value!r}.") from None
    if not math.isfinite(number) or number <= 0.0:
        raise ConfigError(f"{name} must be positive and finite [{unit}], got {value!r}. {fix}")
    return number


def as_vec3(name: str, value: Any) -> tuple[float, float, float]:
    """Coerce a length-3 sequence of finite numbers, or raise ConfigError naming ``name``."""
    try:
        items = tuple(float(v) for v in value)
    except (TypeError, ValueError):
        raise ConfigError(f"{name} must be 3 numbers (x, y, z), got {value!r}.") from None
    if len(items) != 3 or not all(math.isfinite(v) for v in items):
        raise ConfigError(f"{name} must be 3 finite numbers (x, y, z), got {value!r}.")
    return items  # type: ignore[return-value]
