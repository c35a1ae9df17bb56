"""Emulate an object's dynamics with a trained model: bind it to a rest shape, set the initial
state (given, or fitted to an observed state), integrate the latent Lagrangian dynamics, and
return an :class:`mpm.Trajectory` like any simulation.
"""

from __future__ import annotations

import copy
import functools
import logging
import time
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.linalg
import scipy.sparse
import torch
import trimesh
from tqdm.auto import tqdm

import mpm
from mpm.meshio import RayWinding, surface_distance
from neurok import compiled
from neurok.colliders import ColliderLaw, ColliderTable
from neurok.dynamics import DEFAULT_CONTACT, Body, Contact, LatentDynamics
from neurok.errors import LatentError, MeshError, SettingsError
from neurok.fast import Elasticity, FastDynamics, rodrigues
from neurok.geometry import DeformationGradient, kabsch
from neurok.model import NeuROK, normalise
from neurok.surrogate import PolynomialSurrogate

logger = logging.getLogger("emu4d.neurok")

ITERATIONS = 3  # Newton iterations per step before it is split (see FastDynamics.step)
# degree of the per-shape polynomial stand-in for the decoder: on the 10 held-out drops and
# tosses a quadratic leaves 0.2-0.4 % of the deformation unexplained (a cubic 0.03-0.06 %),
# far below the model's own error, and costs a third of the cubic's 84 terms in 6 latents
SURROGATE_DEGREE = 2
MODE_REACH = 0.05  # how far (fraction of the size) one latent mode may move a point


@dataclass(frozen=True)
class MaterialParams:
    """Material of the emulated object: E [Pa], nu [-], density [kg/m^3], Kelvin-Voigt
    viscosity [Pa s] (0: undamped) and the von Mises yield stress [Pa] of plasticine (0: the
    object is elastic). A plastic object carries a plastic state per sample point, as the MPM
    does (see :class:`neurok.fast.Elasticity`), and meets a floor it does not spring back
    from (see :func:`contact_law`)."""

    E: float = 5.0e4
    nu: float = 0.3
    density: float = 1000.0
    viscosity: float = 10.0
    yield_stress: float = 0.0

    def __post_init__(self) -> None:
        checks = (("E", self.E > 0, "> 0 [Pa]"), ("density", self.density > 0, "> 0 [kg/m^3]"),
                  ("nu", -1.0 < self.nu < 0.5, "in (-1, 0.5)"),
                  ("viscosity", self.viscosity >= 0, ">= 0 [Pa s]"),
                  ("yield_stress", self.yield_stress >= 0, ">= 0 [Pa] (0: elastic)"))  # fmt: skip
        for name, ok, allowed in checks:
            if not ok:
                raise SettingsError(
                    f"material {name} must be {allowed}, got {getattr(self, name)}."
                )

    @classmethod
    def of(cls, material: Any) -> MaterialParams:
        """From an mpm material, a dict, or a MaterialParams."""
        if isinstance(material, MaterialParams):
            return material
        if isinstance(material, dict):
            keys = ("E", "nu", "density", "viscosity", "yield_stress")
            return cls(**{k: float(material[k]) for k in keys if k in material})
        return cls(
            E=float(material.E), nu=float(material.nu), density=float(material.density),
            viscosity=float(getattr(material, "viscosity", 0.0)),
            yield_stress=float(getattr(material, "yield_stress", 0.0)),
        )  # fmt: skip


# Floor contact of an elastic body: the spring's angular frequency is CONTACT_STIFFNESS x
# sqrt(E / density) / diagonal, the body's own squash frequency scale, and its damping ratio
# CONTACT_DAMPING (calibrated on the 30 training drops and tosses; benchmarks/RESULTS.md).
CONTACT_STIFFNESS = 4.4
CONTACT_DAMPING = 0.6
# Plasticine: damping ratio of its stiff floor contact (calibrated on the 8 training
# plasticine drops and tosses; benchmarks/RESULTS.md).
PLASTIC_CONTACT_DAMPING = 10.0
# A moving sphere meets the object with the floor's law, its spring softened by this factor
# (a ball a third of the object's size dents it deeper than the flat floor squashes it) and,
# on an elastic body, its damping ratio the floor's times COLLIDER_DAMPING_SHARE. The spring
# is calibrated on the 16 elastic training pokes, which hardly depend on the damping; the
# damping on a person's strikes measured in MPM (test_hoi's five, punch_jelly). Plasticine
# keeps PLASTIC_COLLIDER_STIFFNESS_RATIO and its floor's inelastic damping (3 training
# pokes). See benchmarks/RESULTS.md.
COLLIDER_STIFFNESS_RATIO = 0.5
COLLIDER_DAMPING_SHARE = 0.5
PLASTIC_COLLIDER_STIFFNESS_RATIO = 0.35
# Plasticine yields under a sphere: the mean pressure under it is at most this many times
# the yield stress (ColliderLaw.hardness; Tabor's rigid-plastic half-space gives about 3x
# the uniaxial yield stress; calibrated on the 3 training plasticine pokes, 2 / 3 / 4 pi
# sigma_y R d giving 2.3 / 2.3 / 3.0 % against 4.1 % uncut; benchmarks/RESULTS.md).
PLASTIC_HARDNESS_RATIO = 1.5
# Integration step when none is given [s]: the coarse step unless the floor's spring needs
# the fine one (see default_step; benchmarks/RESULTS.md has the comparison).
COARSE_STEP = 1.0 / 120.0
FINE_STEP = 1.0 / 240.0
PREPARING = "neurok: preparing the compiled integrator (first run: about 30 s)"


