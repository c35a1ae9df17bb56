"""Bad input raises a specific exception that names the problem and the fix."""

from __future__ import annotations

import numpy as np
import pytest

import mpm
from mpm.errors import (
    ConfigError,
    DomainError,
    MaterialError,
    MeshFileError,
    SimulationError,
    StabilityError,
    UnknownMaterialError,
)


def _sim(**kw: object) -> mpm.Simulator:
    args = {"domain_min": (-0.3, -0.3, -0.1), "domain_max": (0.3, 0.3, 0.5), "dx": 0.02}
    args.update(kw)
    return mpm.Simulator(**args)  # type: ignore[arg-type]


def test_unknown_material_lists_presets_and_closest() -> None:
    with pytest.raises(UnknownMaterialError, match="Did you mean 'jelly'") as info:
        mpm.materials.preset("jely")
    assert "sand" in str(info.value) and "water" in str(info.value)


@pytest.mark.parametrize("nu", [0.5, 0.6, -1.0])
def test_poisson_ratio_out_of_range(nu: float) -> None:
    with pytest.raises(MaterialError, match=r"-1 < nu < 0\.5"):
        mpm.materials.Elastic(E=1e5, nu=nu)


@pytest.mark.parametrize("E", [0.0, -5.0, float("nan")])
def test_non_positive_young_modulus(E: float) -> None:
    with pytest.raises(MaterialError, match="E must be a positive number"):
        mpm.materials.Elastic(E=E, nu=0.3)


def test_object_outside_domain_names_object_and_bounds() -> None:
    sim = _sim()
    with pytest.raises(DomainError, match=r"'cube'.*enlarge domain_min/domain_max"):
        sim.add_object(
            "cube",
            mpm.Box(size=(0.2, 0.2, 0.2), center=(0.25, 0, 0.2)),
            mpm.materials.preset("jelly"),
        )
    assert "cube" not in sim.objects  # nothing half-added


def test_requested_dt_above_stability_bound() -> None:
    sim = _sim(dt=1e-2)
    sim.add_object(
        "cube", mpm.Box(size=(0.1, 0.1, 0.1), center=(0, 0, 0.2)), mpm.materials.preset("rubber")
    )
    bound = sim.stable_dt()
    with pytest.raises(StabilityError, match="exceeds the stability bound") as info:
        sim.run(duration=0.1, progress=False)
    assert f"{bound:.3e}" in str(info.value)


def test_dt_below_bound_is_accepted_and_used() -> None:
    sim = _sim(dt=1e-4)
    sim.add_object(
        "cube", mpm.Box(size=(0.1, 0.1, 0.1), center=(0, 0, 0.2)), mpm.materials.preset("jelly")
    )
    traj = sim.run(duration=0.02, fps=100, progress=False)
    assert np.allclose(traj.diagnostics["dt"][1:], 1e-4)


def test_missing_mesh_file() -> None:
    with pytest.raises(MeshFileError, match=r"no_such_mesh\.obj"):
        mpm.MeshShape("assets/meshes/no_such_mesh.obj", scale=0.2, center=(0, 0, 0.2))


def test_particle_leaving_the_grid_is_reported_with_object_and_frame() -> None:
    """Without walls a fast object leaves the grid: SimulationError names object and frame,
    and suggests turning the walls on (it said "keep walls on (boundary='none')")."""
    sim = _sim(boundary="none", gravity=(0.0, 0.0, 0.0))
    sim.add_object(
        "bullet",
        mpm.Sphere(radius=0.04, center=(0, 0, 0.2)),
        mpm.materials.preset("jelly"),
        velocity=(3.0, 0.0, 0.0),
    )
    with pytest.raises(SimulationError, match="'bullet' left the simulation grid") as info:
        sim.run(duration=0.3, fps=30, progress=False)
    assert info.value.object_name == "bullet"
    assert info.value.frame is not None and 1 <= info.value.frame <= 9
    assert "turn the walls on (boundary='separate'" in str(info.value)  # the fix, not the cause


def test_domain_not_multiple_of_dx() -> None:
    with pytest.raises(mpm.errors.ConfigError, match="whole number of cells"):
        mpm.Simulator(domain_min=(0, 0, 0), domain_max=(1, 1, 1), dx=0.03)


def test_unknown_backend_suggests_closest() -> None:
    with pytest.raises(mpm.errors.BackendError, match="Did you mean 'warp'"):
        mpm.Simulator(backend="wrap")


@pytest.mark.parametrize("value", [-1.0, float("nan"), "a", None])
def test_wall_friction_must_be_a_coefficient(value: object) -> None:
    """A negative, NaN or non-numeric wall friction was taken silently (or failed in float());
    it is refused with a ConfigError naming it."""
    with pytest.raises(ConfigError, match="wall_friction must be a Coulomb coefficient"):
        mpm.Simulator(domain_min=(0, 0, 0), domain_max=(1, 1, 1), dx=0.1, wall_friction=value)


def test_a_force_or_impulse_of_the_wrong_kind_names_its_argument() -> None:
    """add_force with a number for the force vector or a text for a time raised a bare
    TypeError ('float' object is not iterable); each is now a ConfigError naming it."""
    sim = _sim()
    sim.add_object("c", mpm.Sphere(radius=0.04, center=(0, 0, 0.2)), mpm.materials.preset("jelly"))
    with pytest.raises(ConfigError, match=r"Force\.force must be 3 numbers"):
        sim.add_force("c", 5.0, 0.0, 0.1)
    with pytest.raises(ConfigError, match=r"Force\.end must be a time in seconds"):
        sim.add_force("c", (1.0, 0.0, 0.0), 0.0, "0.1")
    with pytest.raises(ConfigError, match=r"Impulse\.time must be a time in seconds"):
        sim.add_impulse("c", (1.0, 0.0, 0.0), None)
