"""Lagrangian dynamics in NeuROK's latent kinematic space.

The generalised coordinates are q = (c, theta, z): the position c [m] and rotation (a rotation
vector theta about a reference orientation R0) of the body frame, and the reduced latent z of
the learned deformation. Sample points X of the rest volume move to

    x(q) = c + R0 R(theta) s y(z; X),

with y the decoder's (normalised, centred) deformed points and s the shape's scale. Rigid motion
is therefore exact, and the network only has to model deformation in the body frame.

With lumped masses m and J = dx/dq (central differences of one batched decoder call):

    L = 1/2 qdot^T (J^T M J) qdot - V(x(q)),
    V = gravity + neo-Hookean elastic energy of the decoded shape (per-point deformation
        gradients by moving least squares) + a ground penalty,

and the Euler-Lagrange equations read (J^T M J) qddot = J^T (f - M Jdot qdot) - dV/dq, where
J^T M Jdot qdot holds the Coriolis and centrifugal terms (Jdot qdot = the second directional
derivative of x along qdot). External forces f, Kelvin-Voigt damping and ground
friction enter as generalised forces J^T f. Time integration is the implicit midpoint rule
(symplectic for the conservative part), here solved by fixed-point iteration (the NumPy twin
in :mod:`neurok.fast` uses simplified Newton iterations, stable for stiff modes and contact);
after each step the rotation is folded into R0 so theta stays small.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from neurok.geometry import DeformationGradient, lame, neo_hookean_density, rotation_matrix

GRAVITY = 9.81


@dataclass
class Body:
    """What the dynamics needs of one object, independent of the learned model.

    Attributes:
        positions: latents (B, state_dim) -> (B, N, 3) body-frame positions [m] of the sample
            points (batched: one call evaluates all the finite-difference stencils).
        mass: (N,) lumped masses [kg]. volume: (N,) rest volumes [m^3].
        rest: (N, 3) rest positions [m] (for the deformation gradients).
        E, nu: elastic moduli [Pa, -]. viscosity: Kelvin-Voigt eta [Pa s].
        radius: (N,) contact radii [m]: each point meets the ground this far below it (its
            depth under the rest surface, so interior samples touch down where the surface
            does); None: 0.
        contact_mass: (N,) [kg] the share of the ground's penalty spring each point carries
            (so massless surface samples can hold the body up); None: ``mass``.
        yield_stress: von Mises yield stress [Pa] of a plastic body (0: elastic); the
            emulator's integrator (:class:`neurok.fast.Elasticity`) carries the plastic
            state, the PyTorch reference does not.
    """

    positions: Callable[[torch.Tensor], torch.Tensor]
    mass: torch.Tensor
    volume: torch.Tensor
    rest: np.ndarray
    E: float
    nu: float
    viscosity: float
    radius: np.ndarray | None = None
    contact_mass: np.ndarray | None = None
    yield_stress: float = 0.0


@dataclass(frozen=True)
class Contact:
    """Ground contact by penalty: the plane z = ``height``, stiffness as an angular frequency
    ``omega`` [rad/s] per unit mass (600: a few mm of sinking per m/s of impact speed), a
    normal damping ratio ``damping`` and regularised Coulomb ``friction``, as the MPM's grid
    rule, which removes the normal velocity towards the floor (and mu times as much
    tangential speed) and leaves a separating node alone. The damping acts only while a
    point still approaches the floor: at the default critical damping an arriving point is
    stopped, and the bounce comes from the body's elasticity, undamped by the floor (damping
    the rebound as well put the held-out rollouts 1.4 % of the diagonal further off over the
    clip; benchmarks/RESULTS.md). The friction acts while a point approaches the floor or
    rests on it, and fades out for a point leaving it faster than ``rest_speed`` [m/s]: a
    body resting or sliding on the floor (its points jitter at mm/s in the spring) is braked
    by mu times its weight, as MPM's grid brakes it, and the rebound the body's elasticity
    returns carries no friction (with friction on approach only, a box sliding at 1 m/s
    went 50-70 % further than Coulomb's v^2 / 2 mu g). ``damp_separation`` makes the damping
    act both ways while a point is in the floor: an inelastic floor that gives back little
    of the spring's energy, for plasticine, whose impact goes into plastic flow.
    ``friction_at_surface``: a sample point a depth r inside the body meets the floor through
    the surface below it, so the friction acts on that surface material: its slip is the
    point's velocity minus r (omega x z), and the force acts there (its torque arm is the
    surface's). Taking the inner point's own velocity instead braked a rolling ball (its
    centre moves at v over a contact that should not slip) like a brake shoe. Off, the
    friction acts on the point itself: :func:`neurok.simulate` keeps that for plasticine,
    whose MPM bodies slump onto a flat base and do not roll away (benchmarks/RESULTS.md).
    :func:`neurok.simulate` gives an elastic body a softer spring and plasticine a stiff,
    overdamped, inelastic one (:func:`neurok.emulator.contact_law`)."""

    height: float = 0.0
    omega: float = 600.0
    damping: float = 1.0
    friction: float = 0.4
    slip_speed: float = 0.02
    damp_separation: bool = False
    rest_speed: float = 0.05
    friction_at_surface: bool = True

    def friction_gate(self, rise_speed: Any) -> Any:
        """The share of the friction a point in the floor feels at vertical speed
        ``rise_speed`` [m/s] (array or tensor): 1 while it approaches or rests, falling
        linearly to 0 at ``rest_speed`` (0: on approach only)."""
        if self.rest_speed <= 0:
            return (rise_speed < 0) * 1.0
        return (1.0 - rise_speed / self.rest_speed).clip(0.0, 1.0)


DEFAULT_CONTACT = Contact()


class LatentDynamics:
    """Forces and accelerations of a :class:`Body` in generalised coordinates q = (c, theta, z).

    ``R0`` is the reference orientation (3, 3); see the module docstring.
    """

    def __init__(
        self,
        body: Body,
        contact: Contact | None = DEFAULT_CONTACT,
        gravity: bool = True,
        damping: bool = True,
        dtype: torch.dtype = torch.float64,
    ) -> None:
        self.body = body
        self.contact = contact
        self.gravity = gravity
        self.damping = damping and body.viscosity > 0
        self.dtype = dtype
        self.mass = body.mass.to(dtype)
        self.contact_mass = (
            self.mass if body.contact_mass is None else torch.as_tensor(body.contact_mass).to(dtype)
        )
        self.volume = body.volume.to(dtype)
        self.gradient = DeformationGradient(body.rest)
        self.mu, self.lam = lame(body.E, body.nu)
        self.R0 = torch.eye(3, dtype=dtype)
        radius = np.zeros(len(body.rest)) if body.radius is None else body.radius
        height = 0.0 if contact is None else contact.height
        self.floor = torch.as_tensor(height + radius, dtype=dtype)  # (N,) touch-down heights
        self.external: Callable[[float, torch.Tensor], torch.Tensor] | None = None
        self.max_rate = float("inf")  # friction drag cap [1/s], set by step()

    # -- kinematics -------------------------------------------------------------------------

    def world(self, q: torch.Tensor) -> torch.Tensor:
        """(N, 3) world positions of the sample points at q."""
        local = self.body.positions(q[None, 6:])[0]  # (N, 3) body frame [m], centred
        R = self.R0 @ rotation_matrix(q[3:6])
        return local @ R.T + q[:3]

    def kinematics(
        self, q: torch.Tensor, qdot: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """(x (N, 3), J (3N, n), xdot (N, 3), Jdot qdot (N, 3)) at (q, qdot).

        The decoder part comes from one batched evaluation at central finite-difference
        stencils (float64: ~1e-10 relative error for J, ~1e-8 for the second derivative),
        the rigid part from the rotation's own stencils; forward-mode autodiff through the
        transformer costs ~50x more in eager PyTorch."""
        k = q.shape[0] - 6
        z, zdot = q[6:], qdot[6:]
        eps = 1e-5
        dz_norm = float(torch.linalg.norm(zdot))
        delta = 1e-4 / max(dz_norm, 1e-12)
        stencil = [z[None]]
        if k:
            eye = torch.eye(k, dtype=q.dtype)
            stencil += [z + eps * eye, z - eps * eye]
        stencil += [(z + delta * zdot)[None], (z - delta * zdot)[None]]
        Y = self.body.positions(torch.cat(stencil))  # (1 + 2k + 2, N, 3)
        y = Y[0]
        J_z = ((Y[1 : 1 + k] - Y[1 + k : 1 + 2 * k]) / (2 * eps)).permute(1, 2, 0)  # (N, 3, k)
        curvature = (Y[-2] - 2 * y + Y[-1]) / delta**2 if dz_norm > 0 else torch.zeros_like(y)
        # rotation Rot = R0 R(theta): first derivatives per axis, and along thetadot
        theta, omega = q[3:6], qdot[3:6]
        h = 1e-5
        rot_stencil = torch.cat([theta[None], theta + h * torch.eye(3, dtype=q.dtype),
                                 theta - h * torch.eye(3, dtype=q.dtype)])  # fmt: skip
        Rs = self.R0 @ rotation_matrix(rot_stencil)  # (7, 3, 3)
        Rot = Rs[0]
        dRot = (Rs[1:4] - Rs[4:7]) / (2 * h)  # (3, 3, 3): d Rot / d theta_i
        w_norm = float(torch.linalg.norm(omega))
        if w_norm > 0:
            d = 1e-4 / w_norm
            Rw = self.R0 @ rotation_matrix(torch.stack([theta + d * omega, theta - d * omega]))
            dRot_w = (Rw[0] - Rw[1]) / (2 * d)
            ddRot_w = (Rw[0] - 2 * Rot + Rw[1]) / d**2
        else:
            dRot_w = ddRot_w = torch.zeros_like(Rot)
        x = y @ Rot.T + q[:3]
        N = y.shape[0]
        J = torch.zeros(N, 3, q.shape[0], dtype=q.dtype)
        J[:, :, :3] = torch.eye(3, dtype=q.dtype)
        J[:, :, 3:6] = torch.einsum("iab,nb->nai", dRot, y)
        if k:
            J[:, :, 6:] = torch.einsum("ab,nbk->nak", Rot, J_z)
        ydot = torch.einsum("nak,k->na", J_z, zdot) if k else torch.zeros_like(y)
        xdot = torch.einsum("nai,i->na", J, qdot)
        jdot_qdot = y @ ddRot_w.T + 2 * ydot @ dRot_w.T + curvature @ Rot.T
        return x, J.reshape(3 * N, -1), xdot, jdot_qdot

    # -- energies ---------------------------------------------------------------------------

    def elastic_energy(self, x: torch.Tensor) -> torch.Tensor:
        """Neo-Hookean energy [J] of the sample points at positions x."""
        F = self.gradient(x)
        return torch.sum(self.volume * neo_hookean_density(F, self.mu, self.lam))

    def potential(self, x: torch.Tensor) -> torch.Tensor:
        """Conservative potential energy [J]: elastic + gravity + ground penalty."""
        V = self.elastic_energy(x)
        if self.gravity:
            V = V + GRAVITY * torch.sum(self.mass * x[:, 2])
        if self.contact is not None:
            depth = torch.relu(self.floor - x[:, 2])
            V = V + 0.5 * self.contact.omega**2 * torch.sum(self.contact_mass * depth**2)
        return V

    def kinetic(self, q: torch.Tensor, qdot: torch.Tensor) -> torch.Tensor:
        """Kinetic energy [J] 1/2 qdot^T J^T M J qdot."""
        _, _, xdot, _ = self.kinematics(q, qdot)
        return 0.5 * torch.sum(self.mass[:, None] * xdot * xdot)

    def mass_matrix(self, q: torch.Tensor) -> torch.Tensor:
        """Generalised mass matrix J^T M J (n, n)."""
        _, J, _, _ = self.kinematics(q, torch.zeros_like(q))
        m = self.mass.repeat_interleave(3)
        return J.T @ (m[:, None] * J)

    def energy(self, q: torch.Tensor, qdot: torch.Tensor) -> float:
        """Total mechanical energy [J] (kinetic + potential)."""
        with torch.no_grad():
            return float(self.kinetic(q, qdot) + self.potential(self.world(q)))

    # -- forces -----------------------------------------------------------------------------

    def surface_lever(self, q: torch.Tensor) -> torch.Tensor | None:
        """(3, 3) L with column i = dRot_i Rot^T z (central differences of the rotation): the
        material a depth r below a sample point moves at xdot - r L thetadot, and a force f on
        it adds -r L^T f to the rotation's generalised force; None when the floor's friction
        acts on the points themselves (:attr:`Contact.friction_at_surface`)."""
        if self.contact is None or not self.contact.friction_at_surface:
            return None
        theta, h = q[3:6], 1e-5
        eye = torch.eye(3, dtype=q.dtype)
        Rs = self.R0 @ rotation_matrix(torch.cat([theta[None], theta + h * eye, theta - h * eye]))
        dRot = (Rs[1:4] - Rs[4:7]) / (2 * h)
        return torch.stack([dRot[i] @ Rs[0][2] for i in range(3)], dim=1)

    def _dissipative(
        self, x: torch.Tensor, xdot: torch.Tensor, t: float,
        slip_shift: torch.Tensor | None = None, lever_force: list | None = None,
    ) -> torch.Tensor:  # fmt: skip
        """(N, 3) non-conservative forces [N]: damping, contact damping/friction, external.
        ``slip_shift`` (N, 3) is added to the velocities where the floor's friction measures
        slip (the surface below each point); ``lever_force``, if given, receives
        sum_p r_p f_p of that friction."""
        f = torch.zeros_like(x)
        if self.damping:
            # Rayleigh dissipation D = eta sum vol J |sym(l)|^2, l = Fdot F^-1 the spatial
            # velocity gradient (as the MPM's Kelvin-Voigt stress): a rigid rotation of a
            # turned body has l skew and dissipates nothing. With C = J F^-T,
            # J sym(l) = sym(Fdot C^T), so D = eta sum vol |sym(Fdot C^T)|^2 / J.
            F = self.gradient(x.detach())
            cofactor = torch.stack([torch.linalg.cross(F[..., 1], F[..., 2]),
                                    torch.linalg.cross(F[..., 2], F[..., 0]),
                                    torch.linalg.cross(F[..., 0], F[..., 1])], dim=-1)  # fmt: skip
            J = torch.sum(F[..., 0] * cofactor[..., 0], dim=-1).clamp_min(1e-3)
            xdot_ = xdot.detach().requires_grad_(True)
            with torch.enable_grad():
                S = self.gradient(xdot_) @ cofactor.transpose(-1, -2)  # Fdot C^T
                strain_rate = 0.5 * (S + S.transpose(-1, -2))
                dissipation = self.body.viscosity * torch.sum(
                    (self.volume / J)[:, None, None] * strain_rate * strain_rate
                )
                (grad,) = torch.autograd.grad(dissipation, xdot_)
            f = f - grad  # force -dD/dxdot
        if self.contact is not None:
            c = self.contact
            inside = (x[:, 2] < self.floor).to(x.dtype)
            normal_force = self.contact_mass * (c.omega**2 * torch.relu(self.floor - x[:, 2]))
            # the floor damps only approach, as the MPM's grid rule removes only the normal
            # velocity towards it: the rebound the body's elasticity returns is not damped
            # (unless the floor is inelastic, damp_separation)
            approaching = inside * (xdot[:, 2] < 0.0).to(x.dtype)
            damped = inside if c.damp_separation else approaching
            damping = -2 * c.damping * c.omega * self.contact_mass * xdot[:, 2] * damped
            tangential = xdot[:, :2] if slip_shift is None else xdot[:, :2] + slip_shift[:, :2]
            speed = torch.sqrt(torch.sum(tangential * tangential, dim=-1) + c.slip_speed**2)
            # regularised Coulomb friction as a drag rate [1/s], capped at what stops the
            # sliding within the step (stiff drag would make the explicit stages diverge)
            support = torch.relu(normal_force + damping)
            rate = c.friction * support / (self.contact_mass * speed)
            rate = torch.clamp(rate, max=self.max_rate)
            # while the point approaches or rests on the floor, as the MPM's grid rule (the
            # tangential speed drops by mu times the normal speed removed): the rebound that
            # the body's elasticity returns carries no friction
            rate = rate * inside * c.friction_gate(xdot[:, 2])
            friction = -(rate * self.contact_mass)[:, None] * tangential
            f = f + torch.cat([friction, damping[:, None]], dim=-1)
            if lever_force is not None:
                radius = self.floor - c.height
                lever_force.append(torch.cat([radius @ friction, radius.new_zeros(1)]))
        if self.external is not None:
            f = f + self.external(t, x)
        return f

    def acceleration(self, q: torch.Tensor, qdot: torch.Tensor, t: float = 0.0) -> torch.Tensor:
        """qddot from the Euler-Lagrange equations at (q, qdot)."""
        x, J, xdot, jdot_qdot = self.kinematics(q, qdot)
        x_ = x.detach().requires_grad_(True)
        with torch.enable_grad():
            (dV_dx,) = torch.autograd.grad(self.potential(x_), x_)
        m = self.mass.repeat_interleave(3)
        lever = self.surface_lever(q)
        shift, lever_force = None, []
        if lever is not None:
            shift = -(self.floor - self.contact.height)[:, None] * (lever @ qdot[3:6])[None]
        force = self._dissipative(x, xdot, t, shift, lever_force) - dV_dx
        force = force.reshape(-1) - m * jdot_qdot.reshape(-1)
        M = J.T @ (m[:, None] * J)
        F = J.T @ force
        if lever is not None:  # the friction acts on the surface below each point
            F = torch.cat([F[:3], F[3:6] - lever.T @ lever_force[0], F[6:]])
        return torch.linalg.solve(M + 1e-12 * torch.eye(len(q), dtype=q.dtype), F)

    # -- integration ------------------------------------------------------------------------

    def step(
        self, q: torch.Tensor, qdot: torch.Tensor, h: float, t: float = 0.0, iterations: int = 4
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """One implicit-midpoint step of size h [s]; returns (q, qdot) with the rotation
        folded into R0 (theta reset to 0)."""
        self.max_rate = 0.5 / h
        with torch.no_grad():
            a0 = self.acceleration(q, qdot, t)
            v1 = qdot + h * a0
            for _ in range(iterations):
                v_mid = 0.5 * (qdot + v1)
                q_mid = q + 0.5 * h * v_mid
                v1 = qdot + h * self.acceleration(q_mid, v_mid, t + 0.5 * h)
            q1 = q + 0.5 * h * (qdot + v1)
            return self._fold_rotation(q1, v1)

    def _fold_rotation(
        self, q: torch.Tensor, qdot: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Move the rotation theta into R0 and express its rate as the body angular velocity."""
        theta = q[3:6]
        self.R0 = self.R0 @ rotation_matrix(theta)
        omega = _right_jacobian(theta) @ qdot[3:6]
        q = q.clone()
        qdot = qdot.clone()
        q[3:6] = 0.0
        qdot[3:6] = omega
        return q, qdot


def _right_jacobian(theta: torch.Tensor) -> torch.Tensor:
    """Right Jacobian of SO(3): body angular velocity = J_r(theta) d(theta)/dt."""
    angle = torch.sqrt(torch.sum(theta * theta) + 1e-30)
    x, y, z = theta.unbind(-1)
    zero = torch.zeros_like(x)
    K = torch.stack([zero, -z, y, z, zero, -x, -y, x, zero]).reshape(3, 3)
    if float(angle) < 1e-4:
        return torch.eye(3, dtype=theta.dtype) - 0.5 * K + K @ K / 6
    a = (1 - torch.cos(angle)) / angle**2
    b = (angle - torch.sin(angle)) / angle**3
    return torch.eye(3, dtype=theta.dtype) - a * K + b * (K @ K)
