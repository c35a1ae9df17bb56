"""The interface every material implements, and shared parameter checks."""

from __future__ import annotations

import dataclasses
import math
from abc import ABC, abstractmethod
from typing import Any

from mpm.errors import MaterialError


class Material(ABC):
    """A constitutive model. Subclasses are frozen dataclasses with a ``density`` [kg/m^3]."""

    density: float

    @property
    @abstractmethod
    def kernel_model(self) -> str:
        """Name of the kernel model (see kernels.interface.MATERIAL_MODELS)."""

    @abstractmethod
    def kernel_params(self) -> dict[str, float]:
        """Parameters passed to the kernels (see kernels.interface.MATERIAL_PARAMETERS)."""

    @abstractmethod
    def wave_speed(self) -> float:
        """Largest elastic/acoustic wave speed [m/s], for the CFL time-step bound."""

    def viscous_dt(self, dx: float) -> float:
        """Explicit stability bound of the viscous term, dx^2 rho / (6 eta) [s] (inf if eta=0)."""
        eta = float(getattr(self, "viscosity", 0.0))
        return math.inf if eta <= 0.0 else dx * dx * self.density / (6.0 * eta)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready description, ``{"type": class name, **fields}``."""
        return {"type": type(self).__name__, **dataclasses.asdict(self)}  # type: ignore[call-overload]


def check_positive(material: str, name: str, value: float, unit: str, typical: str) -> None:
    """Raise MaterialError unless value is a finite number > 0."""
    if not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
        raise MaterialError(
            f"{material}: {name} must be a positive number [{unit}], got {value!r}. "
            f"Typical values: {typical}."
        )


def check_non_negative(material: str, name: str, value: float, unit: str) -> None:
    """Raise MaterialError unless value is a finite number >= 0."""
    if not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
        raise MaterialError(f"{material}: {name} must be >= 0 [{unit}], got {value!r}.")


def check_poisson(material: str, nu: float) -> None:
    """Raise MaterialError unless -1 < nu < 0.5 (nu = 0.5 is incompressible: lambda infinite)."""
    if not isinstance(nu, (int, float)) or not math.isfinite(nu) or not -1.0 < nu < 0.5:
        raise MaterialError(
            f"{material}: Poisson ratio nu must satisfy -1 < nu < 0.5, got {nu!r}. "
            "nu = 0.5 means an incompressible solid (infinite lambda) which explicit MPM "
            "cannot step; use e.g. nu = 0.45 for rubber-like materials, or mpm.materials.Fluid."
        )


def lame_parameters(E: float, nu: float) -> tuple[float, float]:
    """Shear modulus mu and first Lamé parameter lambda [Pa] from Young's modulus and nu."""
    mu = E / (2.0 * (1.0 + nu))
    lam = E * nu / ((1.0 + nu) * (1.0 - 2.0 * nu))
    return mu, lam


def p_wave_speed(E: float, nu: float, density: float) -> float:
    """Dilatational wave speed c_p = sqrt((lambda + 2 mu) / rho) [m/s]."""
    mu, lam = lame_parameters(E, nu)
    return math.sqrt((lam + 2.0 * mu) / density)