def contact_law(material: MaterialParams, diagonal: float) -> tuple[float, float]:
    """(omega [rad/s], damping ratio) of the floor's penalty spring for a body of this
    material and bounding-box diagonal [m].

    An elastic body: the few global latent modes cannot express the local squash at the
    contact (MPM's bodies flatten 3x deeper), so the spring stands in for it -- as soft as
    the body's own squash, CONTACT_STIFFNESS sqrt(E / rho) / diagonal, and lightly damped,
    because elastic squash gives its energy back. Plasticine: its impact energy goes into
    plastic flow, so the contact stays stiff (the omega of :class:`neurok.dynamics.Contact`)
    and overdamped (PLASTIC_CONTACT_DAMPING), and :func:`simulate` makes it inelastic (its
    damping also acts while a point leaves the floor, ``Contact.damp_separation``), so the
    spring does not give back the energy of the impact."""
    if material.yield_stress > 0:
        return DEFAULT_CONTACT.omega, PLASTIC_CONTACT_DAMPING
    omega = CONTACT_STIFFNESS * np.sqrt(material.E / material.density) / diagonal
    return float(omega), CONTACT_DAMPING


def default_step(contact_omega: float | None) -> float:
    """The integration step [s] when the caller gives none: COARSE_STEP if it resolves the
    floor's spring (omega h <= 1; no floor: nothing to resolve), else FINE_STEP.

    The latent modes are cut to what the step resolves anyway (1.5 / h, see
    :meth:`BoundShape.restrict_to_modes`, a sub-millimetre sag under gravity at 1/120 s), so
    the contact spring is the fastest motion left. The soft spring of an elastic body (39-112
    rad/s on the held-out clips) is resolved at 1/120 s, and its drops and tosses emulate as
    closely as at 1/240 s in half the steps. Plasticine's stiff, overdamped spring (600 rad/s)
    is not: at 1/120 s its two held-out drops end 0.7 and 2.9 % further from MPM, so it keeps
    FINE_STEP, where the implicit midpoint is stable and the overdamping takes out what the
    step does not resolve."""
    if contact_omega is None or contact_omega * COARSE_STEP <= 1.0:
        return COARSE_STEP
    return FINE_STEP


def check_mesh(mesh: trimesh.Trimesh) -> trimesh.Trimesh:
    """Raise MeshError unless ``mesh`` encloses a positive volume."""
    if len(mesh.faces) == 0 or len(mesh.vertices) < 4:
        raise MeshError("the rest mesh has no faces; give a closed triangle mesh.")
    if not mesh.is_watertight:
        raise MeshError(
            "the rest mesh is not closed (watertight), so it has no inside; repair it, e.g. "
            "with trimesh.repair.fill_holes, or use a solid primitive."
        )
    if not mesh.volume > 1e-9:
        raise MeshError(
            f"the rest mesh encloses no volume ({mesh.volume:.3g} m^3); a flat or inverted "
            "mesh cannot be simulated as a solid."
        )
    return mesh


def sample_interior(mesh: trimesh.Trimesh, count: int, seed: int = 0) -> np.ndarray:
    """``count`` points inside a closed mesh: a jittered grid fine enough to hold them,
    subsampled at random (seeded)."""
    rng = np.random.default_rng(seed)
    low, high = mesh.bounds
    spacing = (mesh.volume / (4 * count)) ** (1 / 3)
    axes = [np.arange(lo + spacing / 2, hi, spacing) for lo, hi in zip(low, high, strict=True)]
    grid = np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1).reshape(-1, 3)
    grid = grid + rng.uniform(-0.3, 0.3, grid.shape) * spacing
    inside = grid[RayWinding(mesh.vertices, mesh.faces)(grid)]
    if len(inside) < count:
        raise MeshError(f"could only place {len(inside)} points inside the mesh (asked {count}).")
    return inside[np.sort(rng.choice(len(inside), size=count, replace=False))]


def surface_samples(mesh: trimesh.Trimesh, count: int, seed: int = 0) -> np.ndarray:
    """``count`` area-uniform points on the mesh surface (seeded)."""
    points, _ = trimesh.sample.sample_surface(mesh, count, seed=seed)
    return np.asarray(points)


_WORKING_COPIES: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _working_copy(model: NeuROK, dtype: torch.dtype) -> NeuROK:
    """A private, frozen copy of ``model`` in ``dtype`` (the caller's model is untouched),
    made once and reused while the model's tensors are the same objects with the same values
    (compared exactly with a snapshot, about 1 ms: a tensor's version counter alone misses
    edits through ``.data``)."""
    tensors = [t.detach() for t in (*model.parameters(), *model.buffers())]
    cached = _WORKING_COPIES.get(model)
    if (
        cached is None
        or cached[0] != dtype
        or len(cached[1]) != len(tensors)
        or not all(a.shape == b.shape and torch.equal(a, b)
                   for a, b in zip(cached[1], tensors, strict=True))
    ):  # fmt: skip
        working = copy.deepcopy(model).to(dtype).eval().requires_grad_(False)
        cached = (dtype, [t.clone() for t in tensors], working)
        _WORKING_COPIES[model] = cached
    return cached[2]


