"""The emulator's integrator compiled with Numba: the implicit-midpoint steps of
:class:`neurok.fast.FastDynamics` over many steps in one native call.

The NumPy twin spends most of its time in the overhead of a few hundred small array
operations per force evaluation; here the same equations run as plain loops and a few BLAS
products, so a one-second clip integrates in tens of milliseconds. The arithmetic follows
``FastDynamics`` operation for operation (the tests hold the two to 1e-8), which stays the
readable reference. Compiled functions are cached on disk (Numba's ``cache=True``) after the
first call.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

import numpy as np
from numba import njit

from neurok.dynamics import GRAVITY

if TYPE_CHECKING:
    from neurok.colliders import ColliderTable
    from neurok.fast import Elasticity, FastDynamics
    from neurok.loads import LoadTable

CONVERGED = 1e-6  # as neurok.fast.CONVERGED (relative Newton correction that ends a step)
MAX_SPLITS = 4  # a step that does not converge is halved up to this many times (16 substeps)


class Model(NamedTuple):
    """Everything the compiled integrator reads: the polynomial kinematics, masses, the
    elastic discretisation, contact, damping and loads (all float64 / int64 arrays)."""

    exponents: np.ndarray  # (F, k) monomial exponents of the surrogate
    scale: np.ndarray  # (k,) half-widths of the latent box
    coefficients: np.ndarray  # (F, 3N) body-frame positions = phi(z / scale) @ coefficients
    moments: np.ndarray  # (F, 9F) T[f, (g, a, b)] = sum_p m_p C_fp[a] C_gp[b]
    gram: np.ndarray  # (F, F) G[f, g] = sum_p m_p C_fp . C_gp
    first_moment: np.ndarray  # (F, 3) sum_p m_p C_fp
    mass: np.ndarray  # (N,) [kg]
    contact_mass: np.ndarray  # (N,) [kg], the ground spring's mass per point
    floor: np.ndarray  # (N,) height [m] at which each point meets the ground
    owners: np.ndarray  # (A,) points with a volume (they carry elastic energy)
    neighbours: np.ndarray  # (A, K) their MLS neighbours
    gradient_coef: np.ndarray  # (A, K, 3) MLS coefficients: F = sum_j dx_j (x) b_j
    volume: np.ndarray  # (A,) [m^3]
    latent_stiffness: np.ndarray  # (k, k) elastic stiffness of the latents at rest
    # (11,) mu, lam, viscosity, gravity?, contact?, omega, damping, friction, the von
    # Mises yield strain (0: elastic), whether the floor damps separation too, and the
    # rising speed [m/s] at which the floor's friction has faded out (Contact.rest_speed)
    settings: np.ndarray
    plastic_inverse: np.ndarray  # (A, 3, 3) Fp^-1 of the owners, updated in place (plastic)
    slip_speed: float  # [m/s], regularises Coulomb friction
    load_times: np.ndarray  # (L, 3): start, end, 1 for an impulse
    load_vectors: np.ndarray  # (L, 3) force [N] or impulse [N s]
    load_shares: np.ndarray  # (L, N) fraction of the load on each point
    radius: np.ndarray  # (N,) depth [m] of each point under the surface (its contact ball)
    # moving spheres (neurok.colliders.ColliderTable): radius and friction (C,), paths
    # times (C, K) and positions (C, K, 3) with counts (C,) keyframes in use, and their law
    # (omega, damping, inelastic?, slip speed)
    collider_radius: np.ndarray
    collider_friction: np.ndarray
    collider_times: np.ndarray
    collider_positions: np.ndarray
    collider_counts: np.ndarray
    collider_law: np.ndarray


def build(dynamics: FastDynamics, loads: LoadTable | None = None) -> Model:
    """The compiled integrator's view of ``dynamics`` (on a polynomial surrogate) and its
    loads; the latent stiffness at rest is computed here if it was not yet."""
    if dynamics.reference is not None:
        raise ValueError("the compiled integrator needs the polynomial surrogate kinematics.")
    elastic, contact, colliders = dynamics.elastic, dynamics.contact, dynamics.colliders
    N = len(dynamics.mass)
    k = dynamics.poly.e.shape[1]
    settings = np.array([
        elastic.mu, elastic.lam, dynamics.viscosity, float(dynamics.gravity),
        float(contact is not None), contact.omega if contact else 0.0,
        contact.damping if contact else 0.0, contact.friction if contact else 0.0,
        elastic.yield_strain, float(contact.damp_separation) if contact else 0.0,
        contact.rest_speed if contact else 0.0,
        float(contact.friction_at_surface) if contact else 0.0,
    ], dtype=np.float64)  # fmt: skip
    empty = loads is None
    f64 = np.ascontiguousarray
    plastic_inverse = elastic.plastic_inverse
    if plastic_inverse is None:
        plastic_inverse = np.zeros((0, 3, 3))
    C = np.asarray(dynamics.C, dtype=np.float64)  # (F, N, 3)
    massive = dynamics.mass > 0
    weighted = C[:, massive] * dynamics.mass[massive, None]
    F = len(C)
    # moments[f, g, a, b] = sum_p m_p C_fp[a] C_gp[b], as one matrix product
    left = weighted.transpose(0, 2, 1).reshape(3 * F, -1)
    right = C[:, massive].transpose(0, 2, 1).reshape(3 * F, -1)
    moments = (left @ right.T).reshape(F, 3, F, 3).transpose(0, 2, 1, 3)
    if dynamics.stiffness_at_rest is None or len(dynamics.stiffness_at_rest) != k:
        dynamics.stiffness_at_rest = latent_stiffness(
            C.reshape(F, -1), dynamics.poly.e.astype(np.int64), dynamics.poly.scale.astype(float),
            elastic.owners.astype(np.int64), elastic.index.astype(np.int64), elastic.coef,
            elastic.volume, elastic.mu, elastic.lam,
        )  # fmt: skip
    return Model(
        exponents=f64(dynamics.poly.e, dtype=np.int64),
        scale=f64(dynamics.poly.scale, dtype=np.float64),
        coefficients=f64(C.reshape(len(C), -1)),
        moments=f64(moments.reshape(len(C), -1)),
        gram=f64(np.einsum("fgaa->fg", moments)),
        first_moment=f64(weighted.sum(axis=1)),
        mass=f64(dynamics.mass, dtype=np.float64),
        contact_mass=f64(np.broadcast_to(dynamics.contact_mass, (N,)), dtype=np.float64),
        floor=f64(np.broadcast_to(dynamics.floor, (N,)), dtype=np.float64),
        owners=f64(elastic.owners, dtype=np.int64),
        neighbours=f64(elastic.index, dtype=np.int64),
        gradient_coef=f64(elastic.coef, dtype=np.float64),
        volume=f64(elastic.volume, dtype=np.float64),
        latent_stiffness=f64(dynamics.stiffness_at_rest, dtype=np.float64),
        settings=settings,
        # the elasticity's own array: the plastic state the integrator updates is its state
        plastic_inverse=plastic_inverse,
        slip_speed=float(contact.slip_speed if contact else 0.0),
        load_times=np.zeros((0, 3)) if empty else f64(loads.times, dtype=np.float64),
        load_vectors=np.zeros((0, 3)) if empty else f64(loads.vectors, dtype=np.float64),
        load_shares=np.zeros((0, N)) if empty else f64(loads.shares, dtype=np.float64),
        radius=f64(np.broadcast_to(dynamics.radius, (N,)), dtype=np.float64),
        **_collider_arrays(colliders),
    )


def _collider_arrays(table: ColliderTable | None) -> dict[str, np.ndarray]:
    """The Model's collider fields (empty arrays without colliders)."""
    if table is None or len(table) == 0:
        return {"collider_radius": np.zeros(0), "collider_friction": np.zeros(0),
                "collider_times": np.zeros((0, 1)), "collider_positions": np.zeros((0, 1, 3)),
                "collider_counts": np.zeros(0, dtype=np.int64),
                "collider_law": np.zeros(5)}  # fmt: skip
    law = table.law
    return {"collider_radius": np.ascontiguousarray(table.radius, dtype=np.float64),
            "collider_friction": np.ascontiguousarray(table.friction, dtype=np.float64),
            "collider_times": np.ascontiguousarray(table.times, dtype=np.float64),
            "collider_positions": np.ascontiguousarray(table.positions, dtype=np.float64),
            "collider_counts": np.ascontiguousarray(table.counts, dtype=np.int64),
            "collider_law": np.array([law.omega, law.damping, float(law.inelastic),
                                      law.slip_speed, law.hardness])}  # fmt: skip


