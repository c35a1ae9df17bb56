"""A trained model bound to one rest shape: the sample points, the prior's shape tokens, the
decoder's per-point fields, the latent modes the time step resolves, and the per-shape
polynomial stand-in for the decoder that the integrators evaluate."""

from __future__ import annotations

import copy
import functools
import weakref

import numpy as np
import scipy.linalg
import torch
import trimesh
from numba import njit

from mpm.meshio import RayWinding, surface_distance
from neurok import compiled
from neurok.dynamics import Body
from neurok.errors import MeshError, SettingsError
from neurok.fast import Elasticity
from neurok.geometry import DeformationGradient
from neurok.material import MaterialParams
from neurok.model import NeuROK, normalise
from neurok.surrogate import PolynomialSurrogate

# degree of the per-shape polynomial stand-in for the decoder: on the 10 held-out drops and
# tosses a quadratic leaves 0.2-0.4 % of the deformation unexplained (a cubic 0.03-0.06 %),
# far below the model's own error, and costs a third of the cubic's 84 terms in 6 latents
SURROGATE_DEGREE = 2
MODE_REACH = 0.05  # how far (fraction of the size) one latent mode may move a point


def check_mesh(mesh: trimesh.Trimesh) -> trimesh.Trimesh:
    """Raise MeshError unless ``mesh`` is one closed body enclosing a positive volume."""
    if len(mesh.faces) == 0 or len(mesh.vertices) < 4:
        raise MeshError(
            f"the rest mesh has {len(mesh.faces)} faces and {len(mesh.vertices)} vertices: too "
            "few to enclose a volume (a tetrahedron needs 4 faces); give a closed triangle mesh."
        )
    if not mesh.is_watertight:
        raise MeshError(
            "the rest mesh is not closed (watertight), so it has no inside; repair it, e.g. "
            "with trimesh.repair.fill_holes, or use a solid primitive."
        )
    if mesh.body_count > 1:  # the latent space deforms one body: its parts would move as one
        raise MeshError(
            f"the rest mesh has {mesh.body_count} separate parts, and the emulator moves one "
            "connected body (the parts would move as if rigidly joined). Emulate each part on "
            "its own (mesh.split() gives them), or simulate them with mpm, where parts collide."
        )
    volume = enclosed_volume(mesh)
    if not volume > 1e-9:
        raise MeshError(
            f"the rest mesh encloses no volume ({volume:.3g} m^3); a flat or inverted "
            "mesh cannot be simulated as a solid."
        )
    return mesh


def enclosed_volume(mesh: trimesh.Trimesh) -> float:
    """Signed volume [m^3] a closed triangle mesh encloses (negative when it is inside out):
    by the divergence theorem, a sixth of the sum of a . (b x c) over its triangles, taken
    about the vertices' mean against round-off. ``mesh.volume`` gives the same but
    integrates every mass property for it, ten times slower."""
    vertices = np.asarray(mesh.vertices, dtype=np.float64)
    corners = (vertices - vertices.mean(axis=0))[np.asarray(mesh.faces)]
    triple = np.einsum("ij,ij->i", corners[:, 0], np.cross(corners[:, 1], corners[:, 2]))
    return float(triple.sum() / 6.0)


