"""Hyperelastic solids ("jelly", "rubber")."""

from __future__ import annotations

from dataclasses import dataclass

from mpm.errors import MaterialError
from mpm.materials.base import (
    Material,
    check_non_negative,
    check_poisson,
    check_positive,
    lame_parameters,
    p_wave_speed,
)

ELASTIC_MODELS = ("fixed_corotated", "neohookean")


@dataclass(frozen=True)
class Elastic(Material):
    """Isotropic hyperelastic solid.

    Attributes:
        E: Young's modulus [Pa]. nu: Poisson ratio [-], -1 < nu < 0.5.
        density: [kg/m^3].
        model: "fixed_corotated" (robust under inversion) or "neohookean" (SVD-free).
        viscosity: Kelvin-Voigt damping eta [Pa s]; internal friction that makes vibrations
            die out (0 = perfectly elastic).
    """

    E: float
    nu: float
    density: float = 1000.0
    model: str = "fixed_corotated"
    viscosity: float = 0.0

    def __post_init__(self) -> None:
        check_non_negative("Elastic", "viscosity", self.viscosity, "Pa s")
        check_positive("Elastic", "E", self.E, "Pa", "jelly 5e4, rubber 1e6")
        check_poisson("Elastic", self.nu)
        check_positive("Elastic", "density", self.density, "kg/m^3", "water 1000")
        if self.model not in ELASTIC_MODELS:
            raise MaterialError(
                f"Elastic: model must be one of {ELASTIC_MODELS}, got {self.model!r}."
            )

    @property
    def kernel_model(self) -> str:
        return self.model

    def kernel_params(self) -> dict[str, float]:
        mu, lam = lame_parameters(self.E, self.nu)
        return {"mu": mu, "lam": lam, "viscosity": self.viscosity}

    def wave_speed(self) -> float:
        return p_wave_speed(self.E, self.nu, self.density)
