"""The material of an emulated object, in the units and ranges the emulator checks."""

from __future__ import annotations

import difflib
from dataclasses import dataclass, replace
from typing import Any

import mpm
from neurok.errors import SettingsError

# the mpm materials the emulator models (elastic, and von Mises plasticine)
EMULATED_MATERIALS = (mpm.materials.Elastic, mpm.materials.VonMises)


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
        """From an mpm material (elastic or von Mises), a preset name ("jelly"), a dict of
        this class's fields (optionally with "preset", "type" and "model", as the dataset's
        specs and scene files have them), or a MaterialParams.

        Raises:
            SettingsError: a material the emulator does not model (sand, snow, a fluid), or
                a dict key it does not know (named with the closest known one).
        """
        if isinstance(material, MaterialParams):
            return material
        if isinstance(material, str):
            return cls.of(_preset(material))
        if isinstance(material, dict):
            return cls._of_dict(material)
        if not isinstance(material, EMULATED_MATERIALS):
            raise SettingsError(
                f"the emulator models elastic and von Mises (plasticine) materials, not "
                f"{type(material).__name__}; simulate it with mpm."
            )
        return cls(
            E=float(material.E), nu=float(material.nu), density=float(material.density),
            viscosity=float(getattr(material, "viscosity", 0.0)),
            yield_stress=float(getattr(material, "yield_stress", 0.0)),
        )  # fmt: skip

    @classmethod
    def _of_dict(cls, values: dict[str, Any]) -> MaterialParams:
        fields = ("E", "nu", "density", "viscosity", "yield_stress")
        known = (*fields, "preset", "type", "model")
        for key in values:
            if key not in known:
                close = difflib.get_close_matches(str(key), known, n=1)
                hint = f" Did you mean {close[0]!r}?" if close else ""
                raise SettingsError(f"unknown material key {key!r}.{hint} Known: {known}.")
        kind = str(values.get("type", "elastic")).lower()
        if kind not in ("elastic", "vonmises", "von_mises"):
            raise SettingsError(
                f"the emulator models elastic and von Mises (plasticine) materials, not "
                f"type {values['type']!r}; simulate it with mpm."
            )
        base = cls.of(_preset(str(values["preset"]))) if "preset" in values else cls()
        return replace(base, **{k: float(values[k]) for k in fields if k in values})


def _preset(name: str) -> Any:
    """The mpm material preset ``name``, its UnknownMaterialError as a SettingsError."""
    try:
        return mpm.materials.preset(name)
    except mpm.errors.UnknownMaterialError as error:
        raise SettingsError(str(error)) from error
