"""Elasto-plastic solids with a von Mises yield surface ("metal", "plasticine")."""

from __future__ import annotations

from dataclasses import dataclass

from mpm.materials.base import (
    Material,
    check_non_negative,
    check_poisson,
    check_positive,
    lame_parameters,
    p_wave_speed,
)


@dataclass(frozen=True)
class VonMises(Material):
    """St. Venant-Kirchhoff on Hencky strain with perfect von Mises plasticity.

    Attributes:
        E: Young's modulus [Pa]. nu: Poisson ratio [-]. density: [kg/m^3].
        yield_stress: deviatoric Kirchhoff stress norm at which the material yields [Pa].
        viscosity: Kelvin-Voigt damping eta [Pa s].
    """

    E: float
    nu: float
    density: float
    yield_stress: float
    viscosity: float = 0.0

    def __post_init__(self) -> None:
        check_non_negative("VonMises", "viscosity", self.viscosity, "Pa s")
        check_positive("VonMises", "E", self.E, "Pa", "plasticine 2e5, soft metal 5e7")
        check_poisson("VonMises", self.nu)
        check_positive("VonMises", "density", self.density, "kg/m^3", "plasticine 1500")
        check_positive("VonMises", "yield_stress", self.yield_stress, "Pa", "plasticine 3e3")

    @property
    def kernel_model(self) -> str:
        return "von_mises"

    def kernel_params(self) -> dict[str, float]:
        mu, lam = lame_parameters(self.E, self.nu)
        return {
            "mu": mu,
            "lam": lam,
            "yield_stress": self.yield_stress,
            "viscosity": self.viscosity,
        }

    def wave_speed(self) -> float:
        return p_wave_speed(self.E, self.nu, self.density)
