"""emu4d's Material Point Method simulator (MLS-MPM, APIC, quadratic B-splines, 3D).

Public API::

    import mpm
    sim = mpm.Simulator(domain_min=(-1, -1, 0), domain_max=(1, 1, 2), dx=0.02)
    sim.add_object("cube", mpm.Box(size=(0.2, 0.2, 0.2), center=(0, 0, 0.5)),
                   mpm.materials.preset("jelly"))
    sim.add_collider(mpm.colliders.Ground(height=0.0, friction=0.5, mode="slip"))
    traj = sim.run(duration=1.0, fps=30)
    traj.save("out/trajectory.npz")

SI units, Z up, gravity (0, 0, -9.81) by default.
"""

from __future__ import annotations

from mpm import colliders, errors, materials
from mpm.shapes import Box, Cylinder, MeshShape, PointSet, SampledShape, Shape, Sphere, Torus
from mpm.simulator import Simulator
from mpm.trajectory import Track, Trajectory

__all__ = [
    "Box",
    "Cylinder",
    "MeshShape",
    "PointSet",
    "SampledShape",
    "Shape",
    "Simulator",
    "Sphere",
    "Torus",
    "Track",
    "Trajectory",
    "colliders",
    "errors",
    "materials",
]
