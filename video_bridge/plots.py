"""Plots of a trajectory's per-frame diagnostics (energy, momentum, time stepping, centres of mass).

Figures are built with :class:`matplotlib.figure.Figure` and rendered by the Agg canvas, never
through ``pyplot``: nothing here needs a display or changes the global matplotlib backend, so
it works headless and leaves a notebook's own backend alone. The figure returned by
:func:`diagnostics_figure` shows itself inline in Jupyter (it has a PNG representation).

Diagnostics keys understood (as recorded by ``mpm.Simulator.run``):

=============================  =========  =============================================
key                            shape      panel
=============================  =========  =============================================
``kinetic_energy``             (T,)  [J]  energy (with their sum when two are present)
``gravity_potential_energy``   (T,)  [J]  energy
``elastic_energy``             (T,)  [J]  energy
``linear_momentum``            (T, 3)     linear momentum: norm and components
``angular_momentum``           (T, 3)     angular momentum: norm and components
``substeps``, ``dt``           (T,)       time stepping: substeps per frame, dt [s]
``center_of_mass:<object>``    (T, 3)     centre-of-mass height z [m], one line per object
=============================  =========  =============================================

Any other key gets a panel of its own (its norm and components when it is a vector).
"""

from __future__ import annotations

import difflib
import io
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from mpm.errors import TrajectoryError
from mpm.fileio import atomic_path
from mpm.trajectory import Trajectory

__all__ = ["DiagnosticsFigure", "diagnostics_figure", "plot_diagnostics"]

logger = logging.getLogger("emu4d.video_bridge")

_ENERGY = ("kinetic_energy", "gravity_potential_energy", "elastic_energy")
_STEPPING = ("substeps", "dt")
_COM_PREFIX = "center_of_mass:"
_VECTOR_PANELS = {
    "linear_momentum": ("linear momentum", "kg m/s", "|P|"),
    "angular_momentum": ("angular momentum", "kg m²/s", "|L|"),
}
_AXES = "xyz"
_PANEL_HEIGHT = 2.0  # inches
_FIGURE_WIDTH = 8.0  # inches


class DiagnosticsFigure(Figure):
    """A matplotlib Figure that Jupyter displays inline as PNG, without pyplot."""

    def _repr_png_(self) -> bytes:
        buffer = io.BytesIO()
        FigureCanvasAgg(self)
        self.savefig(buffer, format="png")
        return buffer.getvalue()


def _select_keys(traj: Trajectory, keys: Sequence[str] | None) -> list[str]:
    available = list(traj.diagnostics)
    if keys is None:
        selected = available
    else:
        if isinstance(keys, str):
            keys = [keys]
        selected = []
        for key in keys:
            if key not in traj.diagnostics:
                match = difflib.get_close_matches(key, available, n=1)
                hint = f" Did you mean {match[0]!r}?" if match else ""
                raise TrajectoryError(
                    f"the trajectory has no diagnostic {key!r}; it has {available}.{hint}"
                )
            selected.append(key)
    if not selected:
        raise TrajectoryError(
            "the trajectory has no diagnostics to plot (Trajectory.diagnostics is empty)"
        )
    return selected


def _plot_vector(ax: Axes, t: np.ndarray, values: np.ndarray, norm_label: str) -> None:
    """Norm (thick) and components (thin) of a (T, C) series; a (T,) series as one line."""
    values = np.asarray(values, dtype=np.float64)
    if values.ndim == 1:
        ax.plot(t, values, lw=1.5)
        return
    flat = values.reshape(values.shape[0], -1)
    ax.plot(t, np.linalg.norm(flat, axis=1), color="k", lw=1.8, label=norm_label)
    if flat.shape[1] <= 3:
        for c in range(flat.shape[1]):
            ax.plot(t, flat[:, c], lw=1.0, alpha=0.8, label=f"{_AXES[c]}")
    ax.legend(loc="best", fontsize="small", ncols=4)


