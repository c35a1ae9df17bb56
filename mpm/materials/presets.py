"""Named materials in SI units.

The solids are softened relative to their real counterparts where the real stiffness would
force a microsecond explicit step (steel: E = 200 GPa); each entry says what it models.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from typing import Any

from mpm.config import build_dataclass
from mpm.errors import MaterialError, UnknownMaterialError
from mpm.materials.base import Material
from mpm.materials.drucker_prager import DruckerPrager
from mpm.materials.elastic import Elastic
from mpm.materials.fluid import Fluid
from mpm.materials.snow import Snow
from mpm.materials.von_mises import VonMises

PRESETS: dict[str, Material] = {
    # gelatin-like soft solid; internal damping lets wobbles die out within about a second
    "jelly": Elastic(E=5.0e4, nu=0.3, density=1000.0, model="fixed_corotated", viscosity=20.0),
    # soft silicone rubber, nearly incompressible
    "rubber": Elastic(E=1.0e6, nu=0.45, density=1100.0, model="neohookean"),
    # modelling clay: soft, yields at small strain
    "plasticine": VonMises(E=2.0e5, nu=0.3, density=1500.0, yield_stress=3.0e3),
    # a ductile metal, softened (E = 50 MPa) so that explicit steps stay ~1e-5 s
    "metal": VonMises(E=5.0e7, nu=0.3, density=2700.0, yield_stress=2.0e5),
    # dry sand
    "sand": DruckerPrager(E=3.5e5, nu=0.3, density=1600.0, friction_angle=30.0),
    # weakly compressible water (sound speed 14 m/s)
    "water": Fluid(density=1000.0, bulk_modulus=2.0e5, gamma=7.0),
    # packed snow, Stomakhin et al. 2013 parameters
    "snow": Snow(),
}

_TYPES: dict[str, type[Material]] = {
    cls.__name__: cls for cls in (Elastic, VonMises, DruckerPrager, Fluid, Snow)
}


def preset_names() -> list[str]:
    """The names accepted by :func:`preset`."""
    return sorted(PRESETS)


def preset(name: str) -> Material:
    """The material preset ``name`` (e.g. "jelly", "sand", "water").

    Raises:
        UnknownMaterialError: no such preset; the message lists them and the closest one.
    """
    if name in PRESETS:
        return PRESETS[name]
    close = difflib.get_close_matches(name, PRESETS, n=1)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    raise UnknownMaterialError(
        f"unknown material preset {name!r}.{hint} Available presets: {preset_names()}; "
        "or build one, e.g. mpm.materials.Elastic(E=5e4, nu=0.3, density=1000)."
    )


def from_dict(spec: str | Mapping[str, Any]) -> Material:
    """A material from a preset name, or from ``{"type": "Elastic", "E": ..., ...}``.

    ``{"preset": "jelly", "E": 1e5}`` starts from a preset and overrides fields.
    """
    if isinstance(spec, str):
        return preset(spec)
    values = dict(spec)
    if "preset" in values:
        base = preset(str(values.pop("preset"))).to_dict()
        base.update(values)
        values = base
    type_name = values.pop("type", None)
    if type_name not in _TYPES:
        close = difflib.get_close_matches(str(type_name), _TYPES, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise MaterialError(
            f"material type {type_name!r} is not known.{hint} Use one of {sorted(_TYPES)} "
            f"or a preset name {preset_names()}."
        )
    return build_dataclass(_TYPES[type_name], values, where=f"material ({type_name})")