class BoundShape:
    """A model bound to one rest shape: shape tokens, query embeddings and the decoder's output
    at z = 0 are computed once, so decoding the sample points costs one decoder pass.

    Args:
        model: a trained NeuROK. mesh: the closed rest surface [m].
        points: (N, 3) rest sample points [m] (default: ``num_points`` inside the mesh); they
            share the object's mass and volume.
        surface: (S, 3) massless rest points [m] appended after ``points``: they move with the
            decoded shape and take part in ground contact only (so thin parts and corners
            that no interior point is near cannot sink into the floor).
        cloud: (M, 3) rest point cloud for the prior encoder (default: half interior, half
            surface samples, as in training).
    """

    def __init__(
        self,
        model: NeuROK,
        mesh: trimesh.Trimesh,
        points: np.ndarray | None = None,
        cloud: np.ndarray | None = None,
        num_points: int = 256,
        surface: np.ndarray | None = None,
        seed: int = 0,
        dtype: torch.dtype = torch.float64,
        surrogate: bool = False,
    ) -> None:
        self.model = _working_copy(model, dtype)
        self.mesh = check_mesh(mesh)
        self.dtype = dtype
        if points is None:
            points = sample_interior(mesh, num_points, seed)
        points = np.asarray(points, dtype=np.float64)
        extra = np.zeros((0, 3)) if surface is None else np.asarray(surface, dtype=np.float64)
        self.rest = np.concatenate([points, extra])
        # the fraction of the volume (and mass) each point stands for
        self.weights = np.concatenate([np.full(len(points), 1.0 / len(points)),
                                       np.zeros(len(extra))])  # fmt: skip
        if cloud is None:
            cloud = np.concatenate([sample_interior(mesh, 256, seed + 1),
                                    surface_samples(mesh, 256, seed + 2)])  # fmt: skip
        self.centre, self.scale = normalise(points)
        self.scale = float(np.linalg.norm(mesh.bounds[1] - mesh.bounds[0]))
        with torch.no_grad():
            local_cloud = self._local(np.asarray(cloud))
            self.tokens, self.prior_mean = self.model.prior(local_cloud[None])
        self.points = self._local(self.rest)[None]
        self._cache = self._point_cache(self.points)
        self.seed = seed
        # the latent state the dynamics use: z = modes @ w (identity unless restricted)
        self.modes = np.eye(self.model.state_dim)
        self.frequencies: np.ndarray | None = None
        self.mode_stiffness: np.ndarray | None = None  # omega^2 of the kept modes [1/s^2]
        self._radius: np.ndarray | None = None
        self._gradient: DeformationGradient | None = None
        self.range = self.model.latent_range.double().numpy()
        self.surrogate: PolynomialSurrogate | None = None
        if surrogate:
            self.surrogate = PolynomialSurrogate(self._decode, self.range, seed=seed)

    @property
    def contact_radius(self) -> np.ndarray:
        """(N,) depth [m] of each rest sample point under the rest surface: a point meets
        the ground when the surface below it would (see :class:`neurok.dynamics.Body`)."""
        if self._radius is None:
            # the massless surface samples lie on the surface: depth 0
            self._radius = np.zeros(len(self.rest))
            inner = self.weights > 0
            self._radius[inner] = surface_distance(self.rest[inner], self.mesh.vertices,
                                                   self.mesh.faces)  # fmt: skip
        return self._radius

    @property
    def state_dim(self) -> int:
        """Size of the latent state w of this bound shape (z = modes @ w)."""
        return int(self.modes.shape[1])

    def restrict_to_modes(
        self, material: MaterialParams, omega_max: float, surrogate: bool = True
    ) -> None:
        """Keep only the latent vibration modes the time step resolves.

        At rest, the decoder's latent directions (rigid parts removed) have a mass matrix
        M = J^T m J and an elastic stiffness K = J^T H J (H the Hessian of the elastic energy
        of the sample points, by finite differences of its gradient). The modes of
        K v = omega^2 M v above ``omega_max`` [rad/s] vibrate faster than an explicit stage
        can follow, and under gravity or impacts deflect by ~g / omega^2 (sub-millimetre):
        they are dropped, the rest become the state w (M-orthonormal). With ``surrogate``
        the polynomial stand-in is fitted in w."""
        eps = 1e-4
        k = self.model.state_dim
        stencil = torch.cat([eps * torch.eye(k), -eps * torch.eye(k)]).to(self.dtype)
        with torch.no_grad():
            out = self._decode_z(stencil).numpy()
        J = ((out[:k] - out[k:]) / (2 * eps)).reshape(k, -1).T  # (3N, k)
        x0 = self.rest - self.centre
        n = len(x0)
        mass = material.density * self.mesh.volume * self.weights
        m3 = np.repeat(mass, 3)
        rigid = np.zeros((n, 3, 6))
        rigid[:, :, :3] = np.eye(3)
        for a, axis in enumerate(np.eye(3)):
            rigid[:, :, 3 + a] = np.cross(axis, x0)
        rigid = rigid.reshape(-1, 6)
        gram = rigid.T @ (m3[:, None] * rigid)
        J = J - rigid @ np.linalg.solve(gram, rigid.T @ (m3[:, None] * J))
        elastic = self.elasticity(material)
        h = 1e-6 / max(float(np.abs(J).max()), 1e-12)
        gradient = functools.partial(compiled.elastic_gradient, elastic)
        HJ = np.stack([
            (gradient(x0 + h * J[:, j].reshape(n, 3))
             - gradient(x0 - h * J[:, j].reshape(n, 3))).reshape(-1) / (2 * h)
            for j in range(k)
        ], axis=1)  # fmt: skip
        M = J.T @ (m3[:, None] * J)
        K = 0.5 * (J.T @ HJ + (J.T @ HJ).T)
        # latent directions that barely move the points (degenerate for this shape) would
        # need huge latents: keep the well-conditioned part of M only
        mass_values, mass_vectors = np.linalg.eigh(M)
        live = mass_vectors[:, mass_values > 1e-4 * mass_values.max()]
        omega2, vectors = scipy.linalg.eigh(live.T @ K @ live, live.T @ M @ live)
        keep = omega2 <= omega_max**2
        self.frequencies = np.sqrt(np.maximum(omega2, 0.0))
        self.modes = live @ vectors[:, keep]  # M-orthonormal columns
        self.mode_stiffness = np.maximum(omega2[keep], 0.0)
        # the box of w: the latent box mapped through w = V^T M z
        corners = np.random.default_rng(self.seed).uniform(-1, 1, (512, k)) * self.range
        projected = corners @ (M @ self.modes)
        # the box of w: what the training latents span, but no further than deforming a point
        # by 5 % of the size per mode (beyond that the decoder turns strongly nonlinear and
        # the elastic energy is far above anything the dynamics reach)
        reach = np.abs((J @ self.modes).reshape(n, 3, -1)).max(axis=(0, 1))
        limit = MODE_REACH * self.scale / np.maximum(reach, 1e-12)
        self.range = np.maximum(np.minimum(1.25 * np.abs(projected).max(axis=0), limit), 1e-6)
        self.surrogate = None
        if surrogate:  # fitted over that box, where the states of a clip stay
            self.surrogate = PolynomialSurrogate(self._decode, self.range, SURROGATE_DEGREE,
                                                 seed=self.seed)  # fmt: skip

    def elasticity(self, material: MaterialParams) -> Elasticity:
        """The neo-Hookean elasticity of the sample points for ``material`` (their MLS
        discretisation is built once per shape)."""
        if self._gradient is None:
            self._gradient = DeformationGradient(self.rest)
        volume = self.mesh.volume * self.weights
        return Elasticity(self.rest, volume, material.E, material.nu, self._gradient,
                          material.yield_stress)  # fmt: skip

    def _local(self, points: np.ndarray) -> torch.Tensor:
        return torch.as_tensor((points - self.centre) / self.scale, dtype=self.dtype)

    def _point_cache(self, points: torch.Tensor) -> torch.Tensor | tuple:
        with torch.no_grad():
            return self.model.point_cache(self.tokens, points)

    def body_positions(self, z: torch.Tensor) -> torch.Tensor:
        """Sample points [m] in the body frame (rest centre at the origin): (N, 3) for a
        reduced latent z (state_dim,), or (B, N, 3) for a batch (B, state_dim). Uses the
        polynomial surrogate when the shape was bound with ``surrogate=True``."""
        batch = z if z.dim() == 2 else z[None]
        out = self.surrogate(batch) if self.surrogate is not None else self._decode(batch)
        return out if z.dim() == 2 else out[0]

    def _decode(self, batch: torch.Tensor) -> torch.Tensor:
        """(B, state_dim) states w -> (B, N, 3) sample points [m], by the decoder."""
        return self._decode_z(batch @ torch.as_tensor(self.modes.T, dtype=batch.dtype))

    def _decode_z(self, batch: torch.Tensor) -> torch.Tensor:
        """(B, model.state_dim) reduced latents z -> (B, N, 3) sample points [m]."""
        z_full = batch @ self.model.basis.T.to(batch.dtype)
        B = batch.shape[0]
        local = self.model.deform(z_full, self.tokens.expand(B, -1, -1),
                                  self.points.expand(B, -1, -1), self._cache,
                                  rigid_shortcut=True)  # fmt: skip
        return self.scale * local

    def decode_points(self, z: torch.Tensor, points: np.ndarray) -> np.ndarray:
        """Body-frame positions [m] of any rest points (e.g. mesh vertices): (P, 3) for a
        state w (state_dim,), or (T, P, 3) for a batch (T, state_dim), in one decoder pass."""
        batch = z if z.dim() == 2 else z[None]
        T = batch.shape[0]
        local = self._local(np.asarray(points))[None]
        cache = self._point_cache(local)
        with torch.no_grad():
            z_full = batch @ torch.as_tensor(self.modes.T, dtype=batch.dtype)
            z_full = z_full @ self.model.basis.T.to(batch.dtype)
            out = self.model.deform(z_full, self.tokens.expand(T, -1, -1),
                                    local.expand(T, -1, -1), cache,
                                    rigid_shortcut=True)  # fmt: skip
        out = (self.scale * out).numpy()
        return out if z.dim() == 2 else out[0]


