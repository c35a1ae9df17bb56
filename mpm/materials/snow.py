"""Snow (Stomakhin et al. 2013)."""

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
class Snow(Material):
    """Elasto-plastic snow with hardening.

    Attributes:
        E: Young's modulus [Pa]. nu: Poisson ratio [-]. density: [kg/m^3].
        theta_c: critical compression [-]. theta_s: critical stretch [-].
        hardening: xi [-]; Lamé parameters scale with exp(xi (1 - det F_P)).
    """

    E: float = 1.4e5
    nu: float = 0.2
    density: float = 400.0
    theta_c: float = 2.5e-2
    theta_s: float = 7.5e-3
    hardening: float = 10.0

    def __post_init__(self) -> None:
        check_positive("Snow", "E", self.E, "Pa", "1.4e5")
        check_poisson("Snow", self.nu)
        check_positive("Snow", "density", self.density, "kg/m^3", "400")
        for name in ("theta_c", "theta_s"):
            value = getattr(self, name)
            if not 0.0 < value < 1.0:
                raise MaterialError(f"Snow: {name} must lie in (0, 1), got {value!r}.")
        if self.hardening < 0.0:
            raise MaterialError(f"Snow: hardening must be >= 0, got {self.hardening!r}.")

    @property
    def kernel_model(self) -> str:
        return "snow"

    def kernel_params(self) -> dict[str, float]:
        mu, lam = lame_parameters(self.E, self.nu)
        return {
            "mu": mu,
            "lam": lam,
            "theta_c": self.theta_c,
            "theta_s": self.theta_s,
            "hardening": self.hardening,
        }

    def wave_speed(self) -> float:
        # hardening peaks when the material is fully compressed: det F_P = (1 - theta_c)^3
        stiffening = math.exp(self.hardening * (1.0 - (1.0 - self.theta_c) ** 3))
        return p_wave_speed(self.E, self.nu, self.density) * math.sqrt(stiffening)
