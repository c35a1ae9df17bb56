"""The emulator's hot loop in NumPy: the same equations as :class:`neurok.dynamics.
LatentDynamics`, evaluated on a bound shape's polynomial surrogate with exact derivatives.

Every quantity is a small dense array (N sample points, F polynomial features, n = 6 + k
coordinates), so one acceleration costs a few hundred microseconds, where the PyTorch
reference spends most of its time in per-operation overhead. The test suite checks that both
give the same accelerations.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import numpy as np
import scipy.sparse
import torch

from neurok.colliders import ColliderTable
from neurok.dynamics import DEFAULT_CONTACT, GRAVITY, Body, Contact, LatentDynamics
from neurok.geometry import DeformationGradient, lame
from neurok.surrogate import PolynomialSurrogate

CONVERGED = 1e-6  # Newton iterations of a step stop at this relative velocity correction


def rodrigues(theta: np.ndarray) -> np.ndarray:
    """Rotation matrix of a rotation vector [rad] (NumPy)."""
    angle = float(np.sqrt(theta @ theta))
    K = np.array([[0, -theta[2], theta[1]], [theta[2], 0, -theta[0]], [-theta[1], theta[0], 0]])
    if angle < 1e-8:
        return np.eye(3) + K + 0.5 * K @ K
    return np.eye(3) + np.sin(angle) / angle * K + (1 - np.cos(angle)) / angle**2 * K @ K


class _Polynomial:
    """Values, gradients and second directional derivatives of the monomial features."""

    def __init__(self, exponents: np.ndarray, scale: np.ndarray) -> None:
        self.e = exponents  # (F, k)
        self.scale = scale
        d = int(exponents.max()) if exponents.size else 0
        self.cols = np.arange(exponents.shape[1])[None, :]
        self.e1 = np.maximum(exponents - 1, 0)
        self.e2 = np.maximum(exponents - 2, 0)
        self.c1 = exponents.astype(float)  # d/du u^e = e u^(e-1)
        self.c2 = 0.5 * exponents * (exponents - 1.0)  # (1/2) d2/du2 u^e
        self.orders = np.arange(d + 1)[None, :]

    def evaluate(
        self, z: np.ndarray, w: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(phi (F,), dphi/dz (F, k), d2phi[w, w] (F,)) at z."""
        if self.e.shape[1] == 0:  # no latent: the constant feature only
            return np.ones(len(self.e)), np.zeros((len(self.e), 0)), np.zeros(len(self.e))
        u = z / self.scale
        v = w / self.scale
        powers = u[:, None] ** self.orders  # (k, d+1)
        f0 = powers[self.cols, self.e]  # (F, k) factor u_j^e_j
        f1 = self.c1 * powers[self.cols, self.e1]  # its first derivative
        f2 = self.c2 * powers[self.cols, self.e2]  # half its second derivative
        # products of the other factors, by prefix and suffix products
        ones = np.ones((len(self.e), 1))
        prefix = np.cumprod(np.hstack([ones, f0]), axis=1)
        suffix = np.cumprod(np.hstack([ones, f0[:, ::-1]]), axis=1)[:, ::-1]
        others = prefix[:, :-1] * suffix[:, 1:]  # (F, k)
        grad = f1 * others
        # truncated Taylor series of prod_j (u_j + s v_j)^e_j to s^2, one factor at a time
        a1, a2 = f1 * v, f2 * v * v
        s0, s1, s2 = f0[:, 0], a1[:, 0], a2[:, 0]
        for j in range(1, f0.shape[1]):
            s0, s1, s2 = (s0 * f0[:, j], s0 * a1[:, j] + s1 * f0[:, j],
                          s0 * a2[:, j] + s1 * a1[:, j] + s2 * f0[:, j])  # fmt: skip
        return prefix[:, -1], grad / self.scale[None, :], 2.0 * s2


