"""Weakly compressible liquid ("water")."""

from __future__ import annotations

import math
from dataclasses import dataclass

from mpm.materials.base import Material, check_non_negative, check_positive


@dataclass(frozen=True)
class Fluid(Material):
    """Inviscid liquid with the Tait equation of state p = K/gamma (J^-gamma - 1).

    The bulk modulus K is far below real water's 2.2e9 Pa: weakly compressible schemes keep the
    sound speed c = sqrt(K/rho) about ten times the flow speed, which bounds density errors to
    about 1% while allowing an explicit step ~1000x larger.

    Attributes:
        density: rest density [kg/m^3]. bulk_modulus: K [Pa]. gamma: Tait exponent [-].
        viscosity: dynamic viscosity eta [Pa s] (water: 1e-3; honey: ~10).
    """

    density: float = 1000.0
    bulk_modulus: float = 2.0e5
    gamma: float = 7.0
    viscosity: float = 0.0

    def __post_init__(self) -> None:
        check_non_negative("Fluid", "viscosity", self.viscosity, "Pa s")
        check_positive("Fluid", "density", self.density, "kg/m^3", "water 1000")
        check_positive("Fluid", "bulk_modulus", self.bulk_modulus, "Pa", "1e5 .. 1e6")
        check_positive("Fluid", "gamma", self.gamma, "-", "7 (water), 1 (linear)")

    @property
    def kernel_model(self) -> str:
        return "fluid"

    def kernel_params(self) -> dict[str, float]:
        return {
            "bulk_modulus": self.bulk_modulus,
            "gamma": self.gamma,
            "viscosity": self.viscosity,
        }

    def wave_speed(self) -> float:
        return math.sqrt(self.bulk_modulus / self.density)
