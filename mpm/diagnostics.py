"""Conserved quantities of a particle state (numpy reference, used per output frame)."""

from __future__ import annotations

import numpy as np


def kinetic_energy(mass: np.ndarray, v: np.ndarray) -> float:
    """Sum 1/2 m |v|^2 [J] (the APIC affine part is not included)."""
    return float(0.5 * np.sum(mass.astype(np.float64) * np.sum(v.astype(np.float64) ** 2, axis=1)))


def linear_momentum(mass: np.ndarray, v: np.ndarray) -> np.ndarray:
    """P = sum m v [kg m/s], (3,) float64."""
    return (mass.astype(np.float64)[:, None] * v.astype(np.float64)).sum(axis=0)


def angular_momentum(
    mass: np.ndarray, x: np.ndarray, v: np.ndarray, C: np.ndarray, dx: float
) -> np.ndarray:
    """L = sum m x × v + m D eps:C about the origin [kg m^2/s], (3,) float64.

    The affine term is the angular momentum APIC stores in C: for quadratic B-splines the
    inertia-like tensor is D = dx^2 / 4 I, so particle p carries m D (C32 - C23, C13 - C31,
    C21 - C12) (Jiang et al. 2015).
    """
    m = mass.astype(np.float64)
    orbital = np.cross(x.astype(np.float64), v.astype(np.float64))
    C64 = C.astype(np.float64)
    spin = np.stack(
        [C64[:, 2, 1] - C64[:, 1, 2], C64[:, 0, 2] - C64[:, 2, 0], C64[:, 1, 0] - C64[:, 0, 1]],
        axis=1,
    )
    return (m[:, None] * (orbital + 0.25 * dx * dx * spin)).sum(axis=0)


def gravity_potential(mass: np.ndarray, x: np.ndarray, gravity: np.ndarray) -> float:
    """Sum -m g·x [J] (zero at the origin)."""
    return float(-np.sum(mass.astype(np.float64) * (x.astype(np.float64) @ gravity)))


def center_of_mass(mass: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Mass-weighted mean position [m], (3,) float64."""
    m = mass.astype(np.float64)
    return (m[:, None] * x.astype(np.float64)).sum(axis=0) / m.sum()