class Elasticity:
    """Neo-Hookean elasticity of a point cloud with moving-least-squares deformation
    gradients (the same discretisation as :class:`neurok.dynamics.LatentDynamics`), with
    optional von Mises plasticity.

    Plasticity (``yield_stress`` > 0, plasticine): each point's deformation gradient splits
    as F = Fe Fp; the energy is that of the elastic part Fe = F Fp^-1, and after every step
    :meth:`return_map` projects Fe back onto the yield surface, as the MPM's von Mises
    material does (``mpm.materials.VonMises``: the deviatoric Hencky strain of Fe at most
    yield_stress / (2 mu)). So a dent or a flattening the body is pushed into stays instead
    of springing back."""

    def __init__(
        self, rest: np.ndarray, volume: np.ndarray, E: float, nu: float,
        gradient: DeformationGradient | None = None, yield_stress: float = 0.0,
    ) -> None:  # fmt: skip
        """``gradient``: the MLS discretisation of ``rest``, if already built (it depends on
        the rest points only). ``yield_stress`` [Pa]: 0 for an elastic body."""
        self.mu, self.lam = lame(E, nu)
        volume = np.asarray(volume, dtype=np.float64)
        # only points with a volume store energy (massless contact samples are neighbours
        # of the others but have no gradient of their own): the rest is skipped
        owners = np.flatnonzero(volume > 0)
        self.volume = volume[owners]
        grad = DeformationGradient(rest) if gradient is None else gradient
        self.owners = owners
        self.index = grad.index.numpy()[owners]  # (A, K)
        self.coef = grad.coefficients.numpy()[owners]  # (A, K, 3)
        self.points = len(volume)
        # von Mises: the largest deviatoric Hencky strain of Fe (0: elastic), and Fp^-1
        # per owner (the state; identity at rest)
        self.yield_strain = yield_stress / (2.0 * self.mu) if yield_stress > 0 else 0.0
        self.plastic_inverse = (np.tile(np.eye(3), (len(owners), 1, 1)) if yield_stress > 0
                                else None)  # fmt: skip

    def deformation_gradient(self, x: np.ndarray) -> np.ndarray:
        """(A, 3, 3) deformation gradients (or their rates, for velocities) of the points
        that have a volume."""
        dx = x[self.index] - x[self.owners, None, :]  # (A, K, 3)
        return np.matmul(dx.transpose(0, 2, 1), self.coef)

    def elastic_part(self, x: np.ndarray) -> np.ndarray:
        """(A, 3, 3) elastic deformation gradients Fe = F Fp^-1 (F itself without plasticity)."""
        F = self.deformation_gradient(x)
        return F if self.plastic_inverse is None else F @ self.plastic_inverse

    @functools.cached_property
    def operator(self) -> scipy.sparse.csr_matrix:
        """Sparse map from per-(owner, neighbour) vectors to per-point sums: +1 on the
        neighbour, -1 on the owner itself (the transpose of dx_ik = x_k - x_i). Built on first
        use: the compiled integrator scatters in its own loops and never needs it."""
        (A, K), owners = self.index.shape, self.owners
        rows = np.concatenate([self.index.reshape(-1), np.repeat(owners, K)])
        cols = np.concatenate([np.arange(A * K), np.arange(A * K)])
        data = np.concatenate([np.ones(A * K), -np.ones(A * K)])
        return scipy.sparse.csr_matrix((data, (rows, cols)), shape=(self.points, A * K))

    def scatter(self, P: np.ndarray) -> np.ndarray:
        """Per-point forces (N, 3) from the owners' stresses (A, 3, 3): d/dx of
        sum_i vol_i psi(F_i) is the sum over pairs of +/- vol_i P_i b_ik."""
        pair = np.matmul(self.coef, (self.volume[:, None, None] * P).transpose(0, 2, 1))
        return self.operator @ pair.reshape(-1, 3)

    def gradient(self, x: np.ndarray) -> np.ndarray:
        """dV_elastic/dx (N, 3)."""
        F = self.elastic_part(x)
        cofactor, J = _cofactor(F)
        F_inv_T = cofactor / np.where(np.abs(J) > 1e-12, J, 1e-12)[:, None, None]
        log_j = np.log(np.maximum(J, 1e-3))[:, None, None]
        # psi uses max(J, 1e-3): below the clamp the log terms are constant in F
        active = (J > 1e-3)[:, None, None]
        P = self.mu * F + active * (-self.mu + self.lam * log_j) * F_inv_T
        if self.plastic_inverse is not None:  # d psi(F Fp^-1) / dF = P(Fe) Fp^-T
            P = P @ self.plastic_inverse.transpose(0, 2, 1)
        return self.scatter(P)

    def return_map(self, x: np.ndarray) -> int:
        """Project every point's elastic strain at positions ``x`` back onto the von Mises
        yield surface (radial return of the deviatoric Hencky strain, as the MPM), updating
        Fp^-1 so the total F is unchanged; returns how many points yielded (0 if elastic)."""
        if self.plastic_inverse is None:
            return 0
        F = self.deformation_gradient(x)
        U, sigma, Vt = np.linalg.svd(F @ self.plastic_inverse)
        strain = np.log(np.maximum(sigma, 1e-6))
        deviator = strain - strain.mean(axis=1, keepdims=True)
        size = np.linalg.norm(deviator, axis=1)
        excess = size - self.yield_strain
        yielded = np.flatnonzero(excess > 0)
        if len(yielded):
            strain[yielded] -= (excess[yielded] / size[yielded])[:, None] * deviator[yielded]
            elastic = U[yielded] @ (np.exp(strain[yielded])[:, :, None] * Vt[yielded])
            self.plastic_inverse[yielded] = np.linalg.solve(F[yielded], elastic)
        return len(yielded)

    def viscous_forces(self, x: np.ndarray, xdot: np.ndarray, viscosity: float) -> np.ndarray:
        """Kelvin-Voigt forces (N, 3) as in the MPM: Kirchhoff stress eta J (l + l^T) with
        l = Fdot F^-1 the spatial velocity gradient, so a rigid rotation feels none (the
        material-frame rate Fdot + Fdot^T would brake a turned, spinning body). With the
        cofactor C = J F^-T this is P = eta (Fdot C^T + C Fdot^T) C / J, J >= 1e-3."""
        cofactor, J = _cofactor(self.deformation_gradient(x))
        S = np.matmul(self.deformation_gradient(xdot), cofactor.transpose(0, 2, 1))
        P = np.matmul(S + S.transpose(0, 2, 1), cofactor) / np.maximum(J, 1e-3)[:, None, None]
        return -self.scatter(viscosity * P)

    def energy(self, x: np.ndarray) -> float:
        """Stored elastic energy [J] (of the elastic part Fe for a plastic body)."""
        F = self.elastic_part(x)
        J = np.maximum(np.linalg.det(F), 1e-3)
        psi = (0.5 * self.mu * (np.sum(F * F, axis=(1, 2)) - 3) - self.mu * np.log(J)
               + 0.5 * self.lam * np.log(J) ** 2)  # fmt: skip
        return float(np.sum(self.volume * psi))


