"""What :func:`neurok.simulate` and :func:`neurok.fit` take as a model and a rest mesh: the
objects themselves, or what a notebook user naturally has at hand instead (a checkpoint path,
a mesh file, an mpm shape), turned into them; anything else is refused with a message that
says what is expected."""

from __future__ import annotations

from os import PathLike
from pathlib import Path
from typing import Any

import numpy as np
import trimesh

import mpm
from neurok.errors import MeshError, SettingsError
from neurok.model import NeuROK

# sizes [m] (bounding-box diagonal) far outside the training bodies (about 0.2-0.5 m):
# likely millimetres or kilometres given as metres
PLAUSIBLE_DIAGONAL = (0.01, 20.0)


def as_model(model: Any, where: str) -> NeuROK:
    """``model``, or the checkpoint at that path (:func:`neurok.load`)."""
    if isinstance(model, NeuROK):
        return model
    if isinstance(model, (str, PathLike)):
        from neurok.checkpoint import load

        return load(model)
    raise SettingsError(
        f"{where}: model must be a NeuROK (neurok.load()) or a checkpoint path, got "
        f"{type(model).__name__}."
    )


def as_mesh(rest_mesh: Any, where: str) -> trimesh.Trimesh:
    """``rest_mesh``, the mesh in that file, or an mpm shape's surface mesh ([m], placed)."""
    if isinstance(rest_mesh, trimesh.Trimesh):
        return rest_mesh
    if isinstance(rest_mesh, (str, PathLike)):
        if not Path(rest_mesh).is_file():
            raise MeshError(f"{where}: no mesh file at {rest_mesh}.")
        return trimesh.load(rest_mesh, force="mesh")
    if isinstance(rest_mesh, mpm.Shape):
        surface = rest_mesh.surface_mesh()
        if surface is not None:
            return surface
    raise MeshError(
        f"{where}: rest_mesh must be a trimesh.Trimesh, a mesh file or an mpm shape with a "
        f"surface, got {type(rest_mesh).__name__}."
    )


def check_size(mesh: trimesh.Trimesh, where: str) -> float:
    """The mesh's bounding-box diagonal [m]; refused when far outside plausible sizes."""
    diagonal = float(np.linalg.norm(mesh.bounds[1] - mesh.bounds[0]))
    low, high = PLAUSIBLE_DIAGONAL
    if not low <= diagonal <= high:
        raise MeshError(
            f"{where}: the mesh is {diagonal:.3g} m across; the emulator expects bodies of "
            f"{low}-{high} m given in metres (were the units millimetres? scale it with "
            "mesh.apply_scale)."
        )
    return diagonal