def solid_moments(mesh: trimesh.Trimesh) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(reference o, centre of mass c, second moment S) of the uniform solid a closed mesh
    encloses, with S = (1 / V) int (x - o)(x - o)^T dV: by the divergence theorem, over the
    tetrahedra each triangle spans with o (the vertices' mean), whose second moment is
    V_t / 20 (sum_k v_k v_k^T + (sum_k v_k)(sum_k v_k)^T) for corners o = 0, v_1, v_2, v_3."""
    vertices = np.asarray(mesh.vertices, dtype=np.float64)
    reference = vertices.mean(axis=0)
    corners = (vertices - reference)[np.asarray(mesh.faces)]  # (F, 3, 3)
    a, b, c = corners[:, 0], corners[:, 1], corners[:, 2]
    volumes = np.einsum("ij,ij->i", a, np.cross(b, c)) / 6.0
    total = volumes.sum()
    summed = a + b + c
    first = (volumes[:, None] * summed).sum(axis=0) / (4.0 * total)
    outer = (np.einsum("fka,fkb->fab", corners, corners)
             + np.einsum("fa,fb->fab", summed, summed))  # fmt: skip
    second = np.einsum("f,fab->ab", volumes, outer) / (20.0 * total)
    return reference, reference + first, second


def moment_matched_weights(
    points: np.ndarray, mesh: trimesh.Trimesh, floor: float = 0.2
) -> np.ndarray:
    """Mass shares (N,) of ``points`` inside ``mesh``, summing to 1, that give them the solid's
    centre of mass and second moments (so its inertia tensor): the least change from equal
    shares under those 10 linear conditions. If that would leave a share below ``floor`` / N,
    the change is scaled back to keep it there, and the moments are matched only partly.

    Why: equal shares of a few hundred random interior points put the centre of mass millimetres
    off the solid's (a 0.16 m ball's 128 points: about 3 mm), and a rolling or spinning body
    then turns about the wrong point: its surface rises and falls like an eccentric wheel's,
    and the floor's damping and friction brake it (benchmarks/RESULTS.md)."""
    points = np.asarray(points, dtype=np.float64)
    reference, centre, second = solid_moments(mesh)
    x = points - reference
    upper = np.triu_indices(3)
    conditions = np.vstack([np.ones(len(x)), x.T,
                            np.einsum("na,nb->nab", x, x)[:, upper[0], upper[1]].T])  # fmt: skip
    targets = np.concatenate([[1.0], centre - reference, second[upper]])
    equal = np.full(len(x), 1.0 / len(x))
    gram = conditions @ conditions.T
    if len(x) < len(targets) or np.linalg.cond(gram) > 1e12:
        return equal  # too few or degenerate points to fit 10 conditions
    change = conditions.T @ np.linalg.solve(gram, targets - conditions @ equal)
    lowest = (equal + change).min()
    if lowest < floor * equal[0]:  # scale back along the change until the lowest share is floor/N
        change *= (1.0 - floor) * equal[0] / (equal[0] - lowest)
    return equal + change


MAX_GRID_POINTS = 4_000_000  # sample_interior's largest candidate grid


def sample_interior(
    mesh: trimesh.Trimesh, count: int, seed: int = 0, volume: float | None = None
) -> np.ndarray:
    """``count`` points inside a closed mesh: a jittered grid fine enough to hold them,
    subsampled at random (seeded). ``volume`` [m^3]: the mesh's, if the caller has it.

    The grid is refined until it holds ``count`` inside points, and is at least three cells
    across the thinnest side of the bounding box, so plates and rods get points too; a
    shape too thin for MAX_GRID_POINTS grid points raises a MeshError saying so."""
    rng = np.random.default_rng(seed)
    low, high = mesh.bounds
    extent = high - low
    volume = enclosed_volume(mesh) if volume is None else volume
    spacing = min((volume / (4 * count)) ** (1 / 3), float(extent.min()) / 3)
    inside = np.zeros((0, 3))
    for _ in range(4):  # each refinement holds about 8x more points
        axes = [np.arange(lo + spacing / 2, hi, spacing) for lo, hi in zip(low, high, strict=True)]
        if np.prod([len(axis) for axis in axes]) > MAX_GRID_POINTS:
            break
        grid = np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1).reshape(-1, 3)
        grid = grid + rng.uniform(-0.3, 0.3, grid.shape) * spacing
        inside = grid[RayWinding(mesh.vertices, mesh.faces)(grid)]
        if len(inside) >= count:
            return inside[np.sort(rng.choice(len(inside), size=count, replace=False))]
        spacing /= 2
    raise MeshError(
        f"could only place {len(inside)} of {count} sample points inside the mesh: it is too "
        f"thin (thinnest side {float(extent.min()):.3g} m, largest {float(extent.max()):.3g} "
        f"m, volume {volume:.3g} m^3). Thicken it (a sheet or a shell has no interior to carry "
        f"mass), or check that its faces are consistently oriented."
    )


def surface_samples(mesh: trimesh.Trimesh, count: int, seed: int = 0) -> np.ndarray:
    """``count`` area-uniform points on the mesh surface (seeded)."""
    points, _ = trimesh.sample.sample_surface(mesh, count, seed=seed)
    return np.asarray(points)


