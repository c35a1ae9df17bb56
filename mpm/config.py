"""Helpers for typed configuration: strict construction from mappings (scene files)."""

from __future__ import annotations

import collections.abc
import dataclasses
import difflib
import math
import numbers
import os
import types
import typing
from collections.abc import Mapping
from pathlib import Path
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
    if not isinstance(values, Mapping):
        raise ConfigError(f"{where} must be a table of keys and values, got {values!r}.")
    fields = [f for f in dataclasses.fields(cls) if f.init]  # type: ignore[arg-type]
    names = [f.name for f in fields]
    unknown = [k for k in values if k not in names]
    if unknown:
        problems = [f"unknown key {k!r} in {where}.{closest_key_hint(k, names)}" for k in unknown]
        raise ConfigError("; ".join(problems) + f" Valid keys: {names}.")
    missing = [
        f.name
        for f in fields
        if f.name not in values
        and f.default is dataclasses.MISSING
        and f.default_factory is dataclasses.MISSING
    ]
    if missing:
        them = "it" if len(missing) == 1 else "them"
        raise ConfigError(f"{where} needs {', '.join(map(repr, missing))}; add {them}.")
    check_types(cls, values, where)
    return cls(**values)


def check_types(fn: Any, values: Mapping[str, Any], where: str) -> None:
    """Raise ConfigError if a value does not fit the type annotation of its parameter.

    ``fn`` is a dataclass, a class or a function. Numbers must be numbers (a quoted "0.1" is
    refused rather than read one way here and another there), flags true or false, vectors
    lists of the annotated length; a text where a list is expected is refused instead of being
    split into characters. Parameters without a usable annotation are not checked.
    """
    hints = _type_hints(fn)
    for key, value in values.items():
        if key not in hints:
            continue
        expected = _expected(value, hints[key])
        if expected is not None:
            raise ConfigError(
                f"{where}: {key} must be {expected}, got {value!r}.{_fix(value, expected)}"
            )


def _type_hints(fn: Any) -> dict[str, Any]:
    target = fn.__init__ if isinstance(fn, type) and not dataclasses.is_dataclass(fn) else fn
    try:
        return typing.get_type_hints(target)
    except Exception:  # an annotation that cannot be resolved here: leave it unchecked
        return {}


def is_number(value: Any) -> bool:
    """True for a real number (Python's or NumPy's), False for a bool, a text or None."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _expected(value: Any, hint: Any) -> str | None:
    """None if ``value`` fits ``hint``, else what was expected, in words."""
    origin = typing.get_origin(hint)
    if hint is Any:
        return None
    if origin in (typing.Union, types.UnionType):
        wanted = [_expected(value, alternative) for alternative in typing.get_args(hint)]
        if any(w is None for w in wanted):
            return None
        return " or ".join(dict.fromkeys(w for w in wanted if w))
    if hint is type(None):
        return None if value is None else ""
    if hint is bool:
        return None if isinstance(value, bool) else "true or false"
    if hint is int:
        whole = isinstance(value, numbers.Integral) and not isinstance(value, bool)
        return None if whole else "a whole number"
    if hint is float:
        return None if is_number(value) else "a number"
    if hint is str:
        return None if isinstance(value, str) else "a text in quotes"
    if hint is Path:
        return None if isinstance(value, (str, os.PathLike)) else "a file path"
    if origin in (tuple, list, collections.abc.Sequence):
        return _expected_sequence(value, typing.get_args(hint))
    if origin in (dict, collections.abc.Mapping) or hint in (dict, Mapping):
        return None if isinstance(value, Mapping) else "a table of keys and values"
    return None  # other classes: their own constructors check them


def _expected_sequence(value: Any, args: tuple[Any, ...]) -> str | None:
    variadic = not args or (len(args) == 2 and args[1] is Ellipsis) or len(args) == 1
    item_hints = [args[0] if args else Any] if variadic else list(args)
    count = "" if variadic else f"{len(item_hints)} "
    noun = {float: "numbers", int: "whole numbers", str: "texts"}.get(item_hints[0], "items")
    wanted = f"a list of {count}{noun}"
    if isinstance(value, (str, bytes, Mapping)) or not isinstance(value, (list, tuple)):
        return wanted
    if not variadic and len(value) != len(item_hints):
        return wanted
    for i, item in enumerate(value):
        item_hint = item_hints[0] if variadic else item_hints[i]
        if item_hint in (float, int, str) and _expected(item, item_hint) is not None:
            return wanted
    return None


def _fix(value: Any, expected: str) -> str:
    """A hint for the common slips: a quoted number, a quoted flag, a single text for a list."""
    if isinstance(value, str) and expected.startswith("a list of texts"):
        return f" Write it as a list in brackets: [{value!r}]."
    if isinstance(value, str):
        try:
            float(value)
        except ValueError:
            pass
        else:
            return " Write numbers without quotes."
        if value.lower() in ("true", "false"):
            return f" Write {value.lower()} without quotes."
    return ""


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