def diagnostics_figure(
    traj: Trajectory, keys: Sequence[str] | None = None, title: str = "diagnostics"
) -> Figure:
    """One subplot per diagnostic group against time [s] (see the module table).

    Args:
        traj: the trajectory whose ``diagnostics`` to plot.
        keys: diagnostic keys to include (default all). A group is drawn when any of its keys
            is selected.
        title: the figure title.

    Returns:
        A :class:`DiagnosticsFigure` (a matplotlib Figure); save it with
        ``fig.savefig(path)`` or use :func:`plot_diagnostics`.

    Raises:
        TrajectoryError: no diagnostics, or a key the trajectory does not have.
    """
    selected = _select_keys(traj, keys)
    diag = {key: np.asarray(traj.diagnostics[key], dtype=np.float64) for key in selected}
    t = np.asarray(traj.times, dtype=np.float64)

    panels: list[tuple[str, Any]] = []
    energy = [k for k in _ENERGY if k in diag]
    if energy:
        panels.append(("energy", energy))
    for key in _VECTOR_PANELS:
        if key in diag:
            panels.append((key, key))
    stepping = [k for k in _STEPPING if k in diag]
    if stepping:
        panels.append(("stepping", stepping))
    com = [k for k in diag if k.startswith(_COM_PREFIX)]
    if com:
        panels.append(("com", com))
    known = {*_ENERGY, *_VECTOR_PANELS, *_STEPPING, *com}
    panels += [("other", k) for k in diag if k not in known]

    fig = DiagnosticsFigure(
        figsize=(_FIGURE_WIDTH, _PANEL_HEIGHT * len(panels)), layout="constrained"
    )
    axes = fig.subplots(len(panels), 1, sharex=True, squeeze=False)[:, 0]
    for ax, (kind, content) in zip(axes, panels, strict=True):
        ax.grid(True, alpha=0.3)
        if kind == "energy":
            labels = {"kinetic_energy": "kinetic", "gravity_potential_energy": "gravity potential",
                      "elastic_energy": "elastic"}  # fmt: skip
            for key in content:
                ax.plot(t, diag[key], lw=1.2, label=labels[key])
            if len(content) >= 2:
                total = sum(diag[key] for key in content)
                missing = "" if "elastic_energy" in content else " (no elastic energy)"
                ax.plot(t, total, color="k", lw=1.8, label=f"sum{missing}")
            ax.set_ylabel("energy [J]")
            ax.legend(loc="best", fontsize="small")
        elif kind in _VECTOR_PANELS:
            name, unit, norm_label = _VECTOR_PANELS[kind]
            _plot_vector(ax, t, diag[content], norm_label)
            ax.set_ylabel(f"{name}\n[{unit}]")
        elif kind == "stepping":
            _plot_stepping(ax, t, diag)
        elif kind == "com":
            for key in content:
                values = diag[key]
                z = values[:, 2] if values.ndim == 2 and values.shape[1] >= 3 else values
                ax.plot(t, z, lw=1.5, label=key[len(_COM_PREFIX) :])
            ax.set_ylabel("centre of mass\nz [m]")
            ax.legend(loc="best", fontsize="small")
        else:
            _plot_vector(ax, t, diag[content], f"|{content}|")
            ax.set_ylabel(content)
    axes[-1].set_xlabel("time [s]")
    fig.suptitle(title)
    return fig


def _plot_stepping(ax: Axes, t: np.ndarray, diag: dict[str, np.ndarray]) -> None:
    """Substeps per frame on the left axis, dt [s] on a twin right axis.

    Frames without a step (the initial state is recorded with substeps 0 and dt 0) are left
    out so they do not stretch the axes.
    """
    stepped = np.ones(t.shape, dtype=bool)
    if "dt" in diag:
        stepped &= diag["dt"] > 0
    if "substeps" in diag:
        stepped &= diag["substeps"] > 0
    if "substeps" in diag:
        ax.plot(t[stepped], diag["substeps"][stepped], color="tab:blue", lw=1.3, marker=".")
        ax.set_ylabel("substeps\nper frame", color="tab:blue")
    if "dt" in diag:
        twin = ax.twinx() if "substeps" in diag else ax
        twin.plot(t[stepped], diag["dt"][stepped], color="tab:red", lw=1.0, ls="--")
        twin.set_ylabel("dt [s]", color="tab:red")


def plot_diagnostics(
    traj: Trajectory,
    path: str | Path,
    keys: Sequence[str] | None = None,
    dpi: int = 100,
    title: str = "diagnostics",
) -> Path:
    """Draw :func:`diagnostics_figure` and write it as a PNG [``dpi`` pixels per inch,
    8 inches wide], atomically; returns ``path``."""
    fig = diagnostics_figure(traj, keys, title=title)
    path = Path(path)
    with atomic_path(path) as tmp:
        FigureCanvasAgg(fig)  # attach an Agg canvas: no pyplot, no display needed
        fig.savefig(tmp, format="png", dpi=dpi)
    logger.debug("wrote diagnostics plot to %s", path)
    return path