@dataclass
class Load:
    """An external load on the emulated object: a constant ``force`` [N] over [start, end) s,
    or an ``impulse`` [N s] at ``start`` (spread over one step); on the points inside
    ``region`` (an mpm shape at the rest placement), or on all points."""

    force: tuple[float, float, float] = (0.0, 0.0, 0.0)
    impulse: tuple[float, float, float] | None = None
    start: float = 0.0
    end: float = float("inf")
    region: Any = None
    mask: np.ndarray | None = field(default=None, repr=False)


class LoadTable:
    """The loads as arrays, ``(t, x) -> (N, 3)`` forces [N] when called: per load its
    ``times`` (start, end, 1 for an impulse), ``vectors`` (force [N] or impulse [N s]) and
    ``shares`` (the fraction each point takes, by mass). An impulse is spread over the step
    ``h`` [s] that starts at or before its time; the compiled integrator reads the same arrays."""

    def __init__(self, loads: Sequence[Load], rest: np.ndarray, mass: np.ndarray, h: float) -> None:
        self.h = float(h)
        self.times = np.zeros((len(loads), 3))
        self.vectors = np.zeros((len(loads), 3))
        self.shares = np.zeros((len(loads), len(rest)))
        for i, load in enumerate(loads):
            mask = np.ones(len(rest), bool) if load.region is None else load.region.contains(rest)
            if not mask.any():
                raise LatentError(f"the load region of {load} contains no point of the object.")
            share = mass * mask
            self.shares[i] = share / share.sum()
            impulse = load.impulse is not None
            self.times[i] = (load.start, load.end, float(impulse))
            self.vectors[i] = np.asarray(load.impulse if impulse else load.force, np.float64)

    def __call__(self, t: float, x: np.ndarray) -> np.ndarray:
        f = np.zeros_like(x)
        for (start, end, impulse), vector, share in zip(
            self.times, self.vectors, self.shares, strict=True
        ):
            if impulse and start <= t < start + self.h:
                f += share[:, None] * vector / self.h
            elif not impulse and start <= t < end:
                f += share[:, None] * vector
        return f


