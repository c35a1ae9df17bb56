"""The material of an emulated object, in the units and ranges the emulator checks."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from neurok.errors import SettingsError


@dataclass(frozen=True)
class MaterialParams:
    """Material of the emulated object: E [Pa], nu [-], density [kg/m^3], Kelvin-Voigt
    viscosity [Pa s] (0: undamped) and the von Mises yield stress [Pa] of plasticine (0: the
    object is elastic). A plastic object carries a plastic state per sample point, as the MPM
    does (see :class:`neurok.fast.Elasticity`), and meets a floor it does not spring back
    from (see :func:`contact_law`)."""

    E: float = 5.0e4
    nu: float = 0.3
    density: float = 1000.0
    viscosity: float = 10.0
    yield_stress: float = 0.0

    def __post_init__(self) -> None:
        checks = (("E", self.E > 0, "> 0 [Pa]"), ("density", self.density > 0, "> 0 [kg/m^3]"),
                  ("nu", -1.0 < self.nu < 0.5, "in (-1, 0.5)"),
                  ("viscosity", self.viscosity >= 0, ">= 0 [Pa s]"),
                  ("yield_stress", self.yield_stress >= 0, ">= 0 [Pa] (0: elastic)"))  # fmt: skip
        for name, ok, allowed in checks:
            if not ok:
                raise SettingsError(
                    f"material {name} must be {allowed}, got {getattr(self, name)}."
                )

    @classmethod
    def of(cls, material: Any) -> MaterialParams:
        """From an mpm material, a dict, or a MaterialParams."""
        if isinstance(material, MaterialParams):
            return material
        if isinstance(material, dict):
            keys = ("E", "nu", "density", "viscosity", "yield_stress")
            return cls(**{k: float(material[k]) for k in keys if k in material})
        return cls(
            E=float(material.E), nu=float(material.nu), density=float(material.density),
            viscosity=float(getattr(material, "viscosity", 0.0)),
            yield_stress=float(getattr(material, "yield_stress", 0.0)),
        )  # fmt: skip
