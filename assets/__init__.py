"""Data shipped with emu4d (meshes, scenes, body model, checkpoints) and how to find it.

``asset_path("meshes", "bunny.obj")`` works from any working directory and from an installed
package, because it resolves against this file's directory rather than the cwd.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["ASSETS_DIR", "asset_path"]

ASSETS_DIR: Path = Path(__file__).resolve().parent
"""Absolute path of the ``assets/`` directory."""


def asset_path(*parts: str) -> Path:
    """Absolute path of a shipped asset, e.g. ``asset_path("meshes", "bunny.obj")``.

    Raises:
        FileNotFoundError: the asset does not exist; the message lists what the nearest existing
            directory contains, so a typo is easy to spot.
    """
    path = ASSETS_DIR.joinpath(*parts)
    if path.exists():
        return path
    parent = path.parent
    while not parent.is_dir():
        parent = parent.parent
    available = sorted(
        p.name + ("/" if p.is_dir() else "")
        for p in parent.iterdir()
        if not p.name.startswith((".", "__"))
    )
    shown = ", ".join(available) if available else "(nothing)"
    raise FileNotFoundError(
        f"asset {'/'.join(parts)!r} not found at {path}. "
        f"{parent} contains: {shown}. "
        "Generated meshes are rebuilt with `python assets/make_meshes.py`."
    )