def fit_state(
    bound: BoundShape, positions: np.ndarray, velocities: np.ndarray | None = None,
    iterations: int = 50,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:  # fmt: skip
    """Initial conditions from an observed state of the (massive) sample points: (q0, qdot0,
    R0) with q0 = (c, theta, z) minimising |x(q0) - positions|^2 (Kabsch for the frame, then
    Gauss-Newton on z and the frame), and qdot0 the least-squares fit |J qdot0 - velocities|^2.
    ``positions`` (P, 3) are those of the first P points of the bound shape."""
    positions = np.asarray(positions, dtype=np.float64)
    count = len(positions)
    if positions.ndim != 2 or positions.shape[1] != 3 or not 0 < count <= len(bound.rest):
        raise LatentError(
            f"observed positions must be (P, 3) with 0 < P <= {len(bound.rest)} (the sample "
            f"points), got {positions.shape}."
        )
    rows = slice(0, 3 * count)
    R, _ = kabsch(bound.rest[:count] - bound.centre, positions - positions.mean(axis=0))
    body = _body_of(bound, MaterialParams())
    if bound.surrogate is not None:  # exact derivatives of the surrogate (NumPy)
        fast = FastDynamics(bound.surrogate, body, contact=None)
        fast.R0 = R

        def kinematics(q: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            x, J, _, _ = fast.kinematics(q, np.zeros_like(q))
            return x, J

    else:  # the decoder itself (PyTorch reference)
        dynamics = LatentDynamics(body, contact=None)
        dynamics.R0 = torch.as_tensor(R, dtype=bound.dtype)

        def kinematics(q: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            with torch.no_grad():
                q_t = torch.as_tensor(q, dtype=bound.dtype)
                x, J, _, _ = dynamics.kinematics(q_t, torch.zeros_like(q_t))
            return x.numpy(), J.numpy()

    n = 6 + bound.state_dim
    q = np.zeros(n)
    q[:3] = positions.mean(axis=0)
    target = positions.reshape(-1)
    for _ in range(iterations):
        x, J = kinematics(q)
        J = J[rows]
        residual = x.reshape(-1)[rows] - target
        step = np.linalg.solve(J.T @ J + 1e-8 * np.eye(n), J.T @ residual)
        q = q - step
        if float(np.linalg.norm(step)) < 1e-10:
            break
    qdot = np.zeros(n)
    if velocities is not None:
        _, J = kinematics(q)
        v = np.asarray(velocities, np.float64).reshape(-1)
        qdot = np.linalg.lstsq(J[rows], v, rcond=None)[0]
    return q, qdot, R


def _body_of(bound: BoundShape, material: MaterialParams) -> Body:
    volume = bound.mesh.volume * bound.weights
    total = material.density * bound.mesh.volume
    return Body(
        positions=bound.body_positions,
        mass=torch.as_tensor(material.density * volume),
        volume=torch.as_tensor(volume),
        rest=bound.rest,
        E=material.E, nu=material.nu, viscosity=material.viscosity,
        radius=bound.contact_radius,
        yield_stress=material.yield_stress,
        # the ground spring per point is sized as if 64 points carried the body: spread over
        # all 320 points, a corner landing on 5 of them would meet omega sqrt(5 / 320), about
        # omega / 8, and a 3 m/s impact would sink ~4 cm
        contact_mass=np.full(len(volume), total / min(len(volume), 64)),
    )  # fmt: skip


def on_one_torch_thread(function: Callable) -> Callable:
    """Run ``function`` with PyTorch on one thread (restored afterwards). The emulator's
    tensors are small (a few hundred points, width 64): handing them to a second thread costs
    more than it saves (measured on a 2-core CPU: held-out clip 12, 62 -> 47 ms)."""

    @functools.wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        previous = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            return function(*args, **kwargs)
        finally:
            torch.set_num_threads(previous)

    return wrapper


@on_one_torch_thread
def simulate(
    model: NeuROK,
    rest_mesh: trimesh.Trimesh,
    material: Any = None,
    z0: Sequence[float] | np.ndarray | None = None,
    zdot0: Sequence[float] | np.ndarray | None = None,
    velocity: Sequence[float] = (0.0, 0.0, 0.0),
    angular_velocity: Sequence[float] = (0.0, 0.0, 0.0),
    observed: tuple[np.ndarray, np.ndarray] | None = None,
    loads: Sequence[Load] = (),
    colliders: Sequence[mpm.colliders.Sphere] = (),
    duration: float = 1.0,
    fps: float = 30.0,
    dt: float | None = None,
    ground: float | None = 0.0,
    friction: float = 0.4,
    contact_damping: float | None = None,
    contact_omega: float | None = None,
    points: np.ndarray | None = None,
    num_points: int = 128,
    contact_points: int = 192,
    exact: bool = False,
    progress: bool = True,
) -> mpm.Trajectory:
    """Emulate ``rest_mesh`` (placed in the world, [m]) made of ``material`` for ``duration``
    seconds and record ``fps`` frames.

    The initial state is the rest pose moved by latent z0 with latent velocity zdot0, a
    rigid ``velocity`` [m/s] and ``angular_velocity`` [rad/s] about the centre of mass, or,
    when ``observed`` = (positions, velocities) of the sample ``points`` is given, fitted to
    it. ``loads`` apply forces or impulses; ``colliders`` are moving spheres
    (:class:`mpm.colliders.Sphere`, as in an MPM scene) that push the object with the floor's
    kind of contact (spring and damping scaled, see COLLIDER_STIFFNESS_RATIO), and their own
    friction (:mod:`neurok.colliders`). ``ground`` is the height of the floor (None: no
    floor), with Coulomb ``friction``, and a penalty spring of angular frequency
    ``contact_omega`` [rad/s] and damping ratio ``contact_damping`` (None: from the material
    and size, see :func:`contact_law`; the damping acts only on points still approaching
    the floor, the friction on points approaching or resting on it, see
    :class:`neurok.dynamics.Contact`). The soft spring of an
    elastic body stands for the squash its latent modes cannot express; what it lets
    through the floor is recorded flattened onto the floor, as the squashed body would
    lie there. Besides the ``num_points`` interior samples (or ``points``) that carry the
    mass, ``contact_points`` massless surface samples meet the floor. The step ``dt`` [s]
    (None: 1/120 s, or 1/240 s for a floor spring too stiff for it, see
    :func:`default_step`) is shortened where needed to fit a whole number of steps in a
    frame; latent modes vibrating faster than 1.5 / h [rad/s], h the step used, are left out
    (see :meth:`BoundShape.restrict_to_modes`).
    ``exact`` integrates on the decoder itself (PyTorch, slow) instead of the per-shape
    polynomial surrogate (NumPy, the default).
    Returns a Trajectory with an ``object_surface`` mesh track and an ``object`` track of
    the sample points.

    Raises:
        MeshError: the mesh encloses no volume. LatentError: z0/zdot0 of the wrong size.
        SettingsError: a non-positive duration, fps, dt or contact omega, or a negative
            friction, contact damping (it would feed energy in) or number of contact points;
            a collider that is not a sphere.
    """
    params = MaterialParams.of(material) if material is not None else MaterialParams()
    diagonal = float(np.linalg.norm(rest_mesh.bounds[1] - rest_mesh.bounds[0]))
    law_omega, law_damping = contact_law(params, diagonal)
    contact_omega = law_omega if contact_omega is None else contact_omega
    contact_damping = law_damping if contact_damping is None else contact_damping
    if dt is None:
        dt = default_step(None if ground is None and not colliders else contact_omega)
    _check_settings(duration=duration, fps=fps, dt=dt, friction=friction,
                    contact_damping=contact_damping, contact_points=contact_points,
                    contact_omega=contact_omega)  # fmt: skip
    spheres = None
    if colliders:  # the floor's law around each ball, softer (plasticine: inelastic)
        plastic = params.yield_stress > 0
        law = ColliderLaw(
            omega=(PLASTIC_COLLIDER_STIFFNESS_RATIO if plastic else COLLIDER_STIFFNESS_RATIO)
            * contact_omega,
            damping=contact_damping * (1.0 if plastic else COLLIDER_DAMPING_SHARE),
            inelastic=plastic, slip_speed=DEFAULT_CONTACT.slip_speed,
            hardness=PLASTIC_HARDNESS_RATIO * params.yield_stress,
        )  # fmt: skip
        spheres = ColliderTable(colliders, law, duration)
    start_clock = time.perf_counter()
    surface = surface_samples(rest_mesh, contact_points, 1) if contact_points > 0 else None
    bound = BoundShape(model, rest_mesh, points=points, num_points=num_points, surface=surface)
    latents = {}
    for name, value in (("z0", z0), ("zdot0", zdot0)):
        if value is not None:
            latent = np.asarray(value, dtype=np.float64).reshape(-1)
            model.check_latent(torch.as_tensor(latent), name)
            latents[name] = latent
    # whole steps per frame, none longer than dt (the float tolerance keeps 1/240 s at 8 per
    # frame at 30 fps)
    steps_per_frame = max(1, int(np.ceil(1.0 / (fps * dt) - 1e-9)))
    h = 1.0 / (fps * steps_per_frame)
    bound.restrict_to_modes(params, omega_max=1.5 / h, surrogate=not exact)
    n = 6 + bound.state_dim
    body = _body_of(bound, params)
    contact = None if ground is None else Contact(
        height=float(ground), omega=contact_omega, friction=friction, damping=contact_damping,
        damp_separation=params.yield_stress > 0,  # plasticine: an inelastic floor
        # friction on the surface below each point; plasticine keeps it on the points, whose
        # drag on a rolling body stands in for the flat base its MPM twin slumps onto
        friction_at_surface=params.yield_stress <= 0,
    )
    q, qdot = np.zeros(n), np.zeros(n)
    R0 = np.eye(3)
    if observed is not None:
        q, qdot, R0 = fit_state(bound, observed[0], observed[1])
    else:
        q[:3] = bound.centre
        qdot[:3] = np.asarray(velocity, dtype=np.float64)
        qdot[3:6] = np.asarray(angular_velocity, dtype=np.float64)
        for name, target in (("z0", q), ("zdot0", qdot)):
            if name in latents:  # onto the resolved modes: z = modes @ w
                target[6:] = np.linalg.lstsq(bound.modes, latents[name], rcond=None)[0]
    external = LoadTable(loads, bound.rest, body.mass.numpy(), h) if loads else None
    engine = _Engine(bound, body, contact, R0, external, exact, spheres)
    frames = round(duration * fps)
    states = [(q.copy(), engine.orientation.copy())]
    t = 0.0
    # the first frame of a process loads the compiled integrator from Numba's disk cache, or
    # compiles it on a machine's first run (about 30 s): the bar says so while it waits
    preparing = engine.native is not None and not compiled.advance.signatures
    bar = tqdm(range(frames), unit="frame", disable=not progress,
               desc=PREPARING if preparing else "neurok")  # fmt: skip
    for frame in bar:
        q, qdot = engine.advance(q, qdot, h, t, steps_per_frame)
        if preparing and frame == 0:
            bar.set_description("neurok")
        t += steps_per_frame * h
        if not np.isfinite(q).all():
            raise LatentError(
                f"the emulation diverged at t = {t:.3f} s; use a smaller dt (now {dt})."
            )
        states.append((q.copy(), engine.orientation.copy()))
    emulate_time = time.perf_counter() - start_clock
    traj = _trajectory(bound, states, fps, emulate_time, params, ground, spheres)
    if colliders:  # as an MPM run records them, so renders and exports show the spheres
        traj.metadata["colliders"] = [collider.to_dict() for collider in colliders]
    if contact is not None:
        traj.metadata["neurok"]["contact"] = {"omega": contact.omega, "damping": contact.damping}
    traj.metadata["neurok"]["force_evaluations"] = engine.evaluations
    traj.metadata["neurok"]["step_s"] = h
    return traj


def _check_settings(**values: float) -> None:
    """Raise SettingsError for a non-positive duration/fps/dt or a negative other setting,
    before any work is done."""
    for name, value in values.items():
        positive = name in ("duration", "fps", "dt", "contact_omega")
        if not np.isfinite(value) or (value <= 0 if positive else value < 0):
            bound = "> 0" if positive else ">= 0"
            raise SettingsError(f"simulate: {name} must be {bound}, got {value}.")


class _Engine:
    """The integrator behind :func:`simulate`: :class:`FastDynamics` on the per-shape
    polynomial surrogate, its steps run by the compiled integrator (:mod:`neurok.compiled`,
    the default), or on the decoder itself (``exact``, NumPy and PyTorch, slow)."""

    def __init__(
        self, bound: BoundShape, body: Body, contact: Contact | None, R0: np.ndarray,
        external: LoadTable | None, exact: bool, colliders: ColliderTable | None = None,
    ) -> None:  # fmt: skip
        assert exact or bound.surrogate is not None
        elastic = bound.elasticity(MaterialParams(E=body.E, nu=body.nu,
                                                  yield_stress=body.yield_stress))  # fmt: skip
        self.fast = FastDynamics(None if exact else bound.surrogate, body, contact=contact,
                                 elastic=elastic)  # fmt: skip
        self.fast.R0 = np.asarray(R0, dtype=np.float64)
        self.fast.external = external
        self.fast.colliders = colliders
        self.native = None if exact else compiled.build(self.fast, external)
        if self.native is not None and not compiled.advance.signatures:
            logger.info("preparing the compiled integrator: loaded from Numba's disk cache, or "
                        "compiled on a machine's first run (about 30 s)")  # fmt: skip
        # force evaluations of the compiled integrator (not counted on the exact path)
        self.evaluations: int | None = None if exact else 0

    @property
    def orientation(self) -> np.ndarray:
        """The reference orientation R0 (3, 3) the rotation is folded into."""
        return self.fast.R0

    def advance(
        self, q: np.ndarray, qdot: np.ndarray, h: float, t: float, steps: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """(q, qdot) after ``steps`` steps of size h [s] from time t."""
        if self.native is None:
            for i in range(steps):
                q, qdot = self.fast.step(q, qdot, h, t + i * h)
            return q, qdot
        q, qdot, self.fast.R0, count = compiled.advance(
            self.native, self.fast.R0, q, qdot, h, t, steps, ITERATIONS
        )
        self.evaluations = (self.evaluations or 0) + count
        return q, qdot


def embedding_weights(rest_points: np.ndarray, vertices: np.ndarray, neighbours: int = 12) -> Any:
    """Sparse (V, N) weights W with vertices = W @ points for any affine motion of the
    points (moving least squares, linear basis, Gaussian weights over each vertex's
    ``neighbours`` nearest rest points): the surface mesh is carried by the simulated points,
    as MPM carries its surface mesh with the particles."""
    from scipy.spatial import cKDTree

    k = min(neighbours, len(rest_points))
    distance, index = cKDTree(rest_points).query(vertices, k=k)
    radius = np.maximum(distance[:, -1:], 1e-9)
    theta = np.exp(-((distance / radius) ** 2) * 2.0)  # (V, k)
    # (V, k, 4): neighbour offsets from the vertex, and 1 for the affine part
    local = np.concatenate([rest_points[index] - vertices[:, None, :],
                            np.ones((*index.shape, 1))], axis=2)  # fmt: skip
    moment = np.matmul((theta[..., None] * local).transpose(0, 2, 1), local)  # (V, 4, 4)
    moment += 1e-12 * np.eye(4) * np.trace(moment, axis1=1, axis2=2)[:, None, None]
    solved = np.linalg.solve(moment, np.broadcast_to(np.eye(4)[3], (len(vertices), 4))[..., None])
    coefficients = theta * np.matmul(local, solved)[..., 0]
    rows = np.repeat(np.arange(len(vertices)), k)
    shape = (len(vertices), len(rest_points))
    return scipy.sparse.csr_matrix((coefficients.reshape(-1), (rows, index.reshape(-1))), shape)


def _trajectory(
    bound: BoundShape,
    states: list[tuple[np.ndarray, np.ndarray]],
    fps: float,
    wall_time: float,
    params: MaterialParams,
    ground: float | None = None,
    spheres: ColliderTable | None = None,
) -> mpm.Trajectory:
    """The recorded states as sample points and the surface mesh they carry, anything the
    contact spring let below the ``ground`` moved up onto it (how deep that went, [m], is
    kept in the metadata as ``floor_depth_m``), and the surface pushed out of the moving
    ``spheres`` onto theirs: the dent the body would take where its contact spring let a
    sphere in (``dent_depth_m``; the sample points, the dynamics' state, are left as they
    are)."""
    latents = torch.as_tensor(np.stack([q[6:] for q, _ in states]))
    with torch.no_grad():
        local_samples = bound.body_positions(latents).numpy()
    carry = embedding_weights(bound.rest, np.asarray(bound.mesh.vertices, dtype=np.float64))
    surface, samples = [], []
    depth, dent = 0.0, 0.0
    for frame, ((q, R0), body_samples) in enumerate(zip(states, local_samples, strict=True)):
        R = R0 @ rodrigues(q[3:6])
        world = body_samples @ R.T + q[:3]
        points = carry @ world
        if spheres is not None:
            dent = max(dent, _push_out_of_spheres(points, spheres, frame / fps))
        if ground is not None:
            lowest = min(float(points[:, 2].min()), float(world[:, 2].min()))
            depth = max(depth, ground - lowest)
            np.maximum(world[:, 2], ground, out=world[:, 2])
            np.maximum(points[:, 2], ground, out=points[:, 2])
        samples.append(world)
        surface.append(points)
    times = np.arange(len(states)) / fps
    return mpm.Trajectory(
        times=times,
        tracks={
            # one object: renders draw its surface mesh, not its sample points
            "object": mpm.Track(positions=np.asarray(samples, np.float32), object_name="object"),
            "object_surface": mpm.Track(
                positions=np.asarray(surface, np.float32), faces=np.asarray(bound.mesh.faces),
                object_name="object",
            ),
        },
        metadata={"neurok": {"wall_time_s": wall_time, "material": params.__dict__,
                             "state_dim": bound.state_dim, "floor_depth_m": depth,
                             "dent_depth_m": dent}},
    )  # fmt: skip


def _push_out_of_spheres(points: np.ndarray, spheres: ColliderTable, t: float) -> float:
    """Move the ``points`` (V, 3) [m] inside any of the ``spheres`` at time t radially onto
    its surface, in place; returns the deepest overlap [m]."""
    deepest = 0.0
    for centre, radius in zip(spheres.state(t)[0], spheres.radius, strict=True):
        offset = points - centre
        distance = np.linalg.norm(offset, axis=1)
        inside = (distance < radius) & (distance > 1e-12)
        if inside.any():
            deepest = max(deepest, float(radius - distance[inside].min()))
            points[inside] = centre + offset[inside] * (radius / distance[inside])[:, None]
    return deepest
