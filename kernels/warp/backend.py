"""Warp implementation of :class:`kernels.interface.MPMKernels` (CPU and CUDA)."""

from __future__ import annotations

import numpy as np
import warp as wp

from kernels.interface import (
    BOUNDARY_MODES,
    COLLIDER_KINDS,
    MATERIAL_PARAMETERS,
    ColliderSpec,
    GridSpec,
    MaterialGroup,
    MeshColliderSpec,
    MPMKernels,
    ParticleData,
)
from kernels.warp.grid import apply_mesh_collider, update_grid
from kernels.warp.transfer import NO_ESCAPE, advect_tracers, make_transfer_kernels
from kernels.warp.types import Collider, MaterialParams

wp.config.quiet = True
# module compile/load timings go to stdout at INFO level; keep library output clean
wp.config.log_level = max(wp.config.log_level, wp.LOG_WARNING)


class _MeshCollider:
    """A warp BVH mesh whose points and velocities are refreshed every substep."""

    def __init__(self, spec: MeshColliderSpec, device: str, dx: float) -> None:
        self.dx = dx
        self.num_vertices = len(spec.vertices)
        self.points = wp.array(spec.vertices, dtype=wp.vec3, device=device)
        self.velocities = wp.array(spec.velocities, dtype=wp.vec3, device=device)
        self.indices = wp.array(spec.faces.astype(np.int32).ravel(), dtype=int, device=device)
        self.mesh = wp.Mesh(points=self.points, indices=self.indices, velocities=self.velocities)
        self.faces_key = spec.faces.shape
        self.update(spec)

    def update(self, spec: MeshColliderSpec) -> None:
        self.mode = BOUNDARY_MODES.index(spec.mode)
        self.friction = float(spec.friction)
        self.thickness = float(spec.thickness)
        self.points.assign(spec.vertices)
        self.velocities.assign(spec.velocities)
        self.mesh.refit()
        # nodes up to the query distance outside the surface may be in contact
        margin = self.thickness + 2.0 * self.dx
        lower = spec.vertices.min(axis=0) - margin
        upper = spec.vertices.max(axis=0) + margin
        self.lower = wp.vec3(*lower.tolist())
        self.upper = wp.vec3(*upper.tolist())