def even_surface_samples(
    mesh: trimesh.Trimesh, count: int, seed: int = 0, candidates: int = 8
) -> np.ndarray:
    """``count`` points spread evenly over the mesh surface (seeded): farthest-point
    selection among ``candidates`` x count area-uniform samples, so no two lie much closer
    than the surface's area allows. The emulator's contact samples: the floor's force is a
    sum over them, and clumps and gaps of purely random samples tilt it (a cube landing on an
    edge picked up a spin about the horizontal axis across that edge; the held-out rollouts
    varied by 7.4-9.2 % between four sample seeds, 7.4-8.4 % with these;
    benchmarks/RESULTS.md)."""
    if count < 1 or candidates < 1:
        raise SettingsError(
            f"even_surface_samples needs count >= 1 and candidates >= 1, got {count} and "
            f"{candidates}."
        )
    points = surface_samples(mesh, candidates * count, seed)
    return points[np.sort(_farthest_points(points, count))]


@njit(cache=True, error_model="numpy")
def _farthest_points(points: np.ndarray, count: int) -> np.ndarray:
    """Indices of ``count`` of ``points`` (P, 3): the first, then each time the point farthest
    from all chosen so far."""
    chosen = np.empty(count, dtype=np.int64)
    nearest = np.full(points.shape[0], np.inf)
    current = 0
    for i in range(count):
        chosen[i] = current
        best, best_distance = 0, -1.0
        for p in range(points.shape[0]):
            d0 = points[p, 0] - points[current, 0]
            d1 = points[p, 1] - points[current, 1]
            d2 = points[p, 2] - points[current, 2]
            d = d0 * d0 + d1 * d1 + d2 * d2
            if d < nearest[p]:
                nearest[p] = d
            if nearest[p] > best_distance:
                best, best_distance = p, nearest[p]
        current = best
    return chosen


