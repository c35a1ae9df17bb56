"""Scripted loads (forces, impulses) and surface tracking."""

from __future__ import annotations

import numpy as np
import pytest

import mpm
from mpm.errors import ConfigError


def _free_cube(**sim_kw: object) -> mpm.Simulator:
    sim = mpm.Simulator(
        domain_min=(-0.4, -0.4, -0.4),
        domain_max=(0.4, 0.4, 0.4),
        dx=0.02,
        gravity=(0.0, 0.0, 0.0),
        **sim_kw,  # type: ignore[arg-type]
    )
    sim.add_object(
        "cube", mpm.Box(size=(0.12, 0.12, 0.12), center=(0, 0, 0)), mpm.materials.preset("rubber")
    )
    return sim


def test_impulse_changes_momentum_by_exactly_the_impulse() -> None:
    """An impulse J [N s] at t = 0.05 s on a free object changes its linear momentum by J
    (1e-4 relative: fp32 velocities), and not before t = 0.05 s."""
    sim = _free_cube()
    impulse = np.array([0.4, -0.2, 0.1])
    sim.add_impulse("cube", impulse, time=0.05)
    traj = sim.run(duration=0.1, fps=100, progress=False)
    P = traj.diagnostics["linear_momentum"]
    before = traj.times < 0.05 - 1e-9
    assert np.abs(P[before]).max() < 1e-7
    np.testing.assert_allclose(P[-1], impulse, rtol=1e-4, atol=1e-4 * np.linalg.norm(impulse))


def test_force_over_a_span_gives_its_impulse() -> None:
    """A force F [N] held during [0.02, 0.06) s transfers F * 0.04 s of momentum (within one
    substep of timing, ~2%), and the object is untouched before 0.02 s."""
    sim = _free_cube(dt=1.25e-4)
    force = np.array([0.0, 3.0, 0.0])
    sim.add_force("cube", force, start=0.02, end=0.06)
    traj = sim.run(duration=0.1, fps=100, progress=False)
    P = traj.diagnostics["linear_momentum"]
    assert np.abs(P[traj.times < 0.02 - 1e-9]).max() < 1e-7
    np.testing.assert_allclose(P[-1], force * 0.04, rtol=0.02, atol=1e-3)


def test_force_on_a_region_moves_only_that_part_first() -> None:
    """A force applied to the +x half of a soft cube accelerates that half first: after a short
    push the +x particles move faster along +x than the -x ones."""
    sim = mpm.Simulator(
        domain_min=(-0.4, -0.4, -0.4), domain_max=(0.4, 0.4, 0.4), dx=0.02, gravity=(0, 0, 0)
    )
    sim.add_object(
        "cube", mpm.Box(size=(0.16, 0.16, 0.16), center=(0, 0, 0)), mpm.materials.preset("jelly")
    )
    region = mpm.Box(size=(0.1, 0.3, 0.3), center=(0.05, 0, 0))
    # 4 ms: the jelly's pressure wave (~8 m/s) crosses only ~3 cm of the 16 cm cube
    sim.add_force("cube", (20.0, 0.0, 0.0), start=0.0, end=0.004, region=region)
    sim.run(duration=0.004, fps=250, progress=False)
    state = sim.particle_state()
    x0 = sim.objects["cube"].sample.positions[:, 0]
    assert state.v[x0 > 0.01, 0].mean() > 1.5 * state.v[x0 < -0.01, 0].mean()


def test_region_that_misses_the_object_is_an_error() -> None:
    sim = _free_cube()
    sim.add_impulse(
        "cube", (1.0, 0, 0), time=0.0, region=mpm.Sphere(radius=0.02, center=(0.3, 0.3, 0.3))
    )
    with pytest.raises(ConfigError, match="selects no particle"):
        sim.run(duration=0.02, fps=100, progress=False)


def test_force_on_unknown_object_suggests_closest() -> None:
    sim = _free_cube()
    with pytest.raises(ConfigError, match="Did you mean 'cube'"):
        sim.add_force("cub", (1, 0, 0), start=0.0, end=1.0)


def test_surface_mesh_follows_the_material() -> None:
    """The advected surface of a falling (rigidly translating) cube moves exactly like its
    particles (1e-5 m) and keeps its faces; the surface of a spinning cube keeps its
    distance to the centre of mass (edge lengths preserved within 1%)."""
    sim = mpm.Simulator(domain_min=(-0.4, -0.4, -0.4), domain_max=(0.4, 0.4, 0.4), dx=0.02)
    sim.add_object(
        "cube", mpm.Box(size=(0.12, 0.12, 0.12), center=(0, 0, 0.2)), mpm.materials.preset("rubber")
    )
    traj = sim.run(duration=0.2, fps=50, progress=False)
    surface = traj.tracks["cube_surface"]
    assert surface.kind == "mesh" and surface.faces is not None
    particle_drop = traj.tracks["cube"].positions[:, :, 2].mean(axis=1)
    surface_drop = surface.positions[:, :, 2].mean(axis=1)
    np.testing.assert_allclose(
        surface_drop - surface_drop[0], particle_drop - particle_drop[0], atol=1e-5
    )

    spin = mpm.Simulator(
        domain_min=(-0.4, -0.4, -0.4), domain_max=(0.4, 0.4, 0.4), dx=0.02, gravity=(0, 0, 0)
    )
    spin.add_object(
        "cube",
        mpm.Box(size=(0.16, 0.16, 0.16), center=(0, 0, 0)),
        mpm.materials.preset("rubber"),
        angular_velocity=(0.0, 0.0, 6.0),
    )
    traj = spin.run(duration=0.25, fps=40, progress=False)
    surface = traj.tracks["cube_surface"]
    faces = surface.faces
    edges = np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]])

    def lengths(k: int) -> np.ndarray:
        p = surface.positions[k].astype(np.float64)
        return np.linalg.norm(p[edges[:, 0]] - p[edges[:, 1]], axis=1)

    np.testing.assert_allclose(lengths(-1), lengths(0), rtol=0.01)
    # it really rotated: ~1.5 rad about z
    p0, p1 = surface.positions[0, 0], surface.positions[-1, 0]
    angle = np.arctan2(p1[1], p1[0]) - np.arctan2(p0[1], p0[0])
    assert abs(np.angle(np.exp(1j * angle)) - 1.5) < 0.1
