"""Emulate an object's dynamics with a trained model: bind it to a rest shape, set the initial
state (given, or fitted to an observed state), integrate the latent Lagrangian dynamics, and
return an :class:`mpm.Trajectory` like any simulation.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.linalg
import scipy.sparse
import torch
import trimesh
from tqdm.auto import tqdm

import mpm
from mpm.meshio import RayWinding
from neurok.dynamics import DEFAULT_CONTACT, Body, Contact, LatentDynamics
from neurok.errors import LatentError, MeshError, SettingsError
from neurok.fast import FastDynamics, rodrigues
from neurok.model import NeuROK, normalise
from neurok.surrogate import PolynomialSurrogate

MODE_REACH = 0.05  # how far (fraction of the size) one latent mode may move a point


@dataclass(frozen=True)
class MaterialParams:
    """Elastic parameters of the emulated object: E [Pa], nu [-], density [kg/m^3], and
    Kelvin-Voigt viscosity [Pa s] (0: undamped)."""

    E: float = 5.0e4
    nu: float = 0.3
    density: float = 1000.0
    viscosity: float = 10.0

    @classmethod
    def of(cls, material: Any) -> MaterialParams:
        """From an mpm material, a dict, or a MaterialParams."""
        if isinstance(material, MaterialParams):
            return material
        if isinstance(material, dict):
            keys = ("E", "nu", "density", "viscosity")
            return cls(**{k: float(material[k]) for k in keys if k in material})
        return cls(
            E=float(material.E), nu=float(material.nu), density=float(material.density),
            viscosity=float(getattr(material, "viscosity", 0.0)),
        )  # fmt: skip


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
        # a private, frozen copy in the working precision (the caller's model is untouched)
        self.model = copy.deepcopy(model).to(dtype).eval().requires_grad_(False)
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
        self.range = self.model.latent_range.double().numpy()
        self.surrogate: PolynomialSurrogate | None = None
        if surrogate:
            self.surrogate = PolynomialSurrogate(self._decode, self.range, seed=seed)

    @property
    def contact_radius(self) -> np.ndarray:
        """(N,) depth [m] of each rest sample point under the rest surface: a point meets
        the ground when the surface below it would (see :class:`neurok.dynamics.Body`)."""
        if self._radius is None:
            _, distance, _ = trimesh.proximity.closest_point(self.mesh, self.rest)
            self._radius = np.asarray(distance, dtype=np.float64)
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
        from neurok.fast import Elasticity

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
        volume = self.mesh.volume * self.weights
        elastic = Elasticity(self.rest, volume, material.E, material.nu)
        h = 1e-6 / max(float(np.abs(J).max()), 1e-12)
        HJ = np.stack([
            (elastic.gradient(x0 + h * J[:, j].reshape(n, 3))
             - elastic.gradient(x0 - h * J[:, j].reshape(n, 3))).reshape(-1) / (2 * h)
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
            self.surrogate = PolynomialSurrogate(self._decode, self.range, seed=self.seed)

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
                                  self.points.expand(B, -1, -1), self._cache)  # fmt: skip
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
                                    local.expand(T, -1, -1), cache)  # fmt: skip
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


def _loads_callable(loads: Sequence[Load], rest: np.ndarray, mass: np.ndarray, h: float) -> Any:
    """(t, x) -> (N, 3) forces [N] of the loads (NumPy), or None without loads."""
    if not loads:
        return None
    entries = []
    for load in loads:
        mask = np.ones(len(rest), bool) if load.region is None else load.region.contains(rest)
        if not mask.any():
            raise LatentError(f"the load region of {load} contains no point of the object.")
        share = mass * mask
        entries.append((load, share / share.sum()))

    def external(t: float, x: np.ndarray) -> np.ndarray:
        f = np.zeros_like(x)
        for load, share in entries:
            if load.impulse is not None:
                if load.start <= t < load.start + h:
                    f += share[:, None] * np.asarray(load.impulse, dtype=np.float64) / h
            elif load.start <= t < load.end:
                f += share[:, None] * np.asarray(load.force, dtype=np.float64)
        return f

    return external


def fit_state(
    bound: BoundShape, positions: np.ndarray, velocities: np.ndarray | None = None,
    iterations: int = 50,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:  # fmt: skip
    """Initial conditions from an observed state of the (massive) sample points: (q0, qdot0,
    R0) with q0 = (c, theta, z) minimising |x(q0) - positions|^2 (Kabsch for the frame, then
    Gauss-Newton on z and the frame), and qdot0 the least-squares fit |J qdot0 - velocities|^2.
    ``positions`` (P, 3) are those of the first P points of the bound shape."""
    from neurok.geometry import kabsch

    positions = np.asarray(positions, dtype=np.float64)
    count = len(positions)
    if positions.ndim != 2 or positions.shape[1] != 3 or not 0 < count <= len(bound.rest):
        raise LatentError(
            f"observed positions must be (P, 3) with 0 < P <= {len(bound.rest)} (the sample "
            f"points), got {positions.shape}."
        )
    rows = slice(0, 3 * count)
    R, _ = kabsch(bound.rest[:count] - bound.centre, positions - positions.mean(axis=0))
    dynamics = LatentDynamics(_body_of(bound, MaterialParams()), contact=None)
    dynamics.R0 = torch.as_tensor(R, dtype=bound.dtype)
    n = 6 + bound.state_dim
    q = torch.zeros(n, dtype=bound.dtype)
    q[:3] = torch.as_tensor(positions.mean(axis=0), dtype=bound.dtype)
    target = torch.as_tensor(positions, dtype=bound.dtype).reshape(-1)
    for _ in range(iterations):
        x, J, _, _ = dynamics.kinematics(q, torch.zeros_like(q))
        J = J[rows]
        residual = x.reshape(-1)[rows] - target
        step = torch.linalg.solve(J.T @ J + 1e-8 * torch.eye(n, dtype=q.dtype), J.T @ residual)
        q = q - step
        if float(step.norm()) < 1e-10:
            break
    qdot = torch.zeros(n, dtype=bound.dtype)
    if velocities is not None:
        _, J, _, _ = dynamics.kinematics(q, torch.zeros_like(q))
        J = J[rows]
        v = torch.as_tensor(np.asarray(velocities, np.float64), dtype=bound.dtype).reshape(-1)
        qdot = torch.linalg.lstsq(J, v[:, None]).solution[:, 0]
    return q.numpy(), qdot.numpy(), dynamics.R0.numpy()


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
        # the ground spring per point is sized as if 64 points carried the body: spread over
        # all 320 points, a corner landing on 5 of them would meet omega sqrt(5 / 320), about
        # omega / 8, and a 3 m/s impact would sink ~4 cm
        contact_mass=np.full(len(volume), total / min(len(volume), 64)),
    )  # fmt: skip


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
    duration: float = 1.0,
    fps: float = 30.0,
    dt: float = 1.0 / 240.0,
    ground: float | None = 0.0,
    friction: float = 0.4,
    contact_damping: float = DEFAULT_CONTACT.damping,
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
    it. ``loads`` apply forces or impulses; ``ground`` is the height of the floor (None: no
    floor), with Coulomb ``friction`` and the damping ratio ``contact_damping`` of its
    penalty spring (what is not returned of an impact: the default is calibrated on the
    training drops, see benchmarks/neurok_eval.py --calibrate); besides the ``num_points``
    interior samples (or ``points``) that carry the mass, ``contact_points`` massless surface
    samples meet the floor. Latent modes vibrating faster than 1.5 / dt [rad/s] are left
    out (see :meth:`BoundShape.restrict_to_modes`).
    ``exact`` integrates on the decoder itself (PyTorch, slow) instead of the per-shape
    polynomial surrogate (NumPy, the default).
    Returns a Trajectory with an ``object_surface`` mesh track and an ``object`` track of
    the sample points.

    Raises:
        MeshError: the mesh encloses no volume. LatentError: z0/zdot0 of the wrong size.
        SettingsError: a non-positive duration, fps or dt, or a negative friction, contact
            damping (it would feed energy in) or number of contact points.
    """
    _check_settings(duration=duration, fps=fps, dt=dt, friction=friction,
                    contact_damping=contact_damping, contact_points=contact_points)  # fmt: skip
    start_clock = time.perf_counter()
    params = MaterialParams.of(material) if material is not None else MaterialParams()
    surface = surface_samples(rest_mesh, contact_points, 1) if contact_points > 0 else None
    bound = BoundShape(model, rest_mesh, points=points, num_points=num_points, surface=surface)
    latents = {}
    for name, value in (("z0", z0), ("zdot0", zdot0)):
        if value is not None:
            latent = np.asarray(value, dtype=np.float64).reshape(-1)
            model.check_latent(torch.as_tensor(latent), name)
            latents[name] = latent
    steps_per_frame = max(1, round(1.0 / (fps * dt)))
    h = 1.0 / (fps * steps_per_frame)
    bound.restrict_to_modes(params, omega_max=1.5 / h, surrogate=not exact)
    n = 6 + bound.state_dim
    body = _body_of(bound, params)
    contact = None if ground is None else Contact(
        height=float(ground), friction=friction, damping=contact_damping
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
    external = _loads_callable(loads, bound.rest, body.mass.numpy(), h)
    engine = _Engine(bound, body, contact, R0, external, exact)
    frames = round(duration * fps)
    states = [(q.copy(), engine.orientation.copy())]
    t = 0.0
    for _ in tqdm(range(frames), desc="neurok", unit="frame", disable=not progress):
        for _ in range(steps_per_frame):
            q, qdot = engine.step(q, qdot, h, t)
            t += h
        if not np.isfinite(q).all():
            raise LatentError(
                f"the emulation diverged at t = {t:.3f} s; use a smaller dt (now {dt})."
            )
        states.append((q.copy(), engine.orientation.copy()))
    emulate_time = time.perf_counter() - start_clock
    return _trajectory(bound, states, fps, emulate_time, params)


def _check_settings(**values: float) -> None:
    """Raise SettingsError for a non-positive duration/fps/dt or a negative other setting,
    before any work is done."""
    for name, value in values.items():
        positive = name in ("duration", "fps", "dt")
        if not np.isfinite(value) or (value <= 0 if positive else value < 0):
            bound = "> 0" if positive else ">= 0"
            raise SettingsError(f"simulate: {name} must be {bound}, got {value}.")


class _Engine:
    """The integrator behind :func:`simulate` (:class:`FastDynamics`), on the per-shape
    polynomial surrogate (default, fast) or on the decoder itself (``exact``)."""

    def __init__(
        self, bound: BoundShape, body: Body, contact: Contact | None, R0: np.ndarray,
        external: Any, exact: bool,
    ) -> None:  # fmt: skip
        assert exact or bound.surrogate is not None
        self.fast = FastDynamics(None if exact else bound.surrogate, body, contact=contact)
        self.fast.R0 = np.asarray(R0, dtype=np.float64)
        self.fast.external = external

    @property
    def orientation(self) -> np.ndarray:
        """The reference orientation R0 (3, 3) the rotation is folded into."""
        return self.fast.R0

    def step(
        self, q: np.ndarray, qdot: np.ndarray, h: float, t: float
    ) -> tuple[np.ndarray, np.ndarray]:
        return self.fast.step(q, qdot, h, t)


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
    moment = np.einsum("vk,vka,vkb->vab", theta, local, local)
    moment += 1e-12 * np.eye(4) * np.trace(moment, axis1=1, axis2=2)[:, None, None]
    solved = np.linalg.solve(moment, np.broadcast_to(np.eye(4)[3], (len(vertices), 4))[..., None])
    coefficients = theta * np.einsum("vka,va->vk", local, solved[..., 0])
    rows = np.repeat(np.arange(len(vertices)), k)
    shape = (len(vertices), len(rest_points))
    return scipy.sparse.csr_matrix((coefficients.reshape(-1), (rows, index.reshape(-1))), shape)


def _trajectory(
    bound: BoundShape,
    states: list[tuple[np.ndarray, np.ndarray]],
    fps: float,
    wall_time: float,
    params: MaterialParams,
) -> mpm.Trajectory:
    """The recorded states as sample points and the surface mesh they carry."""
    latents = torch.as_tensor(np.stack([q[6:] for q, _ in states]))
    with torch.no_grad():
        local_samples = bound.body_positions(latents).numpy()
    carry = embedding_weights(bound.rest, np.asarray(bound.mesh.vertices, dtype=np.float64))
    surface, samples = [], []
    for (q, R0), body_samples in zip(states, local_samples, strict=True):
        R = R0 @ rodrigues(q[3:6])
        world = body_samples @ R.T + q[:3]
        samples.append(world)
        surface.append(carry @ world)
    times = np.arange(len(states)) / fps
    return mpm.Trajectory(
        times=times,
        tracks={
            "object": mpm.Track(positions=np.asarray(samples, np.float32)),
            "object_surface": mpm.Track(
                positions=np.asarray(surface, np.float32), faces=np.asarray(bound.mesh.faces)
            ),
        },
        metadata={"neurok": {"wall_time_s": wall_time, "material": params.__dict__,
                             "state_dim": bound.state_dim}},
    )  # fmt: skip
