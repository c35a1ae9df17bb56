"""Per-model Warp functions ``stress(F, Jp, p) -> tau`` and ``project(F, Jp, p) -> F``.

``stress`` returns the Kirchhoff stress tau = P F^T [Pa]; ``project`` applies the return mapping
of plastic models to a trial deformation gradient (identity map for purely elastic ones). The
transfer kernels are specialised per model at compile time, so there is no material branch in
the particle loops.
"""

from __future__ import annotations

from kernels.warp.materials import drucker_prager, elastic, fluid, snow, von_mises

# model name -> (stress function, projection function)
MODEL_FUNCTIONS = {
    "fixed_corotated": (elastic.fixed_corotated_stress, elastic.no_projection),
    "neohookean": (elastic.neohookean_stress, elastic.no_projection),
    "von_mises": (von_mises.hencky_stress, von_mises.project),
    "drucker_prager": (drucker_prager.hencky_stress, drucker_prager.project),
    "fluid": (fluid.stress, fluid.project),
    "snow": (snow.stress, snow.project),
}
