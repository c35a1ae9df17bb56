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


def elastic_energy(F: np.ndarray, Jp: np.ndarray, volume: np.ndarray, groups: list) -> float:
    """Stored elastic energy sum V0 Psi(F) [J] of every particle, with the energy density
    Psi whose Kirchhoff stress the kernels use (kernels/warp/materials):

    - fixed corotated: mu sum (sigma_i - 1)^2 + lam / 2 (J - 1)^2 (snow: mu and lam hardened
      by exp(xi (1 - Jp)));
    - neo-Hookean: mu / 2 (tr F^T F - 3) - mu ln J + lam / 2 (ln J)^2;
    - von Mises and Drucker-Prager (St. Venant-Kirchhoff on the Hencky strain eps = ln sigma):
      mu sum eps_i^2 + lam / 2 (sum eps_i)^2, of the elastic part F left by the return map;
    - Tait fluid: K / gamma ((J^(1 - gamma) - 1) / (gamma - 1) + J - 1), so that p = -dPsi/dJ.

    ``groups`` are kernels.MaterialGroup (particle ranges, model names, kernel parameters).
    """
    total = 0.0
    for group in groups:
        sl = slice(group.start, group.end)
        F64 = F[sl].astype(np.float64)
        V0 = volume[sl].astype(np.float64)
        p = group.params
        J = np.linalg.det(F64)
        if group.model in ("fixed_corotated", "snow"):
            sigma = _singular_values(F64)
            sigma[:, 0] *= np.sign(J) + (J == 0)  # the polar rotation keeps det R = +1
            mu, lam = p["mu"], p["lam"]
            if group.model == "snow":
                hardening = np.exp(p["hardening"] * (1.0 - Jp[sl].astype(np.float64)))
                mu, lam = mu * hardening, lam * hardening
            psi = mu * np.sum((sigma - 1.0) ** 2, axis=1) + 0.5 * lam * (J - 1.0) ** 2
        elif group.model == "neohookean":
            log_J = np.log(np.maximum(J, 1e-12))
            stretch = np.einsum("pij,pij->p", F64, F64)
            psi = 0.5 * p["mu"] * (stretch - 3.0) - p["mu"] * log_J + 0.5 * p["lam"] * log_J**2
        elif group.model in ("von_mises", "drucker_prager"):
            eps = np.log(np.maximum(_singular_values(F64), 1e-6))
            psi = p["mu"] * np.sum(eps**2, axis=1) + 0.5 * p["lam"] * np.sum(eps, axis=1) ** 2
        elif group.model == "fluid":
            K, gamma = p["bulk_modulus"], p["gamma"]
            Jc = np.maximum(J, 1e-6)
            if abs(gamma - 1.0) < 1e-9:  # the limit of the expression below
                psi = K / gamma * (Jc - 1.0 - np.log(Jc))
            else:
                psi = K / gamma * ((Jc ** (1.0 - gamma) - 1.0) / (gamma - 1.0) + Jc - 1.0)
        else:  # a model without a stored energy
            continue
        total += float(np.sum(V0 * psi))
    return total


def _singular_values(F: np.ndarray) -> np.ndarray:
    """Singular values (P, 3), ascending, of a stack of 3x3 matrices: the square roots of the
    eigenvalues of F^T F by the closed form for symmetric 3x3 matrices (Smith 1961), on
    component arrays: a batched LAPACK SVD cost 13 % of the 100k-particle throughput."""
    c0, c1, c2 = F[:, :, 0], F[:, :, 1], F[:, :, 2]  # columns: A = F^T F holds their dots
    a00, a11, a22 = (c0 * c0).sum(1), (c1 * c1).sum(1), (c2 * c2).sum(1)
    a01, a02, a12 = (c0 * c1).sum(1), (c0 * c2).sum(1), (c1 * c2).sum(1)
    q = (a00 + a11 + a22) / 3.0
    b00, b11, b22 = a00 - q, a11 - q, a22 - q
    p = np.sqrt((b00**2 + b11**2 + b22**2 + 2.0 * (a01**2 + a02**2 + a12**2)) / 6.0)
    safe = np.where(p > 0.0, p, 1.0)
    det = (b00 * (b11 * b22 - a12 * a12) - a01 * (a01 * b22 - a12 * a02)
           + a02 * (a01 * a12 - b11 * a02))  # fmt: skip
    phi = np.arccos(np.clip(det / (2.0 * safe**3), -1.0, 1.0)) / 3.0
    largest = q + 2.0 * p * np.cos(phi)
    smallest = q + 2.0 * p * np.cos(phi + 2.0 * np.pi / 3.0)
    middle = 3.0 * q - largest - smallest
    return np.sqrt(np.maximum(np.stack([smallest, middle, largest], axis=1), 0.0))
