"""Constitutive models of the simulator, in SI units, with named presets.

Each material is a small frozen dataclass (one file per family) that validates its parameters,
derives the Lamé constants, reports its wave speed for the CFL bound, and names the kernel model
that implements it.
"""

from __future__ import annotations

from mpm.materials.base import Material
from mpm.materials.drucker_prager import DruckerPrager
from mpm.materials.elastic import Elastic
from mpm.materials.fluid import Fluid
from mpm.materials.presets import PRESETS, from_dict, preset, preset_names
from mpm.materials.snow import Snow
from mpm.materials.von_mises import VonMises

__all__ = [
    "PRESETS",
    "DruckerPrager",
    "Elastic",
    "Fluid",
    "Material",
    "Snow",
    "VonMises",
    "from_dict",
    "preset",
    "preset_names",
]