class FastDynamics:
    """NumPy twin of LatentDynamics over a surrogate (see the module docstring), and the
    emulator's integrator; with ``surrogate=None`` it takes the kinematics of the decoder
    itself from the PyTorch reference (the ``exact`` path of :func:`neurok.simulate`)."""

    def __init__(
        self,
        surrogate: PolynomialSurrogate | None,
        body: Body,
        contact: Contact | None = DEFAULT_CONTACT,
        gravity: bool = True,
        damping: bool = True,
        elastic: Elasticity | None = None,
    ) -> None:
        # kinematics from the surrogate (exact derivatives), or without one from the decoder
        # itself through the PyTorch reference's finite differences (slow, for checks)
        self.reference: LatentDynamics | None = None
        if surrogate is None:
            self.reference = LatentDynamics(body, contact=None, gravity=False, damping=False)
        else:
            self.poly = _Polynomial(surrogate.exponents, surrogate.scale)
            N = surrogate.points
            self.C = surrogate.coefficients.reshape(-1, N, 3)  # (F, N, 3)
        self.mass = body.mass.double().numpy()
        self.volume = body.volume.double().numpy()
        self.m3 = np.repeat(self.mass, 3)
        self.contact = contact
        self.gravity = gravity
        self.viscosity = body.viscosity if damping else 0.0
        self._elastic, self._body = elastic, body
        self.R0 = np.eye(3)
        self.contact_mass = (
            self.mass if body.contact_mass is None else np.asarray(body.contact_mass, np.float64)
        )
        radius = np.zeros(len(self.mass)) if body.radius is None else np.asarray(body.radius)
        self.radius = np.asarray(radius, dtype=np.float64)  # (N,) depth under the surface [m]
        self.floor = (0.0 if contact is None else contact.height) + radius  # (N,) [m]
        self.external: Callable[[float, np.ndarray], np.ndarray] | None = None
        self.colliders: ColliderTable | None = None  # moving spheres that push the object
        self.max_rate = float("inf")  # friction drag cap [1/s], set by step()
        # (k, k) latent stiffness at rest: computed by latent_stiffness() on first use, or set
        # by whoever computed it already (neurok.compiled.build)
        self.stiffness_at_rest: np.ndarray | None = None

    @property
    def elastic(self) -> Elasticity:
        """The body's elasticity (built on first use: the kinematics alone do not need it)."""
        if self._elastic is None:
            body = self._body
            self._elastic = Elasticity(body.rest, self.volume, body.E, body.nu,
                                       yield_stress=body.yield_stress)  # fmt: skip
        return self._elastic

    # -- kinematics ---------------------------------------------------------------------------

    def kinematics(
        self, q: np.ndarray, qdot: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(x (N, 3), J (3N, n), xdot (N, 3), Jdot qdot (N, 3)) at (q, qdot)."""
        if self.reference is not None:
            self.reference.R0 = torch.as_tensor(self.R0)
            with torch.no_grad():
                out = self.reference.kinematics(torch.as_tensor(q), torch.as_tensor(qdot))
            x, J, xdot, jdot_qdot = (a.numpy() for a in out)
            return x, J, xdot, jdot_qdot
        z, zdot = q[6:], qdot[6:]
        phi, dphi, d2phi = self.poly.evaluate(z, zdot)
        y = np.tensordot(phi, self.C, axes=1)  # (N, 3)
        J_z = np.tensordot(dphi.T, self.C, axes=1)  # (k, N, 3)
        curvature = np.tensordot(d2phi, self.C, axes=1)
        theta, omega = q[3:6], qdot[3:6]
        Rot = self.R0 @ rodrigues(theta)
        # d R(theta) / d theta_i = R(theta) [J_r(theta) e_i]_x
        columns = _right_jacobian(theta)
        dRot = np.stack([Rot @ _skew(columns[:, i]) for i in range(3)])
        w_norm = float(np.linalg.norm(omega))
        if w_norm > 0:
            d = 1e-4 / w_norm
            plus = self.R0 @ rodrigues(theta + d * omega)
            minus = self.R0 @ rodrigues(theta - d * omega)
            dRot_w, ddRot_w = (plus - minus) / (2 * d), (plus - 2 * Rot + minus) / d**2
        else:
            dRot_w = ddRot_w = np.zeros((3, 3))
        x = y @ Rot.T + q[:3]
        N, k = y.shape[0], len(z)
        J = np.empty((N, 3, 6 + k))
        J[:, :, :3] = np.eye(3)
        J[:, :, 3:6] = (y @ dRot.transpose(0, 2, 1)).transpose(1, 2, 0)
        J[:, :, 6:] = (J_z @ Rot.T).transpose(1, 2, 0)
        ydot = np.tensordot(zdot, J_z, axes=1)
        xdot = (J.reshape(-1, 6 + k) @ qdot).reshape(N, 3)
        jdot_qdot = y @ ddRot_w.T + 2 * ydot @ dRot_w.T + curvature @ Rot.T
        return x, J.reshape(3 * N, -1), xdot, jdot_qdot

    # -- forces -------------------------------------------------------------------------------

    def potential_gradient(self, x: np.ndarray) -> np.ndarray:
        """dV/dx (N, 3): neo-Hookean elasticity, gravity, ground penalty."""
        grad = self.elastic.gradient(x)
        if self.gravity:
            grad[:, 2] += GRAVITY * self.mass
        if self.contact is not None:
            depth = np.maximum(self.floor - x[:, 2], 0.0)
            grad[:, 2] -= self.contact.omega**2 * self.contact_mass * depth
        return grad

    def surface_lever(self, q: np.ndarray) -> np.ndarray | None:
        """(3, 3) L with column i = dRot_i Rot^T z: the material a depth r below a sample
        point moves at xdot - r L thetadot, and a force f on it adds -r L^T f to the
        rotation's generalised force (:attr:`Contact.friction_at_surface`); None when the
        floor's friction acts on the points themselves."""
        if self.contact is None or not self.contact.friction_at_surface:
            return None
        theta = q[3:6]
        Rot = self.R0 @ rodrigues(theta)
        columns = _right_jacobian(theta)
        up_in_body = Rot[2]  # Rot^T z
        return np.stack([Rot @ _skew(columns[:, i]) @ up_in_body for i in range(3)], axis=1)

    def dissipative(
        self, x: np.ndarray, xdot: np.ndarray, t: float, slip_shift: np.ndarray | None = None,
        lever_force: np.ndarray | None = None,
    ) -> np.ndarray:  # fmt: skip
        """Non-conservative forces (N, 3): Kelvin-Voigt damping, contact damping and
        friction, external loads, the push of moving colliders (their springs too: they
        depend on time). ``slip_shift`` (N, 3) is added to the points' velocities where the
        floor's friction measures slip (the surface below them, see :meth:`surface_lever`);
        ``lever_force`` (3,), if given, receives sum_p r_p f_p of that friction."""
        f = np.zeros_like(x)
        if self.viscosity > 0:
            f += self.elastic.viscous_forces(x, xdot, self.viscosity)
        if self.contact is not None:
            c = self.contact
            inside = (x[:, 2] < self.floor).astype(float)
            normal_force = self.contact_mass * c.omega**2 * np.maximum(self.floor - x[:, 2], 0.0)
            approaching = inside * (xdot[:, 2] < 0.0)  # the floor only resists approach
            damped = inside if c.damp_separation else approaching  # (or is inelastic)
            damping = -2 * c.damping * c.omega * self.contact_mass * xdot[:, 2] * damped
            tangential = xdot[:, :2] if slip_shift is None else xdot[:, :2] + slip_shift[:, :2]
            speed = np.sqrt(np.sum(tangential * tangential, axis=1) + c.slip_speed**2)
            support = np.maximum(normal_force + damping, 0.0)
            rate = np.minimum(c.friction * support / (self.contact_mass * speed), self.max_rate)
            rate = rate * inside * c.friction_gate(xdot[:, 2])  # approaching or resting
            friction = (rate * self.contact_mass)[:, None] * tangential
            f[:, :2] -= friction
            f[:, 2] += damping
            if lever_force is not None:
                lever_force[:2] -= self.radius @ friction
        if self.external is not None:
            f += self.external(t, x)
        if self.colliders is not None:
            f += self.colliders.forces(t, x, xdot, self.radius, self.contact_mass,
                                       self.max_rate)[0]  # fmt: skip
        return f

    def generalised(
        self, q: np.ndarray, qdot: np.ndarray, t: float = 0.0
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(M (n, n), F (n,), J (3N, n), x (N, 3), xdot (N, 3)): the generalised mass matrix
        and forces of the Euler-Lagrange equations M qddot = F at (q, qdot)."""
        x, J, xdot, jdot_qdot = self.kinematics(q, qdot)
        lever = self.surface_lever(q)
        shift, lever_force = None, np.zeros(3)
        if lever is not None:
            shift = -self.radius[:, None] * (lever @ qdot[3:6])[None]
        force = self.dissipative(x, xdot, t, shift, lever_force) - self.potential_gradient(x)
        force = force.reshape(-1) - self.m3 * jdot_qdot.reshape(-1)
        M = J.T @ (self.m3[:, None] * J)
        F = J.T @ force
        if lever is not None:  # the friction acts on the surface below each point
            F[3:6] -= lever.T @ lever_force
        return M, F, J, x, xdot

    def acceleration(self, q: np.ndarray, qdot: np.ndarray, t: float = 0.0) -> np.ndarray:
        """qddot from the Euler-Lagrange equations at (q, qdot)."""
        M, F, _, _, _ = self.generalised(q, qdot, t)
        return np.linalg.solve(M + 1e-12 * np.eye(len(q)), F)

    def latent_stiffness(self, k: int) -> np.ndarray:
        """(k, k) elastic stiffness -dF_z/dz of the k latent coordinates at rest, by central
        differences of the elastic generalised force (computed once). It is the stiffness
        of the kinematics actually integrated (surrogate or decoder), so the Newton
        iterations of :meth:`step` converge in a few steps."""
        if self.stiffness_at_rest is None or len(self.stiffness_at_rest) != k:
            eps = 1e-6
            K = np.zeros((k, k))
            for j in range(k):
                forces = []
                for sign in (1.0, -1.0):
                    q = np.zeros(6 + k)
                    q[6 + j] = sign * eps
                    x, J, _, _ = self.kinematics(q, np.zeros_like(q))
                    forces.append(-(J.T @ self.elastic.gradient(x).reshape(-1))[6:])
                K[:, j] = -(forces[0] - forces[1]) / (2 * eps)
            self.stiffness_at_rest = 0.5 * (K + K.T)
        return self.stiffness_at_rest

    def stiffness(
        self, J: np.ndarray, x: np.ndarray, xdot: np.ndarray, t: float = 0.0,
        q: np.ndarray | None = None, qdot: np.ndarray | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
        """(K, D) (n, n): the stiff parts of -dF/dq and -dF/dqdot at time t, which the step
        treats implicitly: the latent coordinates' elastic stiffness at rest, and the
        ground's and the colliders' penalty springs, their damping and the friction drag on
        the points in contact. With the state (q, qdot) the friction drag is taken at the
        surface below each point (:meth:`surface_lever`)."""
        n = J.shape[1]
        K, D = np.zeros((n, n)), np.zeros((n, n))
        K[6:, 6:] = self.latent_stiffness(n - 6)
        if self.viscosity > 0:  # Kelvin-Voigt: about eta / mu times the shear stiffness
            D[6:, 6:] += (self.viscosity / self.elastic.mu) * K[6:, 6:]
        if self.contact is not None:
            c = self.contact
            inside = x[:, 2] < self.floor
            if inside.any():
                J3 = J.reshape(-1, 3, n)[inside]
                m = self.contact_mass[inside]
                Jz = J3[:, 2, :]
                K += Jz.T @ ((m * c.omega**2)[:, None] * Jz)
                approaching = xdot[inside, 2] < 0.0
                damped = np.ones_like(approaching) if c.damp_separation else approaching
                D += Jz.T @ ((m * 2 * c.damping * c.omega * damped)[:, None] * Jz)
                normal = m * c.omega**2 * (self.floor[inside] - x[inside, 2])
                lever = None if q is None or qdot is None else self.surface_lever(q)
                tangential = xdot[inside, :2]
                if lever is not None:
                    depth = self.radius[inside]
                    tangential = tangential - depth[:, None] * (lever @ qdot[3:6])[None, :2]
                speed = np.sqrt(np.sum(tangential * tangential, axis=1) + c.slip_speed**2)
                rate = np.minimum(c.friction * normal / (m * speed), self.max_rate)
                rate = rate * c.friction_gate(xdot[inside, 2])
                for axis in (0, 1):
                    Ja = J3[:, axis, :].copy()
                    if lever is not None:  # the surface's rows
                        Ja[:, 3:6] -= depth[:, None] * lever[axis][None, :]
                    D += Ja.T @ ((m * rate)[:, None] * Ja)
        if self.colliders is not None:
            _, Kp, Dp = self.colliders.forces(t, x, xdot, self.radius, self.contact_mass,
                                              self.max_rate)  # fmt: skip
            touching = np.flatnonzero(np.abs(Kp).sum(axis=(1, 2)) > 0)
            if len(touching):
                J3 = J.reshape(-1, 3, n)[touching]
                K += np.einsum("pai,pab,pbj->ij", J3, Kp[touching], J3)
                D += np.einsum("pai,pab,pbj->ij", J3, Dp[touching], J3)
        return K, D

    def energy(self, q: np.ndarray, qdot: np.ndarray) -> float:
        """Kinetic + potential energy [J] (as LatentDynamics.energy)."""
        x, _, xdot, _ = self.kinematics(q, qdot)
        V = self.elastic.energy(x)
        if self.gravity:
            V += GRAVITY * float(np.sum(self.mass * x[:, 2]))
        if self.contact is not None:
            depth = np.maximum(self.floor - x[:, 2], 0.0)
            V += 0.5 * self.contact.omega**2 * float(np.sum(self.contact_mass * depth**2))
        return 0.5 * float(np.sum(self.mass[:, None] * xdot * xdot)) + V

    # -- integration --------------------------------------------------------------------------

    def step(
        self, q: np.ndarray, qdot: np.ndarray, h: float, t: float = 0.0, iterations: int = 3
    ) -> tuple[np.ndarray, np.ndarray]:
        """One implicit-midpoint step of size h [s]; the rotation is folded into R0 afterwards.

        The velocity change dv solves M dv = h F(q + h/2 (qdot + dv/2), qdot + dv/2) by
        simplified Newton iterations with A = M + h/2 D + h^2/4 K, where K and D hold the
        stiff springs and dampers (:meth:`stiffness`): for those the step is the trapezoidal
        rule, stable at any step size, where a fixed-point iteration needs h omega < 2. The
        iterations stop early once a correction is below CONVERGED of the momentum; if after
        ``iterations`` it is still above 2 % (a hard impact, the decoded shape's own
        nonlinearity), the step is split in two halves, up to 16 substeps."""
        self.max_rate = 4.0 / h
        return self._advance(q, qdot, h, t, iterations, depth=0)

    def _advance(
        self, q: np.ndarray, qdot: np.ndarray, h: float, t: float, iterations: int, depth: int
    ) -> tuple[np.ndarray, np.ndarray]:
        n = len(q)
        dv = np.zeros(n)
        correction, scale = np.inf, 1.0
        for _ in range(max(iterations, 1)):
            v_mid = qdot + 0.5 * dv
            M, F, J, x, xdot = self.generalised(q + 0.5 * h * v_mid, v_mid, t + 0.5 * h)
            # at the current iterate: contacts come and go
            K, D = self.stiffness(J, x, xdot, t + 0.5 * h, q + 0.5 * h * v_mid, v_mid)
            A = M + 0.5 * h * D + 0.25 * h * h * K + 1e-12 * np.eye(n)
            update = np.linalg.solve(A, M @ dv - h * F)
            dv = dv - update
            # both in the kinetic-energy norm (momentum units)
            correction = float(np.sqrt(update @ M @ update))
            scale = float(np.sqrt(dv @ M @ dv + qdot @ M @ qdot)) + 1e-12
            if correction <= CONVERGED * scale:
                break
        if (not np.isfinite(correction) or correction > 2e-2 * scale) and depth < 4:
            q_half, v_half = self._advance(q, qdot, h / 2, t, iterations, depth + 1)
            return self._advance(q_half, v_half, h / 2, t + h / 2, iterations, depth + 1)
        v1 = qdot + dv
        q1 = q + 0.5 * h * (qdot + v1)
        theta = q1[3:6].copy()
        self.R0 = self.R0 @ rodrigues(theta)
        omega = _right_jacobian(theta) @ v1[3:6]
        q1[3:6] = 0.0
        v1[3:6] = omega
        if self.elastic.plastic_inverse is not None:  # plastic flow at the step's end
            self.elastic.return_map(self.kinematics(q1, np.zeros_like(q1))[0])
        return q1, v1


def _cofactor(F: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Cofactor matrices C = det(F) F^-T (A, 3, 3) and determinants (A,) of a stack of F."""
    c0, c1, c2 = F[:, :, 0], F[:, :, 1], F[:, :, 2]
    cofactor = np.stack([np.cross(c1, c2), np.cross(c2, c0), np.cross(c0, c1)], axis=2)
    return cofactor, np.sum(c0 * cofactor[:, :, 0], axis=1)


def _skew(a: np.ndarray) -> np.ndarray:
    return np.array([[0, -a[2], a[1]], [a[2], 0, -a[0]], [-a[1], a[0], 0]])


def _right_jacobian(theta: np.ndarray) -> np.ndarray:
    angle = float(np.sqrt(theta @ theta))
    K = np.array([[0, -theta[2], theta[1]], [theta[2], 0, -theta[0]], [-theta[1], theta[0], 0]])
    if angle < 1e-4:
        return np.eye(3) - 0.5 * K + K @ K / 6
    return (np.eye(3) - (1 - np.cos(angle)) / angle**2 * K
            + (angle - np.sin(angle)) / angle**3 * K @ K)  # fmt: skip
