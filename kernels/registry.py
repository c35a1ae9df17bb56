"""Backend lookup by name, so that :mod:`mpm` never imports a backend module directly."""

from __future__ import annotations

import difflib
import importlib

from kernels.interface import GridSpec, MPMKernels

# name -> (module, class); modules import lazily so an absent backend costs nothing.
_BACKENDS: dict[str, tuple[str, str]] = {
    "warp": ("kernels.warp.backend", "WarpKernels"),
}


def available_backends() -> list[str]:
    """Names accepted by :func:`create_backend`."""
    return sorted(_BACKENDS)


def create_backend(
    name: str, grid: GridSpec, device: str, transfer: str = "apic"
) -> MPMKernels:
    """Instantiate backend ``name`` on ``device``.

    Raises:
        KeyError: unknown backend name (the message lists the known ones).
    """
    if name not in _BACKENDS:
        close = difflib.get_close_matches(name, list(_BACKENDS), n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise KeyError(
            f"unknown backend {name!r}; available backends: {available_backends()}.{hint}"
        )
    module_name, class_name = _BACKENDS[name]
    module = importlib.import_module(module_name)
    return getattr(module, class_name)(grid, device, transfer)
