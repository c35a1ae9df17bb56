"""Moving sphere colliders for the emulator: the path of each kinematic sphere as arrays (the
NumPy twin and the compiled integrator read the same ones) and the penalty contact that pushes
the object's sample points out of it.

A collider is given as an :class:`mpm.colliders.Sphere`, so the same scene object drives an
MPM run and its emulation. The sphere follows its keyframes (linear in between, held before
the first and after the last) or its constant velocity. Not modelled: its spin (it only
changes the friction's direction) and its contact ``mode`` -- every sphere pushes as MPM's
"separate" mode does (it never pulls), with its Coulomb ``friction``.

The penalty spring fits slow pokes and a person's strikes (benchmarks/RESULTS.md). A sphere
driven on through a body faster than about 1 m/s sinks about its own radius into it before
the spring has moved the body, and then passes through: a 5 cm ball at 2 m/s gives a 0.2 m,
50 kPa box 1.0 m/s, where MPM's bounces off at 3.5 m/s.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

import mpm
from neurok.errors import SettingsError


@dataclass(frozen=True)
class ColliderLaw:
    """The penalty contact between a sphere and a sample point: a spring of angular frequency
    ``omega`` [rad/s] per unit of the point's contact mass, a damping ratio ``damping`` on the
    normal speed (only while the point moves into the sphere, unless ``inelastic``),
    Coulomb friction (the sphere's own coefficient, also only on approach) regularised by
    ``slip_speed`` [m/s]: the floor's law (:class:`neurok.dynamics.Contact`) around a ball.
    The push never pulls (MPM's "separate"). ``hardness`` [Pa] (plasticine; 0: none) limits
    the mean pressure under a sphere: its whole push is cut to hardness x 2 pi R d, the
    contact area of a sphere of radius R pressed d deep (its deepest point) into a flat, as
    a plastic body yields under an indenter instead of pushing back harder."""

    omega: float
    damping: float
    inelastic: bool = False
    slip_speed: float = 0.02
    hardness: float = 0.0


class ColliderTable:
    """The spheres' radii [m], friction coefficients and piecewise-linear paths: ``times``
    (C, K) [s] and ``positions`` (C, K, 3) [m], ``counts`` (C,) keyframes in use per sphere.
    A sphere moving at constant velocity gets two keyframes, at 0 and ``duration`` [s]."""

    def __init__(self, colliders: Sequence[mpm.colliders.Sphere], law: ColliderLaw,
                 duration: float) -> None:  # fmt: skip
        self.law = law
        paths = [_path(collider, duration) for collider in colliders]
        width = max(len(times) for times, _ in paths)
        count = len(paths)
        self.radius = np.array([float(c.radius) for c in colliders])
        self.friction = np.array([float(c.friction) for c in colliders])
        self.counts = np.array([len(times) for times, _ in paths], dtype=np.int64)
        self.times = np.zeros((count, width))
        self.positions = np.zeros((count, width, 3))
        for i, (times, positions) in enumerate(paths):
            self.times[i, : len(times)] = times
            self.positions[i, : len(times)] = positions

    def __len__(self) -> int:
        return len(self.radius)

    def state(self, t: float) -> tuple[np.ndarray, np.ndarray]:
        """(centres (C, 3) [m], velocities (C, 3) [m/s]) of the spheres at time t [s]."""
        centres, velocities = np.zeros((len(self), 3)), np.zeros((len(self), 3))
        for i in range(len(self)):
            centres[i], velocities[i] = path_state(self.times[i], self.positions[i],
                                                   int(self.counts[i]), t)  # fmt: skip
        return centres, velocities

    def forces(
        self, t: float, x: np.ndarray, xdot: np.ndarray, radius: np.ndarray,
        contact_mass: np.ndarray, max_rate: float,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:  # fmt: skip
        """The spheres' push on the points at time t: forces (N, 3) [N] and, per point, the
        3 x 3 stiffness -df/dx and damping -df/dxdot the implicit step treats implicitly
        (the normal spring and damper, the friction drag across the normal), all three cut
        together by a sphere's indentation limit (:class:`ColliderLaw`). A point of
        contact ``radius`` r (its depth under the surface) touches a sphere when their
        centres are closer than the sphere's radius + r. Overlapping spheres act as their
        union, one body: a point meets only the sphere it is deepest in (a body made of
        balls, :func:`phygenhoi.body_spheres.body_spheres`, would otherwise push twice where
        two balls overlap)."""
        law = self.law
        f = np.zeros_like(x)
        K, D = np.zeros((len(x), 3, 3)), np.zeros((len(x), 3, 3))
        centres, velocities = self.state(t)
        overlap = self.radius[None, :] + radius[:, None] - np.sqrt(
            np.sum((x[:, None, :] - centres[None]) ** 2, axis=2))  # (N, C)
        deepest = np.argmax(overlap, axis=1)
        for c in range(len(self)):
            offset = x - centres[c]
            distance = np.sqrt(np.sum(offset * offset, axis=1))
            depth = overlap[:, c]
            touching = np.flatnonzero((depth > 0) & (distance > 1e-12) & (deepest == c))
            if len(touching) == 0:
                continue
            n = offset[touching] / distance[touching, None]  # outward from the sphere
            m = contact_mass[touching]
            relative = xdot[touching] - velocities[c]
            normal_speed = np.sum(relative * n, axis=1)
            approaching = normal_speed < 0.0
            damped = np.ones_like(approaching) if law.inelastic else approaching
            spring = m * law.omega**2 * depth[touching]
            damping = -2 * law.damping * law.omega * m * normal_speed * damped
            tangential = relative - normal_speed[:, None] * n
            speed = np.sqrt(np.sum(tangential * tangential, axis=1) + law.slip_speed**2)
            rate = np.minimum(self.friction[c] * np.maximum(spring + damping, 0.0)
                              / (m * speed), max_rate) * approaching  # fmt: skip
            # a sphere never pulls (MPM's "separate"): an inelastic contact's damping may take
            # the spring's push away from a leaving point, not pull it back
            push = np.maximum(spring + damping, 0.0)
            pushing = spring + damping > 0.0
            f[touching] += push[:, None] * n - (rate * m)[:, None] * tangential
            outer = n[:, :, None] * n[:, None, :]
            K[touching] += (m * law.omega**2 * pushing)[:, None, None] * outer
            normal_damping = 2 * law.damping * law.omega * m * (damped & pushing)
            D[touching] += normal_damping[:, None, None] * outer
            D[touching] += (rate * m)[:, None, None] * (np.eye(3) - outer)
            limit = law.hardness * 2 * np.pi * self.radius[c] * float(depth[touching].max())
            if law.hardness > 0 and push.sum() > limit:  # the body yields under the ball
                cut = limit / push.sum()
                f[touching] *= cut
                K[touching] *= cut
                D[touching] *= cut
        return f, K, D


def path_state(times: np.ndarray, positions: np.ndarray, count: int,
               t: float) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """Position and velocity at time t of a piecewise-linear path through ``count``
    keyframes (held before the first and after the last)."""
    if count == 1 or t < times[0]:
        return positions[0].copy(), np.zeros(3)
    if t >= times[count - 1]:
        return positions[count - 1].copy(), np.zeros(3)
    i = int(np.searchsorted(times[:count], t, side="right")) - 1
    span = times[i + 1] - times[i]
    velocity = (positions[i + 1] - positions[i]) / span
    return positions[i] + (t - times[i]) * velocity, velocity


def _path(collider: mpm.colliders.Collider, duration: float) -> tuple[np.ndarray, np.ndarray]:
    """(times (K,), positions (K, 3)) of a sphere collider's centre."""
    if not isinstance(collider, mpm.colliders.Sphere):
        raise SettingsError(
            f"the emulator takes sphere colliders (mpm.colliders.Sphere) only, got "
            f"{type(collider).__name__}; emulate other tools with the MPM simulator."
        )
    if collider.keyframes:
        times = np.array([k.time for k in collider.keyframes], dtype=np.float64)
        positions = np.array([k.position for k in collider.keyframes], dtype=np.float64)
        return times, positions
    start = np.asarray(collider.center, dtype=np.float64)
    end = start + duration * np.asarray(collider.velocity, dtype=np.float64)
    return np.array([0.0, duration]), np.stack([start, end])
