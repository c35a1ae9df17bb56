"""Granular media with a Drucker-Prager yield cone ("sand")."""

from __future__ import annotations

import math
from dataclasses import dataclass

from mpm.errors import MaterialError
from mpm.materials.base import (
    Material,
    check_poisson,
    check_positive,
    lame_parameters,
    p_wave_speed,
)


@dataclass(frozen=True)
class DruckerPrager(Material):
    """Cohesionless sand (Klar et al. 2016).

    Attributes:
        E: Young's modulus of the grains' skeleton [Pa]. nu: Poisson ratio [-].
        density: bulk density [kg/m^3].
        friction_angle: internal friction angle [degrees], 0 < phi < 90 (dry sand ~30-35).
    """

    E: float
    nu: float
    density: float
    friction_angle: float = 30.0

    def __post_init__(self) -> None:
        check_positive("DruckerPrager", "E", self.E, "Pa", "sand 3.5e5")
        check_poisson("DruckerPrager", self.nu)
        check_positive("DruckerPrager", "density", self.density, "kg/m^3", "dry sand 1600")
        if not 0.0 < self.friction_angle < 90.0:
            raise MaterialError(
                "DruckerPrager: friction_angle must lie in (0, 90) degrees, got "
                f"{self.friction_angle!r}; dry sand is about 30-35."
            )

    @property
    def alpha(self) -> float:
        """Cone coefficient alpha = sqrt(2/3) 2 sin(phi) / (3 - sin(phi))."""
        s = math.sin(math.radians(self.friction_angle))
        return math.sqrt(2.0 / 3.0) * 2.0 * s / (3.0 - s)

    @property
    def kernel_model(self) -> str:
        return "drucker_prager"

    def kernel_params(self) -> dict[str, float]:
        mu, lam = lame_parameters(self.E, self.nu)
        return {"mu": mu, "lam": lam, "friction_alpha": self.alpha}

    def wave_speed(self) -> float:
        return p_wave_speed(self.E, self.nu, self.density)