@njit(cache=True, error_model="numpy")
def _rigid_transforms(delta: np.ndarray, points: np.ndarray) -> np.ndarray:
    """(B, N, 3) positions R(r) p + t of ``points`` (N, 3) for per-point parameters
    ``delta`` (B, N, 6) = (rotation vector r, 10 t): the map NeuROK.deform applies with
    ``rigid_shortcut`` (unit quaternion (w, v) of r, then p + 2 w v x p + 2 v x (v x p) + t),
    written on scalars."""
    B, N = delta.shape[0], delta.shape[1]
    out = np.empty((B, N, 3))
    for b in range(B):
        for n in range(N):
            r0, r1, r2 = delta[b, n, 0], delta[b, n, 1], delta[b, n, 2]
            angle = np.sqrt(r0 * r0 + r1 * r1 + r2 * r2 + 1e-30)
            # sin(angle / 2) / angle, by its series near 0
            sine = 0.5 - angle * angle / 48 if angle < 1e-3 else np.sin(0.5 * angle) / angle
            w = np.cos(0.5 * angle)
            v0, v1, v2 = r0 * sine, r1 * sine, r2 * sine
            p0, p1, p2 = points[n, 0], points[n, 1], points[n, 2]
            c0, c1, c2 = v1 * p2 - v2 * p1, v2 * p0 - v0 * p2, v0 * p1 - v1 * p0
            d0, d1, d2 = v1 * c2 - v2 * c1, v2 * c0 - v0 * c2, v0 * c1 - v1 * c0
            out[b, n, 0] = p0 + 2 * w * c0 + 2 * d0 + 0.1 * delta[b, n, 3]
            out[b, n, 1] = p1 + 2 * w * c1 + 2 * d1 + 0.1 * delta[b, n, 4]
            out[b, n, 2] = p2 + 2 * w * c2 + 2 * d2 + 0.1 * delta[b, n, 5]
    return out


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
            share the object's mass and volume, in shares that give them the solid's centre
            of mass and inertia (``weights``, see :func:`moment_matched_weights`).
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
        self.volume = enclosed_volume(mesh)  # [m^3]
        self.dtype = dtype
        if points is None:
            points = sample_interior(mesh, num_points, seed, self.volume)
        points = np.asarray(points, dtype=np.float64)
        extra = np.zeros((0, 3)) if surface is None else np.asarray(surface, dtype=np.float64)
        for name, given in (("points", points), ("surface", extra)):
            if given.ndim != 2 or given.shape[1] != 3 or not np.isfinite(given).all():
                raise SettingsError(f"BoundShape: {name} must be a finite (N, 3) array of "
                                    f"positions [m], got shape {given.shape}.")  # fmt: skip
        if len(points) == 0:
            raise SettingsError("BoundShape: points is empty; give at least one point that "
                                "carries the mass (or none, to sample the interior).")
        self.rest = np.concatenate([points, extra])
        # the fraction of the volume (and mass) each point stands for: shares that give the
        # points the solid's centre of mass and inertia (see moment_matched_weights)
        self.weights = np.concatenate([moment_matched_weights(points, mesh),
                                       np.zeros(len(extra))])  # fmt: skip
        self.mass_centre = self.weights @ self.rest  # [m], the centre of mass at rest
        if cloud is None:
            cloud = np.concatenate([sample_interior(mesh, 256, seed + 1, self.volume),
                                    surface_samples(mesh, 256, seed + 2)])  # fmt: skip
        self.centre, self.scale = normalise(points)
        self.scale = float(np.linalg.norm(mesh.bounds[1] - mesh.bounds[0]))
        with torch.no_grad():
            local_cloud = self._local(np.asarray(cloud))
            self.tokens, self.prior_mean = self.model.prior(local_cloud[None])
        self.points = self._local(self.rest)[None]
        self._cache = self._point_cache(self.points)
        self._fields: np.ndarray | None = None
        self._basis: np.ndarray | None = None
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
            self.surrogate = PolynomialSurrogate(self._decode_for_fit, self.range, seed=seed,
                                                 weights=self.weights)  # fmt: skip

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
        out = self._decode_values(stencil.numpy())
        J = ((out[:k] - out[k:]) / (2 * eps)).reshape(k, -1).T  # (3N, k)
        x0 = self.rest - self.centre
        n = len(x0)
        mass = material.density * self.volume * self.weights
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
            self.surrogate = PolynomialSurrogate(self._decode_for_fit, self.range,
                                                 SURROGATE_DEGREE, seed=self.seed,
                                                 weights=self.weights)  # fmt: skip

    def elasticity(self, material: MaterialParams) -> Elasticity:
        """The neo-Hookean elasticity of the sample points for ``material`` (their MLS
        discretisation is built once per shape)."""
        if self._gradient is None:
            self._gradient = DeformationGradient(self.rest)
        volume = self.volume * self.weights
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

    def _decode_for_fit(self, batch: torch.Tensor) -> torch.Tensor:
        """:meth:`_decode` for the surrogate's fit: values only, no autograd."""
        return torch.as_tensor(self._decode_values(batch.numpy() @ self.modes.T))

    def _decode_values(self, batch: np.ndarray) -> np.ndarray:
        """(B, model.state_dim) reduced latents z -> (B, N, 3) sample points [m], as
        :meth:`_decode_z` but without autograd: for the linear coupling with rigid per-point
        transforms (the shipped model) one matrix product and a compiled loop, about 3x
        faster than the PyTorch path (which other configurations take) and equal to it to
        rounding."""
        cfg = self.model.cfg
        if not (cfg.coupling == "linear" and cfg.output != "displacement"
                and self.dtype == torch.float64):  # fmt: skip
            with torch.no_grad():
                return self._decode_z(torch.as_tensor(batch, dtype=self.dtype)).numpy()
        if self._fields is None:  # (k_full, N * 6): the per-latent transform parameters
            _, N, k, S = self._cache.shape
            self._fields = self._cache[0].transpose(0, 1).reshape(k, N * S).numpy()
            self._basis = self.model.basis.double().numpy()
        delta = (np.asarray(batch, dtype=np.float64) @ self._basis.T) @ self._fields
        points = self.points[0].numpy()
        return self.scale * _rigid_transforms(delta.reshape(len(batch), len(points), 6), points)

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


def body_of(shape: BoundShape, material: MaterialParams) -> Body:
    """The dynamics' view of a bound shape made of ``material``: its sample points' masses,
    volumes and contact radii, and its decoded positions as a function of the state. Any
    object with BoundShape's ``mesh``, ``weights``, ``rest``, ``body_positions`` and
    ``contact_radius`` will do (the evaluation's linear baseline has them)."""
    enclosed = shape.volume if isinstance(shape, BoundShape) else enclosed_volume(shape.mesh)
    volume = enclosed * shape.weights
    total = material.density * enclosed
    return Body(
        positions=shape.body_positions,
        mass=torch.as_tensor(material.density * volume),
        volume=torch.as_tensor(volume),
        rest=shape.rest,
        E=material.E, nu=material.nu, viscosity=material.viscosity,
        radius=shape.contact_radius,
        yield_stress=material.yield_stress,
        # the ground spring per point is sized as if 64 points carried the body: spread over
        # all 320 points, a corner landing on 5 of them would meet omega sqrt(5 / 320), about
        # omega / 8, and a 3 m/s impact would sink ~4 cm
        contact_mass=np.full(len(volume), total / min(len(volume), 64)),
    )  # fmt: skip
