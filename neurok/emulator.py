"""Emulate an object's dynamics with a trained model: bind it to a rest shape
(:mod:`neurok.binding`), set the initial state (given, or fitted to an observed state),
integrate the latent Lagrangian dynamics with the floor's and the moving spheres' contact laws
(their calibrated constants are here), and return an :class:`mpm.Trajectory` like any
simulation.

The contact constants below are calibrated against MPM on the training clips
(benchmarks/RESULTS.md) and may be recalibrated. The rules the contact laws follow are not
calibrated, and every change must keep them: the floor's friction acts only on points that
approach or rest on it, and its damping of an elastic body only on points that approach it
(MPM's grid rule); an elastic body's friction acts on the surface below each point; a moving
sphere never pulls; a plastic body yields under a sphere at a pressure set by its yield
stress; and the default step resolves the floor's spring.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import scipy.sparse
import torch
import trimesh
from numba import njit
from tqdm.auto import tqdm

import mpm
from mpm.config import is_number
from neurok import compiled
from neurok.arguments import as_mesh, as_model, check_size
from neurok.binding import BoundShape, body_of, even_surface_samples
from neurok.colliders import ColliderLaw, ColliderTable
from neurok.dynamics import DEFAULT_CONTACT, Body, Contact, LatentDynamics
from neurok.errors import LatentError, SettingsError
from neurok.fast import FastDynamics, rodrigues
from neurok.geometry import kabsch
from neurok.loads import Load, LoadTable
from neurok.material import MaterialParams
from neurok.model import NeuROK

logger = logging.getLogger("emu4d.neurok")

ITERATIONS = 3  # Newton iterations per step before it is split (see FastDynamics.step)

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
# Integration steps when none is given [s]: the coarsest one that resolves the floor's
# spring (see default_step; benchmarks/RESULTS.md has the comparisons). Stiff or light
# elastic bodies go finer, halving down to FINEST_STEP; their floor spring is capped at
# what that resolves (contact_law).
COARSEST_STEP = 1.0 / 60.0
COARSE_STEP = 1.0 / 120.0
FINE_STEP = 1.0 / 240.0
FINEST_STEP = 1.0 / 3840.0
PREPARING = "neurok: loading the compiled integrator (a first compile takes about 30 s)"


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
    return float(min(omega, 1.0 / FINEST_STEP)), CONTACT_DAMPING


def default_step(
    contact_omega: float | None, spheres: bool = False, overdamped: bool = False
) -> float:
    """The integration step [s] when the caller gives none: the coarsest of COARSEST_STEP,
    COARSE_STEP, FINE_STEP and their halvings down to FINEST_STEP that resolves the floor's
    spring (omega h <= 1). With no floor and no spheres there is no spring to resolve:
    COARSE_STEP. Moving ``spheres`` rule out COARSEST_STEP: a fist at 5 m/s would move 8 cm
    per step. An ``overdamped`` spring (plasticine's) is not refined past FINE_STEP.

    The latent modes are cut to what the step resolves anyway (1.5 / h, see
    :meth:`BoundShape.restrict_to_modes`: a sag under gravity below 0.3 mm at 1/120 s and
    1.2 mm at 1/60 s), so the contact spring is the fastest motion left. The soft springs of
    elastic bodies (39-112 rad/s on the held-out clips) are resolved at 1/120 s, the softest
    (below 60 rad/s: small, soft boxes) at 1/60 s, where the three held-out clips they
    concern emulate as closely as at 1/120 s (mean over four contact-sample seeds 5.76 %
    against 5.65 %, within those seeds' spread) in half the steps. A stiffer elastic spring
    must be resolved too: at omega h = 65 (a 1 GPa bunny at 1/240 s) the implicit midpoint
    gave the body energy at each impact, and it bounced 1.8x as high as it fell. Plasticine's
    stiff spring (600 rad/s) is overdamped, so FINE_STEP serves it though omega h = 2.5: the
    implicit midpoint is stable, and the damping takes out what the step does not resolve
    (at 1/120 s its two held-out drops ended 0.7 and 2.9 % further from MPM)."""
    if contact_omega is None:
        return COARSE_STEP
    step = COARSE_STEP if spheres else COARSEST_STEP
    finest = FINE_STEP if overdamped else FINEST_STEP
    while step > finest * (1 + 1e-9):
        if contact_omega * step <= 1.0:
            return step
        step /= 2
    return finest


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
    if velocities is not None:
        velocities = np.asarray(velocities, dtype=np.float64)
        if velocities.shape != positions.shape:
            raise LatentError(
                f"observed velocities must be (P, 3) like the positions {positions.shape}, "
                f"got {velocities.shape}."
            )
    for name, values in (("positions", positions), ("velocities", velocities)):
        if values is not None and not np.isfinite(values).all():
            raise LatentError(f"observed {name} contain NaN or infinite values.")
    rows = slice(0, 3 * count)
    R, _ = kabsch(bound.rest[:count] - bound.centre, positions - positions.mean(axis=0))
    body = body_of(bound, MaterialParams())
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


def _check_above_ground(
    rest_mesh: trimesh.Trimesh,
    observed: tuple[np.ndarray, np.ndarray] | None,
    ground: float,
    diagonal: float,
) -> None:
    """Refuse a body that starts sunk into the floor: its contact spring would launch it."""
    lowest = float(rest_mesh.bounds[0][2])
    what = "the rest mesh"
    if observed is not None and np.ndim(observed[0]) == 2 and np.shape(observed[0])[1] == 3:
        lowest, what = float(np.min(np.asarray(observed[0])[:, 2])), "the observed state"
    if lowest < ground - 0.01 * diagonal:
        raise SettingsError(
            f"simulate: {what} reaches {ground - lowest:.3g} m below the ground (height "
            f"{ground} m); the floor's spring would throw it out. Place the body on or above "
            "the ground, or set ground=None for no floor."
        )


@on_one_torch_thread
def simulate(
    model: NeuROK | str,
    rest_mesh: trimesh.Trimesh | str | mpm.Shape,
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
    contact_seed: int = 1,
    exact: bool = False,
    progress: bool = True,
) -> mpm.Trajectory:
    """Emulate ``rest_mesh`` (placed in the world, [m]; a trimesh, a mesh file or an mpm
    shape) made of ``material`` for ``duration`` seconds and record ``fps`` frames, with
    ``model`` (or the checkpoint at that path). ``material``: an mpm elastic or von Mises
    material, a preset name ("jelly"), a dict of :class:`MaterialParams` fields, or
    MaterialParams.

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
    mass, ``contact_points`` massless surface samples, spread evenly (seeded by
    ``contact_seed``; see :func:`neurok.binding.even_surface_samples`), meet the floor and
    the spheres. The step ``dt`` [s] (None: the coarsest of 1/60, 1/120, 1/240 s and, for
    stiff bodies, finer steps that resolves the floor's spring, see :func:`default_step`) is
    shortened where needed to fit a whole number of steps in a frame; latent modes vibrating
    faster than 1.5 / h [rad/s], h the step used, are left out (see
    :meth:`BoundShape.restrict_to_modes`).
    ``exact`` integrates on the decoder itself (PyTorch, slow) instead of the per-shape
    polynomial surrogate (NumPy, the default).
    Returns a Trajectory with an ``object_surface`` mesh track and an ``object`` track of
    the sample points.

    Raises:
        MeshError: the mesh encloses no volume. LatentError: z0/zdot0 of the wrong size.
        SettingsError: a non-positive duration, fps, dt or contact omega, or a negative
            friction, contact damping (it would feed energy in) or number of contact points;
            a collider that is not a sphere; a material the emulator does not model (sand,
            snow, a fluid) or a misspelt material key; a body that starts more than 1 % of its
            diagonal below the ground; fewer than 16 mass points; a text for a number.
        MeshError: a mesh far outside 0.01-20 m across (units not metres).
    """
    model = as_model(model, "simulate")
    rest_mesh = as_mesh(rest_mesh, "simulate")
    diagonal = check_size(rest_mesh, "simulate")
    params = MaterialParams.of(material) if material is not None else MaterialParams()
    if isinstance(colliders, mpm.colliders.Sphere):  # one sphere
        colliders = [colliders]
    if ground is not None:
        ground = _number("ground", ground)
    if points is None and not (isinstance(num_points, (int, np.integer)) and num_points >= 16):
        raise SettingsError(
            f"simulate: num_points must be a whole number >= 16 (the points carry the mass, "
            f"its centre and inertia), got {num_points!r}."
        )
    law_omega, law_damping = contact_law(params, diagonal)
    contact_omega = law_omega if contact_omega is None else contact_omega
    contact_damping = law_damping if contact_damping is None else contact_damping
    if dt is None:
        dt = default_step(None if ground is None and not colliders else contact_omega,
                          spheres=bool(colliders), overdamped=contact_damping >= 1.0)
    _check_settings(duration=duration, fps=fps, dt=dt, friction=friction,
                    contact_damping=contact_damping, contact_points=contact_points,
                    contact_omega=contact_omega, contact_seed=contact_seed)  # fmt: skip
    if round(duration * fps) < 1:  # as mpm.Simulator.run refuses it
        raise SettingsError(
            f"simulate: duration={duration} s at fps={fps} gives no frame; lengthen it."
        )
    if ground is not None and contact_omega * dt > 1.0 and contact_damping < 1.0:
        logger.warning(
            "neurok: the step %.3g s does not resolve the floor's spring (omega = %.0f rad/s, "
            "omega dt = %.1f > 1): the body may gain energy at each impact and bounce higher "
            "than it fell. Leave dt and contact_omega unset to have them chosen.",
            dt, contact_omega, contact_omega * dt,
        )  # fmt: skip
    for name, vector in (("velocity", velocity), ("angular_velocity", angular_velocity)):
        values = np.asarray(vector, dtype=np.float64)
        if values.shape != (3,) or not np.isfinite(values).all():
            raise SettingsError(f"simulate: {name} must be 3 finite numbers, got {vector}.")
    if ground is not None:
        _check_above_ground(rest_mesh, observed, float(ground), diagonal)
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
    surface = (even_surface_samples(rest_mesh, contact_points, contact_seed)
               if contact_points > 0 else None)  # fmt: skip
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
    if bound.state_dim == 0:
        logger.warning(
            "neurok: no latent mode of this model and shape vibrates slower than the step "
            "resolves (%.0f rad/s at %.3g s): the body moves rigidly. A model whose latents "
            "barely deform the shape (too little training) does this too.", 1.5 / h, h,
        )  # fmt: skip
    n = 6 + bound.state_dim
    body = body_of(bound, params)
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
        if len(observed) != 2:
            raise LatentError(
                f"observed must be (positions, velocities) of the sample points, got "
                f"{len(observed)} arrays."
            )
        q, qdot, R0 = fit_state(bound, observed[0], observed[1])
    else:
        q[:3] = bound.centre
        # the body frame's origin is the points' plain centre: it moves with the centre of
        # mass's velocity plus the spin about the centre of mass
        spin = np.asarray(angular_velocity, dtype=np.float64)
        qdot[:3] = np.asarray(velocity, dtype=np.float64) + np.cross(
            spin, bound.centre - bound.mass_centre)
        qdot[3:6] = spin
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


def _number(name: str, value: Any) -> float:
    """``value`` as a float, or SettingsError naming ``name`` (a text "30" is not taken)."""
    if not is_number(value):
        raise SettingsError(f"simulate: {name} must be a number, got {value!r}.")
    return float(value)


def _check_settings(**values: float) -> None:
    """Raise SettingsError for a non-positive duration/fps/dt or a negative other setting,
    before any work is done."""
    for name, value in values.items():
        value = _number(name, value)
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
    distance, index = distance.reshape(len(vertices), k), index.reshape(len(vertices), k)
    coefficients = _mls_weights(np.ascontiguousarray(rest_points, dtype=np.float64),
                                np.ascontiguousarray(vertices, dtype=np.float64),
                                index.astype(np.int64), distance)  # fmt: skip
    rows = np.repeat(np.arange(len(vertices)), k)
    shape = (len(vertices), len(rest_points))
    return scipy.sparse.csr_matrix((coefficients.reshape(-1), (rows, index.reshape(-1))), shape)


@njit(cache=True, error_model="numpy")
def _mls_weights(
    rest_points: np.ndarray, vertices: np.ndarray, index: np.ndarray, distance: np.ndarray
) -> np.ndarray:
    """(V, k) weights of each vertex's k neighbours (``index``, at ``distance``): Gaussian
    weights theta (width set by the farthest neighbour) times the affine MLS correction,
    c_j = theta_j l_j . M^-1 e_4, with l_j = (X_j - v, 1) and M = sum_j theta_j l_j l_j^T
    (regularised by 1e-12 of its trace). Written on scalars: NumPy's batched 4 x 4 solves
    cost more in overhead than in arithmetic."""
    V, k = index.shape
    out = np.empty((V, k))
    unit = np.zeros(4)
    unit[3] = 1.0
    local = np.empty((k, 4))
    theta = np.empty(k)
    moment = np.empty((4, 4))
    for v in range(V):
        radius = max(distance[v, k - 1], 1e-9)
        moment[:, :] = 0.0
        for j in range(k):
            theta[j] = np.exp(-((distance[v, j] / radius) ** 2) * 2.0)
            for a in range(3):
                local[j, a] = rest_points[index[v, j], a] - vertices[v, a]
            local[j, 3] = 1.0
            for a in range(4):
                for b in range(4):
                    moment[a, b] += theta[j] * local[j, a] * local[j, b]
        trace = moment[0, 0] + moment[1, 1] + moment[2, 2] + moment[3, 3]
        for a in range(4):
            moment[a, a] += 1e-12 * trace
        solved = compiled.solve_small(moment, unit)
        for j in range(k):
            out[v, j] = theta[j] * (local[j, 0] * solved[0] + local[j, 1] * solved[1]
                                    + local[j, 2] * solved[2] + local[j, 3] * solved[3])
    return out


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
        local_samples = bound.body_positions(latents).numpy()  # (T, N, 3)
    carry = embedding_weights(bound.rest, np.asarray(bound.mesh.vertices, dtype=np.float64))
    rotations = np.stack([R0 @ rodrigues(q[3:6]) for q, R0 in states])  # (T, 3, 3)
    centres = np.stack([q[:3] for q, _ in states])
    samples = np.matmul(local_samples, rotations.transpose(0, 2, 1)) + centres[:, None]
    T, N = samples.shape[:2]
    # the surface of every frame in one sparse product: (V, N) @ (N, T * 3)
    surface = (carry @ samples.transpose(1, 0, 2).reshape(N, -1)).reshape(-1, T, 3)
    surface = np.ascontiguousarray(surface.transpose(1, 0, 2))
    depth, dent = 0.0, 0.0
    if spheres is not None:
        dent = _push_out_of_spheres(surface, spheres, fps)
    if ground is not None:
        lowest = min(float(surface[..., 2].min()), float(samples[..., 2].min()))
        depth = max(depth, ground - lowest)
        np.maximum(samples[..., 2], ground, out=samples[..., 2])
        np.maximum(surface[..., 2], ground, out=surface[..., 2])
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


def _push_out_of_spheres(surface: np.ndarray, spheres: ColliderTable, fps: float) -> float:
    """Move the vertices of every frame of ``surface`` (T, V, 3) [m] (frame i at time i /
    ``fps``) that are inside one of the ``spheres`` radially onto its surface, in place, sphere
    by sphere; returns the deepest overlap [m]."""
    centres = np.stack([spheres.state(frame / fps)[0] for frame in range(len(surface))])
    deepest = 0.0
    for sphere, radius in enumerate(spheres.radius):
        offset = surface - centres[:, sphere, None]  # (T, V, 3)
        distance = np.linalg.norm(offset, axis=2)
        inside = (distance < radius) & (distance > 1e-12)
        if inside.any():
            deepest = max(deepest, float(radius - distance[inside].min()))
            frames = np.nonzero(inside)[0]
            surface[inside] = centres[frames, sphere] + \
                offset[inside] * (radius / distance[inside])[:, None]
    return deepest