class WarpKernels(MPMKernels):
    """MLS-MPM substeps with Warp kernels; arrays stay on ``device`` between calls."""

    def __init__(self, grid: GridSpec, device: str, transfer: str = "apic") -> None:
        wp.init()
        self.transfer = transfer
        self.device = wp.get_device(device)
        self.grid_spec = grid
        self.origin = wp.vec3(*[float(o) for o in grid.origin])
        self.dx = float(grid.dx)
        self.inv_dx = 1.0 / self.dx
        self.shape = wp.vec3i(*[int(n) for n in grid.shape])
        self.grid = wp.zeros(tuple(grid.shape), dtype=wp.vec4, device=self.device)
        self.escaped = wp.array([NO_ESCAPE], dtype=int, device=self.device)
        self.outside_box = wp.zeros(1, dtype=int, device=self.device)
        self.num_particles = 0
        self.tracers = wp.zeros(0, dtype=wp.vec3, device=self.device)
        self.accel: wp.array | None = None
        self.meshes: list[_MeshCollider] = []
        self.colliders = wp.zeros(0, dtype=Collider, device=self.device)
        self._uploaded_specs: list[ColliderSpec] = []
        self._groups: list[tuple[MaterialGroup, MaterialParams, wp.Kernel, wp.Kernel]] = []

    # -- upload / download ------------------------------------------------------------------
    def load_particles(self, particles: ParticleData, groups: list[MaterialGroup]) -> None:
        d = self.device
        self.num_particles = len(particles.x)
        self.x = wp.array(particles.x, dtype=wp.vec3, device=d)
        self.v = wp.array(particles.v, dtype=wp.vec3, device=d)
        self.C = wp.array(particles.C, dtype=wp.mat33, device=d)
        self.F = wp.array(particles.F, dtype=wp.mat33, device=d)
        self.Jp = wp.array(particles.Jp, dtype=float, device=d)
        self.volume = wp.array(particles.volume, dtype=float, device=d)
        self.mass = wp.array(particles.mass, dtype=float, device=d)
        self.accel = None
        self._dummy_accel = wp.zeros(1, dtype=wp.vec3, device=d)
        self._groups = []
        for group in groups:
            params = MaterialParams()
            for name in MATERIAL_PARAMETERS:
                setattr(params, name, float(group.params.get(name, 0.0)))
            p2g, g2p = make_transfer_kernels(group.model, self.transfer)
            self._groups.append((group, params, p2g, g2p))

    def load_tracers(self, points: np.ndarray) -> None:
        self.tracers = wp.array(np.asarray(points, np.float32), dtype=wp.vec3, device=self.device)

    def set_external_acceleration(self, acceleration: np.ndarray | None) -> None:
        if acceleration is None:
            self.accel = None
        else:
            self.accel = wp.array(acceleration, dtype=wp.vec3, device=self.device)

    def add_velocity(self, delta_v: np.ndarray) -> None:
        v = self.v.numpy() + np.asarray(delta_v, np.float32)
        self.v.assign(v)

    def set_mesh_colliders(self, meshes: list[MeshColliderSpec]) -> None:
        if len(meshes) != len(self.meshes) or any(
            m.num_vertices != len(s.vertices) or m.faces_key != s.faces.shape
            for m, s in zip(self.meshes, meshes, strict=False)
        ):
            self.meshes = [_MeshCollider(spec, self.device.alias, self.dx) for spec in meshes]
            return
        for mesh, spec in zip(self.meshes, meshes, strict=True):
            mesh.update(spec)

    def read_particles(self) -> ParticleData:
        return ParticleData(
            x=self.x.numpy(),
            v=self.v.numpy(),
            C=self.C.numpy(),
            F=self.F.numpy(),
            Jp=self.Jp.numpy(),
            volume=self.volume.numpy(),
            mass=self.mass.numpy(),
        )

    def read_tracers(self) -> np.ndarray:
        return self.tracers.numpy()

    def first_escaped_particle(self) -> int:
        index = int(self.escaped.numpy()[0])
        if index == NO_ESCAPE:
            return -1
        self.escaped.fill_(NO_ESCAPE)
        return index

    # -- stepping ---------------------------------------------------------------------------
    def _upload_colliders(self, colliders: list[ColliderSpec]) -> None:
        if colliders == self._uploaded_specs:
            return  # static colliders (walls, ground): nothing changed since the last substep
        self._uploaded_specs = list(colliders)
        structs = []
        for spec in colliders:
            c = Collider()
            c.kind = COLLIDER_KINDS.index(spec.kind)
            c.mode = BOUNDARY_MODES.index(spec.mode)
            c.friction = float(spec.friction)
            c.position = wp.vec3(*spec.position)
            c.rotation = wp.quat(*spec.rotation)
            c.linear_velocity = wp.vec3(*spec.linear_velocity)
            c.angular_velocity = wp.vec3(*spec.angular_velocity)
            c.size = wp.vec3(*spec.size)
            structs.append(c)
        if structs:
            self.colliders = wp.array(structs, dtype=Collider, device=self.device)
        else:
            self.colliders = wp.zeros(0, dtype=Collider, device=self.device)

    def substep(
        self,
        dt: float,
        gravity: tuple[float, float, float],
        colliders: list[ColliderSpec],
        active_nodes: tuple[tuple[int, int, int], tuple[int, int, int]] | None = None,
    ) -> None:
        d = self.device
        dt = float(dt)
        self._upload_colliders(colliders)
        self.grid.zero_()
        full = tuple(int(n) for n in self.grid_spec.shape)
        if active_nodes is None:
            lo, hi = (0, 0, 0), full
        else:
            lo = tuple(max(0, int(a)) for a in active_nodes[0])
            hi = tuple(min(n, int(b)) for n, b in zip(full, active_nodes[1], strict=True))
        use_accel = 0 if self.accel is None else 1
        accel = self._dummy_accel if self.accel is None else self.accel
        for group, params, p2g, _ in self._groups:
            count = group.end - group.start
            if count == 0:
                continue
            wp.launch(
                p2g,
                dim=count,
                inputs=[
                    group.start, self.x, self.v, self.C, self.F, self.Jp, self.volume, self.mass,
                    accel, use_accel, params, dt, self.origin, self.inv_dx, self.shape,
                    self.grid, self.escaped, wp.vec3i(*lo), wp.vec3i(*hi), self.outside_box,
                ],
                device=d,
            )  # fmt: skip
        if active_nodes is not None and int(self.outside_box.numpy()[0]):
            lo, hi = (0, 0, 0), full  # material reached past the hint: update everything
            self.outside_box.zero_()
        box = tuple(b - a for a, b in zip(lo, hi, strict=True))
        wp.launch(
            update_grid,
            dim=box,
            inputs=[
                self.grid, dt, wp.vec3(*gravity), self.origin, self.dx,
                self.colliders, len(colliders), wp.vec3i(*lo),
            ],
            device=d,
        )  # fmt: skip
        for mesh in self.meshes:
            wp.launch(
                apply_mesh_collider,
                dim=box,
                inputs=[
                    self.grid, mesh.mesh.id, self.origin, self.dx, mesh.lower, mesh.upper,
                    mesh.mode, mesh.friction, mesh.thickness, wp.vec3i(*lo),
                ],
                device=d,
            )  # fmt: skip
        for group, params, _, g2p in self._groups:
            count = group.end - group.start
            if count == 0:
                continue
            wp.launch(
                g2p,
                dim=count,
                inputs=[
                    group.start, self.x, self.v, self.C, self.F, self.Jp, params, dt,
                    self.origin, self.inv_dx, self.shape, self.grid, self.escaped,
                ],
                device=d,
            )  # fmt: skip
        if len(self.tracers) > 0:
            wp.launch(
                advect_tracers,
                dim=len(self.tracers),
                inputs=[
                    self.tracers, dt, self.origin, self.inv_dx, self.shape, self.grid,
                    self.escaped, self.num_particles,
                ],
                device=d,
            )  # fmt: skip