# -- small rotations ---------------------------------------------------------------------------


@njit(cache=True, error_model="numpy")
def _skew(a: np.ndarray) -> np.ndarray:
    out = np.zeros((3, 3))
    out[0, 1], out[0, 2], out[1, 2] = -a[2], a[1], -a[0]
    out[1, 0], out[2, 0], out[2, 1] = a[2], -a[1], a[0]
    return out


@njit(cache=True, error_model="numpy")
def _mul3(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """a @ b for 3 x 3 matrices, without the BLAS call (its overhead dominates at this size)."""
    out = np.empty((3, 3))
    for r in range(3):
        for c in range(3):
            out[r, c] = a[r, 0] * b[0, c] + a[r, 1] * b[1, c] + a[r, 2] * b[2, c]
    return out


@njit(cache=True, error_model="numpy")
def _rodrigues(theta: np.ndarray) -> np.ndarray:
    angle = np.sqrt(theta[0] ** 2 + theta[1] ** 2 + theta[2] ** 2)
    K = _skew(theta)
    if angle < 1e-8:
        return np.eye(3) + K + 0.5 * _mul3(K, K)
    return np.eye(3) + np.sin(angle) / angle * K + (1 - np.cos(angle)) / angle**2 * _mul3(K, K)


@njit(cache=True, error_model="numpy")
def _right_jacobian(theta: np.ndarray) -> np.ndarray:
    angle = np.sqrt(theta[0] ** 2 + theta[1] ** 2 + theta[2] ** 2)
    K = _skew(theta)
    if angle < 1e-4:
        return np.eye(3) - 0.5 * K + _mul3(K, K) / 6
    return (np.eye(3) - (1 - np.cos(angle)) / angle**2 * K
            + (angle - np.sin(angle)) / angle**3 * _mul3(K, K))  # fmt: skip


# -- kinematics --------------------------------------------------------------------------------


@njit(cache=True, error_model="numpy")
def _features(
    exponents: np.ndarray, scale: np.ndarray, z: np.ndarray, w: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(phi (F,), dphi/dz (F, k), second derivative along w (F,)) of the monomials."""
    F, k = exponents.shape
    phi, dphi, d2phi = np.ones(F), np.zeros((F, k)), np.zeros(F)
    f0, f1, f2 = np.empty(k), np.empty(k), np.empty(k)
    for f in range(F):
        for j in range(k):
            e = exponents[f, j]
            u = z[j] / scale[j]
            f0[j] = u**e
            f1[j] = e * u ** (e - 1) if e >= 1 else 0.0
            f2[j] = 0.5 * e * (e - 1) * u ** (e - 2) if e >= 2 else 0.0
        value = 1.0
        for j in range(k):
            value *= f0[j]
        phi[f] = value
        for j in range(k):
            others = 1.0
            for i in range(k):
                if i != j:
                    others *= f0[i]
            dphi[f, j] = f1[j] * others / scale[j]
        if k > 0:
            v0 = w[0] / scale[0]
            s0, s1, s2 = f0[0], f1[0] * v0, f2[0] * v0 * v0
            for j in range(1, k):
                v = w[j] / scale[j]
                a1, a2 = f1[j] * v, f2[j] * v * v
                s0, s1, s2 = s0 * f0[j], s0 * a1 + s1 * f0[j], s0 * a2 + s1 * a1 + s2 * f0[j]
            d2phi[f] = 2.0 * s2
    return phi, dphi, d2phi


@njit(cache=True, error_model="numpy")
def _rotations(
    R0: np.ndarray, theta: np.ndarray, omega: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(Rot, dRot/dtheta_i (3, 3, 3), dRot along omega, second derivative along omega): the
    derivative along omega by central differences, as FastDynamics.kinematics."""
    Rot = _mul3(R0, _rodrigues(theta))
    columns = _right_jacobian(theta)
    dRot = np.empty((3, 3, 3))
    for i in range(3):
        dRot[i] = _mul3(Rot, _skew(np.ascontiguousarray(columns[:, i])))
    w_norm = np.sqrt(omega[0] ** 2 + omega[1] ** 2 + omega[2] ** 2)
    dRot_w, ddRot_w = np.zeros((3, 3)), np.zeros((3, 3))
    if w_norm > 0:
        d = 1e-4 / w_norm
        plus = _mul3(R0, _rodrigues(theta + d * omega))
        minus = _mul3(R0, _rodrigues(theta - d * omega))
        dRot_w, ddRot_w = (plus - minus) / (2 * d), (plus - 2 * Rot + minus) / d**2
    return Rot, dRot, dRot_w, ddRot_w


@njit(cache=True, error_model="numpy")
def _forward(C: np.ndarray, a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(a @ C, b @ C) in one pass over the coefficients (C (F, 3N) is the big array)."""
    out_a, out_b = np.zeros(C.shape[1]), np.zeros(C.shape[1])
    for f in range(C.shape[0]):
        af, bf = a[f], b[f]
        for j in range(C.shape[1]):
            out_a[j] += af * C[f, j]
            out_b[j] += bf * C[f, j]
    return out_a, out_b


# -- forces ------------------------------------------------------------------------------------


@njit(cache=True, error_model="numpy")
def _internal_forces(
    owners: np.ndarray, neighbours: np.ndarray, coef: np.ndarray, volume: np.ndarray,
    mu: float, lam: float, viscosity: float, x: np.ndarray, xdot: np.ndarray, out: np.ndarray,
) -> None:  # fmt: skip
    """out -= dV_elastic/dx + the Kelvin-Voigt damping forces, owner by owner: the MLS
    deformation gradient F = sum_j (x_j - x_o) b_j^T and its rate, the compressible
    neo-Hookean stress P(F) plus the objective Kelvin-Voigt stress, and the pair forces
    +/- vol P b_j on neighbour and owner (as fast.Elasticity.gradient and FastDynamics.dissipative).
    Written on scalars: small arrays here would live in memory, not registers."""
    A, K = neighbours.shape
    for a in range(A):
        o = owners[a]
        xo0, xo1, xo2 = x[o, 0], x[o, 1], x[o, 2]
        vo0, vo1, vo2 = xdot[o, 0], xdot[o, 1], xdot[o, 2]
        f00 = f01 = f02 = f10 = f11 = f12 = f20 = f21 = f22 = 0.0
        r00 = r01 = r02 = r10 = r11 = r12 = r20 = r21 = r22 = 0.0
        for j in range(K):
            nb = neighbours[a, j]
            b0, b1, b2 = coef[a, j, 0], coef[a, j, 1], coef[a, j, 2]
            d0, d1, d2 = x[nb, 0] - xo0, x[nb, 1] - xo1, x[nb, 2] - xo2
            f00 += d0 * b0
            f01 += d0 * b1
            f02 += d0 * b2
            f10 += d1 * b0
            f11 += d1 * b1
            f12 += d1 * b2
            f20 += d2 * b0
            f21 += d2 * b1
            f22 += d2 * b2
            if viscosity > 0:
                e0, e1, e2 = xdot[nb, 0] - vo0, xdot[nb, 1] - vo1, xdot[nb, 2] - vo2
                r00 += e0 * b0
                r01 += e0 * b1
                r02 += e0 * b2
                r10 += e1 * b0
                r11 += e1 * b1
                r12 += e1 * b2
                r20 += e2 * b0
                r21 += e2 * b1
                r22 += e2 * b2
        # cofactor matrix (columns c1 x c2, c2 x c0, c0 x c1) and J = det F
        c00, c10, c20 = f11 * f22 - f21 * f12, f21 * f02 - f01 * f22, f01 * f12 - f11 * f02
        c01, c11, c21 = f12 * f20 - f22 * f10, f22 * f00 - f02 * f20, f02 * f10 - f12 * f00
        c02, c12, c22 = f10 * f21 - f20 * f11, f20 * f01 - f00 * f21, f00 * f11 - f10 * f01
        det = f00 * c00 + f10 * c10 + f20 * c20
        safe = det if abs(det) > 1e-12 else 1e-12
        # psi uses max(J, 1e-3): below the clamp the log terms are constant in F
        g = (-mu + lam * np.log(max(det, 1e-3))) / safe if det > 1e-3 else 0.0
        s00, s01, s02 = mu * f00 + g * c00, mu * f01 + g * c01, mu * f02 + g * c02
        s10, s11, s12 = mu * f10 + g * c10, mu * f11 + g * c11, mu * f12 + g * c12
        s20, s21, s22 = mu * f20 + g * c20, mu * f21 + g * c21, mu * f22 + g * c22
        if viscosity > 0:
            # objective Kelvin-Voigt stress eta (Fdot C^T + C Fdot^T) C / J (as
            # fast.Elasticity.viscous_forces): T = Fdot C^T + its transpose, then T C
            a00 = r00 * c00 + r01 * c01 + r02 * c02
            a11 = r10 * c10 + r11 * c11 + r12 * c12
            a22 = r20 * c20 + r21 * c21 + r22 * c22
            t00, t11, t22 = 2 * a00, 2 * a11, 2 * a22
            t01 = r00 * c10 + r01 * c11 + r02 * c12 + r10 * c00 + r11 * c01 + r12 * c02
            t02 = r00 * c20 + r01 * c21 + r02 * c22 + r20 * c00 + r21 * c01 + r22 * c02
            t12 = r10 * c20 + r11 * c21 + r12 * c22 + r20 * c10 + r21 * c11 + r22 * c12
            w = viscosity / max(det, 1e-3)
            s00 += w * (t00 * c00 + t01 * c10 + t02 * c20)
            s01 += w * (t00 * c01 + t01 * c11 + t02 * c21)
            s02 += w * (t00 * c02 + t01 * c12 + t02 * c22)
            s10 += w * (t01 * c00 + t11 * c10 + t12 * c20)
            s11 += w * (t01 * c01 + t11 * c11 + t12 * c21)
            s12 += w * (t01 * c02 + t11 * c12 + t12 * c22)
            s20 += w * (t02 * c00 + t12 * c10 + t22 * c20)
            s21 += w * (t02 * c01 + t12 * c11 + t22 * c21)
            s22 += w * (t02 * c02 + t12 * c12 + t22 * c22)
        _scatter(a, o, volume[a], neighbours, coef, out,
                 s00, s01, s02, s10, s11, s12, s20, s21, s22)  # fmt: skip


@njit(cache=True, error_model="numpy", inline="always")
def _scatter(
    a: int, o: int, vol: float, neighbours: np.ndarray, coef: np.ndarray, out: np.ndarray,
    s00: float, s01: float, s02: float, s10: float, s11: float, s12: float,
    s20: float, s21: float, s22: float,
) -> None:  # fmt: skip
    """out -= the pair forces of owner ``a`` (point ``o``, volume ``vol``) with stress S:
    -vol S b_j on each neighbour j and the sum of them back on the owner (as
    fast.Elasticity.scatter)."""
    t0 = t1 = t2 = 0.0
    for j in range(neighbours.shape[1]):
        nb = neighbours[a, j]
        b0, b1, b2 = vol * coef[a, j, 0], vol * coef[a, j, 1], vol * coef[a, j, 2]
        p0 = s00 * b0 + s01 * b1 + s02 * b2
        p1 = s10 * b0 + s11 * b1 + s12 * b2
        p2 = s20 * b0 + s21 * b1 + s22 * b2
        out[nb, 0] -= p0
        out[nb, 1] -= p1
        out[nb, 2] -= p2
        t0 += p0
        t1 += p1
        t2 += p2
    out[o, 0] += t0
    out[o, 1] += t1
    out[o, 2] += t2


@njit(cache=True, error_model="numpy")
def _gradient_at(
    a: int, owners: np.ndarray, neighbours: np.ndarray, coef: np.ndarray, x: np.ndarray
) -> np.ndarray:
    """The MLS deformation gradient (3, 3) of owner ``a`` at positions x."""
    o = owners[a]
    F = np.zeros((3, 3))
    for j in range(neighbours.shape[1]):
        nb = neighbours[a, j]
        for r in range(3):
            d = x[nb, r] - x[o, r]
            for c in range(3):
                F[r, c] += d * coef[a, j, c]
    return F


@njit(cache=True, error_model="numpy")
def _plastic_forces(
    owners: np.ndarray, neighbours: np.ndarray, coef: np.ndarray, volume: np.ndarray,
    mu: float, lam: float, plastic_inverse: np.ndarray, x: np.ndarray, out: np.ndarray,
) -> None:  # fmt: skip
    """out -= dV_elastic/dx of a plastic body (as fast.Elasticity.gradient): the neo-Hookean
    stress of Fe = F Fp^-1, times Fp^-T, scattered by :func:`_scatter`."""
    for a in range(neighbours.shape[0]):
        Fp_inv = plastic_inverse[a]
        Fe = _mul3(_gradient_at(a, owners, neighbours, coef, x), Fp_inv)
        # cofactor matrix J Fe^-T and J = det Fe
        c = np.empty((3, 3))
        c[0, 0] = Fe[1, 1] * Fe[2, 2] - Fe[2, 1] * Fe[1, 2]
        c[0, 1] = Fe[1, 2] * Fe[2, 0] - Fe[2, 2] * Fe[1, 0]
        c[0, 2] = Fe[1, 0] * Fe[2, 1] - Fe[2, 0] * Fe[1, 1]
        c[1, 0] = Fe[2, 1] * Fe[0, 2] - Fe[0, 1] * Fe[2, 2]
        c[1, 1] = Fe[2, 2] * Fe[0, 0] - Fe[0, 2] * Fe[2, 0]
        c[1, 2] = Fe[2, 0] * Fe[0, 1] - Fe[0, 0] * Fe[2, 1]
        c[2, 0] = Fe[0, 1] * Fe[1, 2] - Fe[1, 1] * Fe[0, 2]
        c[2, 1] = Fe[0, 2] * Fe[1, 0] - Fe[1, 2] * Fe[0, 0]
        c[2, 2] = Fe[0, 0] * Fe[1, 1] - Fe[1, 0] * Fe[0, 1]
        det = Fe[0, 0] * c[0, 0] + Fe[0, 1] * c[0, 1] + Fe[0, 2] * c[0, 2]
        safe = det if abs(det) > 1e-12 else 1e-12
        g = (-mu + lam * np.log(max(det, 1e-3))) / safe if det > 1e-3 else 0.0
        P = _mul3(mu * Fe + g * c, np.ascontiguousarray(Fp_inv.T))
        _scatter(a, owners[a], volume[a], neighbours, coef, out, P[0, 0], P[0, 1], P[0, 2],
                 P[1, 0], P[1, 1], P[1, 2], P[2, 0], P[2, 1], P[2, 2])  # fmt: skip


@njit(cache=True, error_model="numpy")
def _deviatoric_strain(b: np.ndarray) -> float:
    """Norm of the deviatoric Hencky strain of Fe from b = Fe Fe^T (symmetric, 3 x 3): the
    strains are half the logarithms of b's eigenvalues, here in closed form (the
    trigonometric solution of the characteristic cubic), a fraction of an SVD's cost."""
    off = b[0, 1] ** 2 + b[0, 2] ** 2 + b[1, 2] ** 2
    mean = (b[0, 0] + b[1, 1] + b[2, 2]) / 3.0
    if off == 0.0:
        e0, e1, e2 = b[0, 0], b[1, 1], b[2, 2]
    else:
        spread = (b[0, 0] - mean) ** 2 + (b[1, 1] - mean) ** 2 + (b[2, 2] - mean) ** 2
        p = np.sqrt((spread + 2.0 * off) / 6.0)
        c00, c11, c22 = (b[0, 0] - mean) / p, (b[1, 1] - mean) / p, (b[2, 2] - mean) / p
        c01, c02, c12 = b[0, 1] / p, b[0, 2] / p, b[1, 2] / p
        half_det = 0.5 * (c00 * (c11 * c22 - c12 * c12) - c01 * (c01 * c22 - c12 * c02)
                          + c02 * (c01 * c12 - c11 * c02))  # fmt: skip
        angle = np.arccos(min(max(half_det, -1.0), 1.0)) / 3.0
        e0 = mean + 2.0 * p * np.cos(angle)
        e2 = mean + 2.0 * p * np.cos(angle + 2.0 * np.pi / 3.0)
        e1 = 3.0 * mean - e0 - e2
    s0 = 0.5 * np.log(max(e0, 1e-12))
    s1 = 0.5 * np.log(max(e1, 1e-12))
    s2 = 0.5 * np.log(max(e2, 1e-12))
    m = (s0 + s1 + s2) / 3.0
    return np.sqrt((s0 - m) ** 2 + (s1 - m) ** 2 + (s2 - m) ** 2)


@njit(cache=True, error_model="numpy")
def _return_map(model: Model, q: np.ndarray) -> None:
    """Plastic flow at the end of a step (as fast.Elasticity.return_map): each owner's
    elastic strain, at the body-frame positions of state q, radially returned onto the von
    Mises yield surface; Fp^-1 updated in place so the total F is unchanged."""
    C = model.coefficients
    z = np.ascontiguousarray(q[6:])
    phi, _, _ = _features(model.exponents, model.scale, z, z)
    y = (phi @ C).reshape(C.shape[1] // 3, 3)
    limit = model.settings[8]
    for a in range(model.neighbours.shape[0]):
        F = _gradient_at(a, model.owners, model.neighbours, model.gradient_coef, y)
        Fe = _mul3(F, model.plastic_inverse[a])
        if _deviatoric_strain(_mul3(Fe, np.ascontiguousarray(Fe.T))) <= limit:
            continue  # inside the yield surface (most points, most steps): no SVD needed
        U, sigma, Vt = np.linalg.svd(Fe)
        strain = np.log(np.maximum(sigma, 1e-6))
        deviator = strain - strain.mean()
        size = np.sqrt(deviator @ deviator)
        if size <= limit:
            continue
        strain = strain - (size - limit) / size * deviator
        elastic = _mul3(U * np.exp(strain), Vt)  # U diag(exp strain) V^T
        model.plastic_inverse[a] = np.linalg.solve(F, elastic)


def elastic_gradient(elastic: Elasticity, x: np.ndarray) -> np.ndarray:
    """dV_elastic/dx (N, 3) at positions ``x`` (N, 3): :meth:`neurok.fast.Elasticity.gradient`
    by the compiled force loops (equal to rounding; 11x faster for an elastic cloud of 128
    points, 3x for a plastic one)."""
    out = np.zeros((len(x), 3))
    x = np.ascontiguousarray(x, dtype=np.float64)
    owners, neighbours = elastic.owners.astype(np.int64), elastic.index.astype(np.int64)
    if elastic.plastic_inverse is None:
        _internal_forces(owners, neighbours, elastic.coef, elastic.volume, elastic.mu,
                         elastic.lam, 0.0, x, x, out)  # fmt: skip
    else:
        _plastic_forces(owners, neighbours, elastic.coef, elastic.volume, elastic.mu,
                        elastic.lam, elastic.plastic_inverse, x, out)  # fmt: skip
    return -out


@njit(cache=True, error_model="numpy")
def latent_stiffness(
    coefficients: np.ndarray, exponents: np.ndarray, scale: np.ndarray, owners: np.ndarray,
    neighbours: np.ndarray, coef: np.ndarray, volume: np.ndarray, mu: float, lam: float,
) -> np.ndarray:  # fmt: skip
    """(k, k) elastic stiffness -dF_z/dz of the latents at rest by central differences of the
    elastic generalised force (FastDynamics.latent_stiffness; the rotation drops out)."""
    k = exponents.shape[1]
    N = coefficients.shape[1] // 3
    eps = 1e-6
    K = np.zeros((k, k))
    zero = np.zeros(k)
    for j in range(k):
        for sign in (1.0, -1.0):
            z = np.zeros(k)
            z[j] = sign * eps
            phi, dphi, _ = _features(exponents, scale, z, zero)
            y = (phi @ coefficients).reshape(N, 3)
            elastic = np.zeros((N, 3))
            _internal_forces(owners, neighbours, coef, volume, mu, lam, 0.0, y, y, elastic)
            force = np.ascontiguousarray(dphi.T) @ (coefficients @ elastic.reshape(-1))
            K[:, j] -= sign * force / (2 * eps)
    return 0.5 * (K + K.T)


@njit(cache=True, error_model="numpy")
def _forces(
    model: Model, x: np.ndarray, xdot: np.ndarray, t: float, h: float, max_rate: float,
    surface_velocity: np.ndarray, lever_force: np.ndarray, collider_scale: np.ndarray,
) -> np.ndarray:  # fmt: skip
    """Total force on the points (N, 3) [N] at time t: -dV/dx (elasticity, gravity, ground
    penalty) plus Kelvin-Voigt damping, ground damping and friction capped at ``max_rate``
    [1/s], and the loads (an impulse spread over the step ``h`` [s]). The floor's friction
    measures slip at the surface below each point, xdot - r ``surface_velocity`` (r the
    point's contact radius; FastDynamics.surface_lever), and adds sum_p r_p f_p to
    ``lever_force`` (3,). ``collider_scale`` (C,) receives the factor each sphere's push
    was cut by to its indentation limit (ColliderTable.forces; 1: not cut)."""
    N = x.shape[0]
    s = model.settings
    viscosity, gravity, has_contact = s[2], s[3] > 0, s[4] > 0
    omega, damping, friction = s[5], s[6], s[7]
    f = np.zeros((N, 3))
    if s[8] > 0:  # plastic: the elastic stress of Fe = F Fp^-1, the viscous one of F
        if viscosity > 0:
            _internal_forces(model.owners, model.neighbours, model.gradient_coef, model.volume,
                             0.0, 0.0, viscosity, x, xdot, f)  # fmt: skip
        _plastic_forces(model.owners, model.neighbours, model.gradient_coef, model.volume,
                        s[0], s[1], model.plastic_inverse, x, f)  # fmt: skip
    else:
        _internal_forces(model.owners, model.neighbours, model.gradient_coef, model.volume,
                         s[0], s[1], viscosity, x, xdot, f)  # fmt: skip
    if gravity:
        for p in range(N):
            f[p, 2] -= GRAVITY * model.mass[p]
    if has_contact:
        for p in range(N):
            depth = model.floor[p] - x[p, 2]
            if depth <= 0:
                continue
            m = model.contact_mass[p]
            normal = m * omega**2 * depth
            # damping only while the point still approaches the floor, friction while it
            # approaches or rests on it (as the MPM's grid rule): the rebound the body's
            # elasticity returns loses nothing
            approaching = xdot[p, 2] < 0.0
            damped = approaching or s[9] > 0  # (an inelastic floor damps separation too)
            damp = -2 * damping * omega * m * xdot[p, 2] if damped else 0.0
            r = model.radius[p]
            slip0 = xdot[p, 0] - r * surface_velocity[0]
            slip1 = xdot[p, 1] - r * surface_velocity[1]
            speed = np.sqrt(slip0**2 + slip1**2 + model.slip_speed**2)
            rate = min(friction * max(normal + damp, 0.0) / (m * speed), max_rate) * \
                _friction_gate(xdot[p, 2], s[10])
            f[p, 0] -= rate * m * slip0
            f[p, 1] -= rate * m * slip1
            f[p, 2] += normal + damp
            lever_force[0] -= r * rate * m * slip0
            lever_force[1] -= r * rate * m * slip1
    for i in range(model.load_times.shape[0]):
        start, end, impulse = model.load_times[i, 0], model.load_times[i, 1], model.load_times[i, 2]
        if impulse > 0:
            if not (start <= t < start + h):
                continue
            scale = 1.0 / h
        else:
            if not (start <= t < end):
                continue
            scale = 1.0
        for p in range(N):
            for d in range(3):
                f[p, d] += model.load_shares[i, p] * model.load_vectors[i, d] * scale
    if model.collider_radius.shape[0] > 0:
        _sphere_forces(model, x, xdot, t, max_rate, f, collider_scale)
    return f


@njit(cache=True, error_model="numpy")
def _sphere_forces(
    model: Model, x: np.ndarray, xdot: np.ndarray, t: float, max_rate: float, f: np.ndarray,
    collider_scale: np.ndarray,
) -> None:  # fmt: skip
    """Adds the spheres' push to ``f`` (N, 3): each point meets the sphere it is deepest in,
    and a sphere's whole push is cut to its indentation limit (ColliderTable.forces), the
    factor written to ``collider_scale`` (C,)."""
    N = x.shape[0]
    spheres = model.collider_radius.shape[0]
    centres, velocities = _collider_states(model, t)
    K3, D3 = np.zeros((3, 3)), np.zeros((3, 3))
    pushes = np.zeros((N, 3))
    owner = np.full(N, -1, dtype=np.int64)
    total, deepest = np.zeros(spheres), np.zeros(spheres)
    for p in range(N):
        c, depth = _deepest_sphere(x[p, 0], x[p, 1], x[p, 2], model.radius[p], centres,
                                   model.collider_radius)  # fmt: skip
        if depth > 0:
            owner[p] = c
            total[c] += _collider_push(model, p, c, depth, x, xdot, centres, velocities,
                                       max_rate, pushes[p], K3, D3, False)  # fmt: skip
            deepest[c] = max(deepest[c], depth)
    hardness = model.collider_law[4]
    for c in range(spheres):
        collider_scale[c] = 1.0
        limit = hardness * 2.0 * np.pi * model.collider_radius[c] * deepest[c]
        if hardness > 0 and total[c] > limit:
            collider_scale[c] = limit / total[c]
    for p in range(N):
        if owner[p] >= 0:
            for d in range(3):
                f[p, d] += collider_scale[owner[p]] * pushes[p, d]


@njit(cache=True, error_model="numpy")
def _friction_gate(rise_speed: float, rest_speed: float) -> float:
    """Contact.friction_gate: the floor friction's share at vertical speed ``rise_speed``."""
    if rest_speed <= 0:
        return 1.0 if rise_speed < 0 else 0.0
    return min(max(1.0 - rise_speed / rest_speed, 0.0), 1.0)


@njit(cache=True, error_model="numpy")
def _collider_states(model: Model, t: float) -> tuple[np.ndarray, np.ndarray]:
    """Centres (C, 3) [m] and velocities (C, 3) [m/s] of the spheres at time t
    (neurok.colliders.path_state)."""
    count = model.collider_radius.shape[0]
    centres, velocities = np.zeros((count, 3)), np.zeros((count, 3))
    for c in range(count):
        used, times, path = model.collider_counts[c], model.collider_times[c], \
            model.collider_positions[c]
        if used == 1 or t < times[0]:
            centres[c] = path[0]
        elif t >= times[used - 1]:
            centres[c] = path[used - 1]
        else:
            i = 0
            while times[i + 1] <= t:
                i += 1
            span = times[i + 1] - times[i]
            for a in range(3):
                velocities[c, a] = (path[i + 1, a] - path[i, a]) / span
                centres[c, a] = path[i, a] + (t - times[i]) * velocities[c, a]
    return centres, velocities


@njit(cache=True, error_model="numpy")
def _deepest_sphere(
    px: float, py: float, pz: float, reach: float, centres: np.ndarray, radii: np.ndarray
) -> tuple[int, float]:
    """(index, overlap [m]) of the sphere the point (px, py, pz) of contact radius ``reach`` is
    deepest in (overlapping spheres act as their union); overlap <= 0: none touches it. Its
    own small function: the caller reaches the full contact (which takes the whole Model)
    only for the few points that touch."""
    best, best_depth = 0, -np.inf
    for c in range(centres.shape[0]):
        d0, d1, d2 = px - centres[c, 0], py - centres[c, 1], pz - centres[c, 2]
        depth = radii[c] + reach - np.sqrt(d0 * d0 + d1 * d1 + d2 * d2)
        if depth > best_depth:
            best, best_depth = c, depth
    return best, best_depth


@njit(cache=True, error_model="numpy")
def _collider_push(
    model: Model, p: int, c: int, depth: float, x: np.ndarray, xdot: np.ndarray,
    centres: np.ndarray, velocities: np.ndarray, max_rate: float, force: np.ndarray,
    K3: np.ndarray, D3: np.ndarray, matrices: bool,
) -> float:  # fmt: skip
    """Adds the push of sphere c, which point p is ``depth`` [m] deep in (the deepest, see
    _deepest_sphere; ColliderTable.forces), to ``force`` (3,) and, with ``matrices``, its
    stiffness to K3 and its damping to D3 (3, 3); returns the push's normal part [N]."""
    n0, n1, n2 = x[p, 0] - centres[c, 0], x[p, 1] - centres[c, 1], x[p, 2] - centres[c, 2]
    distance = np.sqrt(n0 * n0 + n1 * n1 + n2 * n2)
    if distance <= 1e-12:
        return 0.0
    law = model.collider_law
    omega, damping, inelastic, slip = law[0], law[1], law[2] > 0, law[3]
    m = model.contact_mass[p]
    n0, n1, n2 = n0 / distance, n1 / distance, n2 / distance
    r0, r1, r2 = (xdot[p, 0] - velocities[c, 0], xdot[p, 1] - velocities[c, 1],
                  xdot[p, 2] - velocities[c, 2])  # fmt: skip
    normal_speed = r0 * n0 + r1 * n1 + r2 * n2
    approaching = normal_speed < 0.0
    damped = approaching or inelastic
    spring = m * omega**2 * depth
    damp = -2 * damping * omega * m * normal_speed if damped else 0.0
    t0, t1, t2 = r0 - normal_speed * n0, r1 - normal_speed * n1, r2 - normal_speed * n2
    rate = 0.0
    if approaching:
        speed = np.sqrt(t0 * t0 + t1 * t1 + t2 * t2 + slip**2)
        rate = min(model.collider_friction[c] * max(spring + damp, 0.0) / (m * speed),
                   max_rate)  # fmt: skip
    # a sphere never pulls (MPM's "separate"): an inelastic contact's damping may take the
    # spring's push away from a leaving point, not pull it back
    push, drag = max(spring + damp, 0.0), rate * m
    force[0] += push * n0 - drag * t0
    force[1] += push * n1 - drag * t1
    force[2] += push * n2 - drag * t2
    if matrices:
        pushing = spring + damp > 0.0
        kn = m * omega**2 if pushing else 0.0
        dn = (2 * damping * omega * m if damped and pushing else 0.0) - drag
        for a in range(3):
            na = n0 if a == 0 else (n1 if a == 1 else n2)
            D3[a, a] += drag
            for b in range(3):
                nb = n0 if b == 0 else (n1 if b == 1 else n2)
                K3[a, b] += kn * na * nb
                D3[a, b] += dn * na * nb
    return push


@njit(cache=True, error_model="numpy")
def _system(
    model: Model, R0: np.ndarray, q: np.ndarray, qdot: np.ndarray, t: float, h_load: float,
    h: float, max_rate: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:  # fmt: skip
    """(M, F, A) of one Newton iteration at the midpoint (q, qdot): generalised mass and
    force of FastDynamics.generalised, and the iteration matrix A = M + h/2 D + h^2/4 K
    (FastDynamics.stiffness).

    J (3N x n) is never formed: with y_p = sum_f phi_f C_fp, every mass-weighted product of
    two Jacobian columns is a contraction of the precomputed moments sum_p m_p C_fp C_gp^T,
    and the forces enter through one product C @ f. Only points on the ground get their
    Jacobian rows (for the contact's stiffness)."""
    n = q.shape[0]
    k = n - 6
    C = model.coefficients
    N = C.shape[1] // 3
    zdot = np.ascontiguousarray(qdot[6:])
    phi, dphi, d2phi = _features(model.exponents, model.scale, q[6:], zdot)
    y_flat, ydot_flat = _forward(C, phi, dphi @ zdot)
    y, ydot = y_flat.reshape(N, 3), ydot_flat.reshape(N, 3)
    Rot, dRot, dRot_w, ddRot_w = _rotations(R0, q[3:6].copy(), qdot[3:6].copy())
    # world positions and velocities of the points: x = c + Rot y,
    # xdot = cdot + sum_i thetadot_i dRot_i y + Rot ydot
    spin = np.zeros((3, 3))
    for i in range(3):
        spin += qdot[3 + i] * dRot[i]
    x, xdot = np.empty((N, 3)), np.empty((N, 3))
    for p in range(N):
        for a in range(3):
            x[p, a] = q[a] + Rot[a, 0] * y[p, 0] + Rot[a, 1] * y[p, 1] + Rot[a, 2] * y[p, 2]
            xdot[p, a] = (qdot[a] + spin[a, 0] * y[p, 0] + spin[a, 1] * y[p, 1]
                          + spin[a, 2] * y[p, 2] + Rot[a, 0] * ydot[p, 0]
                          + Rot[a, 1] * ydot[p, 1] + Rot[a, 2] * ydot[p, 2])  # fmt: skip
    # the floor's friction acts on the surface below each point (Contact.friction_at_surface):
    # lever[:, i] = dRot_i Rot^T z, that surface moves at xdot - r lever thetadot
    lever = np.zeros((3, 3))
    if model.settings[11] > 0:
        for i in range(3):
            for a in range(3):
                lever[a, i] = dRot[i, a, 0] * Rot[2, 0] + dRot[i, a, 1] * Rot[2, 1] + \
                    dRot[i, a, 2] * Rot[2, 2]
    surface_velocity = lever @ qdot[3:6].copy()
    lever_force = np.zeros(3)
    collider_scale = np.ones(model.collider_radius.shape[0])
    f = _forces(model, x, xdot, t, h_load, max_rate, surface_velocity, lever_force,
                collider_scale)
    # minus the frame's share of m Jdot qdot, m (ddRot_w y + 2 dRot_w ydot) (the decoder's
    # share, m Rot y'', is projected through the moments below); then the sums the frame's
    # rows of M and F need: total mass, sum m y, sum m y y^T, sum f y^T, and f in the body
    # frame for the latent rows
    mass_total, Y1, S, FY = 0.0, np.zeros(3), np.zeros((3, 3)), np.zeros((3, 3))
    body_force = np.empty(3 * N)
    for p in range(N):
        m = model.mass[p]
        mass_total += m
        for a in range(3):
            f[p, a] -= m * (ddRot_w[a, 0] * y[p, 0] + ddRot_w[a, 1] * y[p, 1]
                            + ddRot_w[a, 2] * y[p, 2] + 2.0 * (
                                dRot_w[a, 0] * ydot[p, 0] + dRot_w[a, 1] * ydot[p, 1]
                                + dRot_w[a, 2] * ydot[p, 2]))  # fmt: skip
        for a in range(3):
            Y1[a] += m * y[p, a]
            body_force[3 * p + a] = Rot[0, a] * f[p, 0] + Rot[1, a] * f[p, 1] + \
                Rot[2, a] * f[p, 2]
            for b in range(3):
                S[a, b] += m * y[p, a] * y[p, b]
                FY[a, b] += f[p, a] * y[p, b]
    W = (phi @ model.moments).reshape(-1, 3, 3)  # W[g] = sum_p m_p y_p C_gp^T
    Q = np.zeros((k, 3, 3))  # sum_p m_p y_p (dy_p/dz_j)^T
    curvature_y = np.zeros((3, 3))  # sum_p m_p y_p (y''_p)^T
    for g in range(W.shape[0]):
        for a in range(3):
            for b in range(3):
                curvature_y[a, b] += d2phi[g] * W[g, a, b]
                for j in range(k):
                    Q[j, a, b] += dphi[g, j] * W[g, a, b]
    Gd = model.gram @ dphi  # (F, k)
    first_z = Rot @ (model.first_moment.T @ dphi)  # (3, k): sum_p m_p Rot dy_p/dz
    first_curvature = Rot @ (model.first_moment.T @ d2phi)
    M = np.zeros((n, n))
    F = np.zeros(n)
    for a in range(3):
        M[a, a] = mass_total
        for i in range(3):
            M[a, 3 + i] = dRot[i, a, 0] * Y1[0] + dRot[i, a, 1] * Y1[1] + dRot[i, a, 2] * Y1[2]
        for j in range(k):
            M[a, 6 + j] = first_z[a, j]
        F[a] = -first_curvature[a]
        for p in range(N):
            F[a] += f[p, a]
    for i in range(3):
        # B_i = dRot_i^T Rot: M[theta_i, z_j] = <B_i, Q_j>, the curvature's force <B_i, .>
        for a in range(3):
            for b in range(3):
                B = dRot[i, 0, a] * Rot[0, b] + dRot[i, 1, a] * Rot[1, b] + \
                    dRot[i, 2, a] * Rot[2, b]
                F[3 + i] += dRot[i, a, b] * FY[a, b] - B * curvature_y[a, b]
                for j in range(k):
                    M[3 + i, 6 + j] += B * Q[j, a, b]
                for m_ in range(i, 3):  # <dRot_i^T dRot_m, S>
                    DtD = dRot[i, 0, a] * dRot[m_, 0, b] + dRot[i, 1, a] * dRot[m_, 1, b] + \
                        dRot[i, 2, a] * dRot[m_, 2, b]
                    M[3 + i, 3 + m_] += DtD * S[a, b]
    M[6:, 6:] = dphi.T @ Gd
    F[6:] = dphi.T @ (C @ body_force) - Gd.T @ d2phi
    for i in range(3):  # the friction's torque about the surface below each point
        F[3 + i] -= lever[0, i] * lever_force[0] + lever[1, i] * lever_force[1] + \
            lever[2, i] * lever_force[2]
    for r in range(n):
        for c in range(r):
            M[r, c] = M[c, r]
    K, D, contact = np.zeros((n, n)), np.zeros((n, n)), np.zeros((n, n))
    K[6:, 6:] = model.latent_stiffness
    s = model.settings
    if s[2] > 0:  # Kelvin-Voigt: about eta / mu times the shear stiffness
        D[6:, 6:] += (s[2] / s[0]) * model.latent_stiffness
    has_floor, spheres = s[4] > 0, model.collider_radius.shape[0]
    if has_floor or spheres > 0:
        omega, damping, friction = s[5], s[6], s[7]
        centres, velocities = _collider_states(model, t)
        # the contacts enter A only, as sum_p row_p^T (h/2 Dp + h^2/4 Kp) row_p (row_p the
        # point's Jacobian rows), summed into the upper triangle of ``contact``
        half, quarter = 0.5 * h, 0.25 * h * h
        row, GR = np.zeros((3, n)), np.zeros((3, n))
        Kp, Dp, push = np.zeros((3, 3)), np.zeros((3, 3)), np.zeros(3)
        Kc, Dc = np.zeros((3, 3)), np.zeros((3, 3))
        for p in range(N):
            Kp[:, :] = 0.0
            Dp[:, :] = 0.0
            touched, by_sphere = False, False
            drag = 0.0
            if has_floor and x[p, 2] < model.floor[p]:
                touched = True
                m = model.contact_mass[p]
                normal = m * omega**2 * (model.floor[p] - x[p, 2])
                r = model.radius[p]
                speed = np.sqrt((xdot[p, 0] - r * surface_velocity[0]) ** 2
                                + (xdot[p, 1] - r * surface_velocity[1]) ** 2
                                + model.slip_speed**2)  # fmt: skip
                approaching = xdot[p, 2] < 0.0
                rate = min(friction * normal / (m * speed), max_rate) * \
                    _friction_gate(xdot[p, 2], s[10])
                Kp[2, 2] += m * omega**2
                Dp[2, 2] += m * 2 * damping * omega if (approaching or s[9] > 0) else 0.0
                drag = m * rate  # on the surface's rows (below)
            if spheres > 0:
                c, depth = _deepest_sphere(x[p, 0], x[p, 1], x[p, 2], model.radius[p],
                                           centres, model.collider_radius)  # fmt: skip
                if depth > 0:
                    touched, by_sphere = True, True
                    Kc[:, :] = 0.0
                    Dc[:, :] = 0.0
                    _collider_push(model, p, c, depth, x, xdot, centres, velocities, max_rate,
                                   push, Kc, Dc, True)  # fmt: skip
                    # cut with the push (its indentation limit); a loop: the array
                    # expression Kp += cut * Kc made every integration 20 % slower
                    cut = collider_scale[c]
                    for a in range(3):
                        for b in range(3):
                            Kp[a, b] += cut * Kc[a, b]
                            Dp[a, b] += cut * Dc[a, b]
            if not touched:
                continue
            # this point's Jacobian rows: dy[j] = dy_p/dz_j in the body frame (a loop: a
            # BLAS call on the strided slice of C costs ten times more; most monomials do
            # not depend on a given z_j, and their zero derivatives are skipped)
            dy = np.zeros((k, 3))
            for g in range(C.shape[0]):
                c0, c1, c2 = C[g, 3 * p], C[g, 3 * p + 1], C[g, 3 * p + 2]
                for j in range(k):
                    d = dphi[g, j]
                    if d != 0.0:
                        dy[j, 0] += d * c0
                        dy[j, 1] += d * c1
                        dy[j, 2] += d * c2
            for a in range(3):
                row[a, :] = 0.0
                row[a, a] = 1.0
                for i in range(3):
                    row[a, 3 + i] = dRot[i, a, 0] * y[p, 0] + dRot[i, a, 1] * y[p, 1] + \
                        dRot[i, a, 2] * y[p, 2]
                for j in range(k):
                    row[a, 6 + j] = Rot[a, 0] * dy[j, 0] + Rot[a, 1] * dy[j, 1] + \
                        Rot[a, 2] * dy[j, 2]
            # (loops, upper triangle: a BLAS call per point costs more)
            if by_sphere:  # a full 3 x 3 law (Kp, Dp are symmetric)
                for a in range(3):
                    for j in range(n):
                        GR[a, j] = 0.0
                        for b in range(3):
                            GR[a, j] += (half * Dp[a, b] + quarter * Kp[a, b]) * row[b, j]
                for i in range(n):
                    for j in range(i, n):
                        contact[i, j] += row[0, i] * GR[0, j] + row[1, i] * GR[1, j] + \
                            row[2, i] * GR[2, j]
            else:  # the floor alone acts along z: one rank-one term
                weight = half * Dp[2, 2] + quarter * Kp[2, 2]
                for i in range(n):
                    wi = weight * row[2, i]
                    for j in range(i, n):
                        contact[i, j] += wi * row[2, j]
            if drag > 0:  # the floor's friction drag, on the rows of the surface below
                r = model.radius[p]
                for a in range(2):
                    for i in range(3):
                        row[a, 3 + i] -= r * lever[a, i]
                    for i in range(n):
                        wi = half * drag * row[a, i]
                        for j in range(i, n):
                            contact[i, j] += wi * row[a, j]
        for i in range(n):
            for j in range(i):
                contact[i, j] = contact[j, i]
    A = M + 0.5 * h * D + 0.25 * h * h * K + contact + 1e-12 * np.eye(n)
    return M, F, A


@njit(cache=True, error_model="numpy")
def solve_small(A: np.ndarray, b: np.ndarray) -> np.ndarray:
    """x with A x = b for a small dense A, by Gaussian elimination with partial pivoting
    (np.linalg.solve would do, but pulls in LAPACK bindings that take Numba much longer to
    compile than this whole module)."""
    n = len(b)
    a = A.copy()
    x = b.copy()
    for col in range(n):
        pivot = col + np.argmax(np.abs(a[col:, col]))
        if pivot != col:
            for c in range(n):
                a[col, c], a[pivot, c] = a[pivot, c], a[col, c]
            x[col], x[pivot] = x[pivot], x[col]
        for row in range(col + 1, n):
            factor = a[row, col] / a[col, col]
            for c in range(col, n):
                a[row, c] -= factor * a[col, c]
            x[row] -= factor * x[col]
    for row in range(n - 1, -1, -1):
        total = x[row]
        for c in range(row + 1, n):
            total -= a[row, c] * x[c]
        x[row] = total / a[row, row]
    return x


@njit(cache=True, error_model="numpy")
def _try_step(
    model: Model, R0: np.ndarray, q: np.ndarray, qdot: np.ndarray, h: float, t: float,
    iterations: int, max_rate: float, frame_h: float,
) -> tuple[np.ndarray, bool, int]:  # fmt: skip
    """Velocity change dv of one implicit-midpoint step (simplified Newton iterations, as
    FastDynamics._advance), whether it converged to within 2 %, and the number of force
    evaluations. An impulse is spread over ``frame_h``, the unsplit step."""
    n = q.shape[0]
    dv = np.zeros(n)
    correction, scale = np.inf, 1.0
    count = 0
    for _ in range(max(iterations, 1)):
        v_mid = qdot + 0.5 * dv
        M, F, A = _system(model, R0, q + 0.5 * h * v_mid, v_mid, t + 0.5 * h, frame_h, h,
                          max_rate)
        count += 1
        update = solve_small(A, M @ dv - h * F)
        dv = dv - update
        correction = np.sqrt(update @ (M @ update))
        scale = np.sqrt(dv @ (M @ dv) + qdot @ (M @ qdot)) + 1e-12
        if correction <= CONVERGED * scale:
            break
    return dv, bool(np.isfinite(correction) and correction <= 2e-2 * scale), count


@njit(cache=True, error_model="numpy")
def advance(
    model: Model, R0: np.ndarray, q: np.ndarray, qdot: np.ndarray, h: float, t: float,
    steps: int, iterations: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:  # fmt: skip
    """``steps`` implicit-midpoint steps of size h [s] from time t: (q, qdot, R0, force
    evaluations) after them.

    Each step is FastDynamics.step: a step whose Newton iterations do not converge is split
    in two halves, recursively up to MAX_SPLITS times (here an explicit stack of pending
    substeps); after every accepted substep the rotation is folded into R0."""
    q, qdot, R0 = q.copy(), qdot.copy(), R0.copy()
    max_rate = 4.0 / h
    pending_h = np.empty(2 * MAX_SPLITS + 2)
    pending_depth = np.empty(2 * MAX_SPLITS + 2, dtype=np.int64)
    evaluations = 0
    for step in range(steps):
        top = 0
        pending_h[0], pending_depth[0] = h, 0
        time = t + step * h
        while top >= 0:
            sub_h, depth = pending_h[top], pending_depth[top]
            dv, ok, count = _try_step(model, R0, q, qdot, sub_h, time, iterations, max_rate, h)
            evaluations += count
            if not ok and depth < MAX_SPLITS:  # replace by two halves (first on top)
                pending_h[top], pending_depth[top] = sub_h / 2, depth + 1
                pending_h[top + 1], pending_depth[top + 1] = sub_h / 2, depth + 1
                top += 1
                continue
            top -= 1
            v1 = qdot + dv
            q = q + 0.5 * sub_h * (qdot + v1)
            theta = q[3:6].copy()
            R0 = _mul3(R0, _rodrigues(theta))
            omega = _right_jacobian(theta) @ np.ascontiguousarray(v1[3:6])
            q[3:6] = 0.0
            v1[3:6] = omega
            qdot = v1
            time += sub_h
            if model.settings[8] > 0:  # plastic flow at the substep's end
                _return_map(model, q)
    return q, qdot, R0, evaluations
