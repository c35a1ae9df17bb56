"""Moving sphere colliders in the emulator (neurok.colliders): the contact law, the compiled
integrator against its NumPy twin, and a push through neurok.simulate (small untrained
models, as in test_model_dynamics: every check holds for any weights)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch

import mpm
import neurok
from neurok.binding import BoundShape, body_of, surface_samples
from neurok.colliders import ColliderLaw, ColliderTable, path_state
from neurok.errors import SettingsError
from neurok.material import MaterialParams

SMALL = neurok.NeuROKConfig(
    latent_dim=4, width=16, num_tokens=4, heads=2, encoder_layers=1, decoder_layers=1,
    frequencies=3,
)  # fmt: skip


def _model() -> neurok.NeuROK:
    torch.manual_seed(0)
    model = neurok.NeuROK(SMALL)
    for p in model.decoder.head.parameters():  # a non-trivial deformation field
        torch.nn.init.normal_(p, std=0.05)
    return model


def _sphere(radius: float, path: list[tuple[float, tuple[float, float, float]]],
            friction: float = 0.2) -> mpm.colliders.Sphere:  # fmt: skip
    keys = tuple(mpm.colliders.Keyframe(t, p) for t, p in path)
    return mpm.colliders.Sphere(radius=radius, center=path[0][1], keyframes=keys,
                                mode="separate", friction=friction)  # fmt: skip


def test_the_sphere_path_is_linear_between_keyframes_and_held_outside() -> None:
    """The centre moves linearly between keyframes at their slope and rests (zero velocity)
    before the first and after the last, as mpm's Collider.pose_at (compared at 7 times,
    1e-12); a sphere with a constant velocity and no keyframes moves on a straight line."""
    sphere = _sphere(0.1, [(0.1, (0.0, 0.0, 0.0)), (0.3, (0.2, 0.0, 0.1)), (0.5, (0.2, 0.2, 0.1))])
    table = ColliderTable([sphere], ColliderLaw(omega=100.0, damping=0.5), duration=1.0)
    for t in (0.0, 0.1, 0.2, 0.3, 0.45, 0.5, 0.9):
        centre, velocity = path_state(table.times[0], table.positions[0], 3, t)
        pose = sphere.pose_at(t)
        np.testing.assert_allclose(centre, pose.position, atol=1e-12)
        np.testing.assert_allclose(velocity, pose.velocity, atol=1e-12)
    moving = mpm.colliders.Sphere(radius=0.1, center=(0.0, 0.0, 1.0), velocity=(0.5, 0.0, 0.0))
    centres, velocities = ColliderTable([moving], table.law, duration=2.0).state(0.4)
    np.testing.assert_allclose(centres[0], [0.2, 0.0, 1.0], atol=1e-12)
    np.testing.assert_allclose(velocities[0], [0.5, 0.0, 0.0], atol=1e-12)


def test_the_sphere_pushes_points_out_damps_approach_and_drags_against_slip() -> None:
    """The law (the floor's, around a ball) on single points of contact mass 0.1 kg, the
    sphere (radius 0.1 m) moving at 1 m/s along +x:
    - a point at rest 2 cm inside its surface is pushed out along the normal by the spring
      m omega^2 depth plus the damping 2 zeta omega m |v_n| (the sphere approaches it);
    - the same point running away faster than the sphere gets the spring only;
    - a point the sphere slides along while approaching it is dragged against its slip
      (the force's tangential part opposes the relative tangential velocity, with Coulomb's
      bound mu x the normal force);
    - a point out of reach feels nothing; a point's contact radius (its depth under the
      object's surface) counts as part of the overlap;
    - on an inelastic sphere the damping also acts on the point running away, taking the
      spring's push away but never pulling it back (MPM's "separate"): 5 N of spring less
      1.5 N at 0.5 m/s, nothing at 2 m/s (where the damper alone would pull with 1 N).
    Exact to 1e-12 where a value is given."""
    law = ColliderLaw(omega=50.0, damping=0.6)
    sphere = _sphere(0.1, [(0.0, (0.0, 0.0, 0.0)), (1.0, (1.0, 0.0, 0.0))], friction=0.3)
    table = ColliderTable([sphere], law, duration=1.0)
    x = np.array([[0.58, 0.0, 0.0], [0.58, 0.0, 0.0], [0.5 + 0.06, 0.06, 0.0],
                  [0.8, 0.0, 0.0], [0.62, 0.0, 0.0]])  # fmt: skip
    xdot = np.array([[0.0, 0.0, 0.0], [2.0, 0.0, 0.0], [0.0, 0.0, 0.0],
                     [0.0, 0.0, 0.0], [0.0, 0.0, 0.0]])  # fmt: skip
    radius = np.array([0.0, 0.0, 0.0, 0.0, 0.04])
    mass = np.full(5, 0.1)
    f, K, D = table.forces(0.5, x, xdot, radius, mass, max_rate=np.inf)
    spring = 0.1 * 50.0**2 * 0.02
    np.testing.assert_allclose(f[0], [spring + 2 * 0.6 * 50.0 * 0.1 * 1.0, 0.0, 0.0], atol=1e-12)
    np.testing.assert_allclose(f[1], [spring, 0.0, 0.0], atol=1e-12)
    np.testing.assert_allclose(f[4], f[0], atol=1e-12)  # 0.12 from the centre, radius 0.04
    np.testing.assert_allclose(f[3], 0.0, atol=1e-12)
    np.testing.assert_allclose(K[3], 0.0, atol=1e-12)
    n = np.array([1.0, 1.0, 0.0]) / np.sqrt(2.0)
    relative = xdot[2] - [1.0, 0.0, 0.0]
    slip = relative - (relative @ n) * n
    normal_part = f[2] @ n
    tangential = f[2] - normal_part * n
    assert normal_part > 0 and tangential @ slip < 0
    assert np.linalg.norm(tangential) <= 0.3 * normal_part + 1e-12
    np.testing.assert_allclose(np.cross(tangential, slip), 0.0, atol=1e-12)  # along the slip
    np.testing.assert_allclose(K[0], 0.1 * 50.0**2 * np.diag([1.0, 0.0, 0.0]), atol=1e-12)
    # the implicit step's damping: the normal damper, and the friction drag across the
    # normal at the regularised rate (zero slip: mu x normal force / (m x slip speed))
    drag = 0.3 * f[0, 0] / law.slip_speed
    np.testing.assert_allclose(D[0], np.diag([2 * 0.6 * 50.0 * 0.1, drag, drag]), rtol=1e-12)
    np.testing.assert_allclose(D[1], 0.0, atol=1e-12)  # running away: neither
    inelastic = ColliderTable([sphere], ColliderLaw(omega=50.0, damping=0.6, inelastic=True), 1.0)
    slower = xdot.copy()
    slower[1, 0] = 1.5  # leaving the sphere (at 1 m/s) at 0.5 m/s
    f_slower = inelastic.forces(0.5, x, slower, radius, mass, max_rate=np.inf)[0]
    np.testing.assert_allclose(f_slower[1], [spring - 2 * 0.6 * 50.0 * 0.1 * 0.5, 0.0, 0.0],
                               atol=1e-12)  # fmt: skip
    f_fast, K_fast, D_fast = inelastic.forces(0.5, x, xdot, radius, mass, max_rate=np.inf)
    np.testing.assert_allclose(f_fast[1], 0.0, atol=1e-12)
    np.testing.assert_allclose(K_fast[1], 0.0, atol=1e-12)  # nothing to linearise
    np.testing.assert_allclose(D_fast[1], 0.0, atol=1e-12)


def test_a_sphere_pressed_into_plasticine_pushes_no_harder_than_it_yields() -> None:
    """With a hardness (plasticine), a sphere's whole push is at most hardness x 2 pi R d,
    d its deepest overlap (the contact area of a ball pressed d into a flat): the 21 points
    of a slab that a ball of radius 0.1 reaches 1.9 cm into push 9.5 N in all against 36.7 N
    uncut (exact to 1e-9); the cut scales every point's force, stiffness and damping alike;
    without the cut (hardness 0) nothing changes."""
    sphere = _sphere(0.1, [(0.0, (0.0, 0.0, 0.18)), (1.0, (0.0, 0.0, 0.18))])
    rng = np.random.default_rng(2)
    x = rng.uniform([-0.1, -0.1, 0.06], [0.1, 0.1, 0.1], (300, 3))  # a slab under the ball
    xdot = np.zeros_like(x)
    args = (0.5, x, xdot, np.zeros(300), np.full(300, 0.1), np.inf)
    free = ColliderTable([sphere], ColliderLaw(omega=50.0, damping=0.6, inelastic=True), 1.0)
    cut = ColliderTable([sphere], ColliderLaw(omega=50.0, damping=0.6, inelastic=True,
                                              hardness=800.0), 1.0)  # fmt: skip
    f0, K0, D0 = free.forces(*args)
    f1, K1, D1 = cut.forces(*args)
    depth = 0.1 - np.linalg.norm(x - [0.0, 0.0, 0.18], axis=1)
    limit = 800.0 * 2 * np.pi * 0.1 * depth.max()
    n = (x - [0.0, 0.0, 0.18]) / np.linalg.norm(x - [0.0, 0.0, 0.18], axis=1)[:, None]
    pushed = np.sum(f0 * n, axis=1)
    assert depth.max() > 0.015 and pushed.sum() > 3 * limit, (depth.max(), pushed.sum(), limit)
    np.testing.assert_allclose(np.sum(f1 * n, axis=1).sum(), limit, rtol=1e-9)
    ratio = limit / pushed.sum()
    np.testing.assert_allclose(f1, ratio * f0, atol=1e-12)
    np.testing.assert_allclose(K1, ratio * K0, atol=1e-9)
    np.testing.assert_allclose(D1, ratio * D0, atol=1e-12)
    soft = ColliderTable([sphere], ColliderLaw(omega=50.0, damping=0.6, inelastic=True,
                                               hardness=0.0), 1.0).forces(*args)  # fmt: skip
    np.testing.assert_allclose(soft[0], f0, atol=0)


def test_overlapping_spheres_push_as_their_union() -> None:
    """A body made of overlapping balls is one body: a point inside two of them meets only
    the one it is deepest in. Two coincident spheres push exactly as one (summing them
    pushes twice as hard); of two overlapping spheres, each point gets the push of the
    deeper one alone (exact to 1e-12)."""
    law = ColliderLaw(omega=50.0, damping=0.6)
    one = _sphere(0.1, [(0.0, (0.0, 0.0, 0.0)), (1.0, (1.0, 0.0, 0.0))])
    rng = np.random.default_rng(1)
    x = np.array([0.5, 0.0, 0.0]) + rng.uniform(-0.12, 0.12, (200, 3))
    xdot = rng.normal(0.0, 0.5, (200, 3))
    args = (0.5, x, xdot, np.zeros(200), np.full(200, 0.1), np.inf)
    single = ColliderTable([one], law, 1.0).forces(*args)
    double = ColliderTable([one, one], law, 1.0).forces(*args)
    assert np.abs(single[0]).max() > 1.0  # points are pushed
    for a, b in zip(single, double, strict=True):
        np.testing.assert_allclose(b, a, atol=1e-12)
    other = _sphere(0.1, [(0.0, (0.05, 0.0, 0.0)), (1.0, (1.05, 0.0, 0.0))])
    pair = ColliderTable([one, other], law, 1.0).forces(*args)[0]
    alone = ColliderTable([other], law, 1.0).forces(*args)[0]
    closer_to_other = np.linalg.norm(x - [0.55, 0.0, 0.0], axis=1) < np.linalg.norm(
        x - [0.5, 0.0, 0.0], axis=1)
    np.testing.assert_allclose(pair[closer_to_other], alone[closer_to_other], atol=1e-12)
    np.testing.assert_allclose(pair[~closer_to_other], single[0][~closer_to_other], atol=1e-12)


@pytest.mark.parametrize("plastic", [False, True])
def test_the_compiled_integrator_takes_the_numpy_steps_under_a_moving_sphere(plastic: bool) -> None:
    """With two overlapping spheres that come in from the side, dent a falling box, and back
    off, the compiled integrator (neurok.compiled) and its NumPy twin (FastDynamics) take the same
    implicit-midpoint steps: after 0.25 s the coordinates agree within 1e-8 and the
    velocities within 1e-6 (the tolerance of test_compiled_integrator_takes_the_numpy_steps).
    Also with plasticine's law (inelastic, never pulling, the push cut to the indentation
    limit: at 30 Pa of hardness the box's frame moves 7 mm, 17 cm uncut); without the cut in the
    compiled forces the coordinates differ by 15 cm, without it in the compiled iteration
    matrix by 5e-4, and a compiled sphere that pulls on a leaving point by 11 cm.
    The elastic law's sphere moved the box (its centre of mass 18 cm along +x, 6 mm without
    the spheres; the plastic law's hardness holds it to 7 mm); without the sphere's forces
    in the compiled code the coordinates differ by centimetres, without its stiffness and
    damping in the compiled iteration matrix the velocities miss by more than 1e-6, and
    summing the two spheres where they overlap instead of taking their union misses by 5 mm,
    and letting a point meet only the first sphere instead of the one it is deepest in by 2 cm
    (the two balls sit side by side, 6 cm apart, each the deeper one for part of the box)."""
    from neurok import compiled
    from neurok.dynamics import Contact
    from neurok.fast import FastDynamics

    box = mpm.Box(size=(0.2, 0.15, 0.1), center=(0.0, 0.0, 0.5)).surface_mesh()
    params = MaterialParams(E=3e4, viscosity=5.0)
    h = 1 / 240
    bound = BoundShape(_model(), box, num_points=48, surface=surface_samples(box, 64, 1))
    bound.restrict_to_modes(params, omega_max=1.5 / h)
    body = body_of(bound, params)
    sphere = _sphere(0.06, [(0.02, (-0.25, 0.02, 0.46)), (0.15, (-0.1, 0.02, 0.46)),
                            (0.25, (-0.25, 0.02, 0.46))], friction=0.3)  # fmt: skip
    # a second ball overlapping the first side by side, as a body's balls do
    follower = _sphere(0.06, [(0.02, (-0.25, -0.03, 0.46)), (0.15, (-0.1, -0.03, 0.46)),
                              (0.25, (-0.25, -0.03, 0.46))], friction=0.3)  # fmt: skip
    law = ColliderLaw(omega=150.0, damping=0.6)
    if plastic:
        law = ColliderLaw(omega=150.0, damping=3.0, inelastic=True, hardness=30.0)
    table = ColliderTable([sphere, follower], law, duration=0.25)
    contact = Contact(height=0.38, friction=0.4)
    fast = FastDynamics(bound.surrogate, body, contact=contact)
    fast.colliders = table
    twin = FastDynamics(bound.surrogate, body, contact=contact)
    twin.colliders = table
    native = compiled.build(twin)
    k = bound.state_dim
    q0 = np.concatenate([bound.centre, np.zeros(3 + k)])
    v0 = np.concatenate([[0.0, 0.0, -0.5, 0.5, -0.2, 0.3], 0.3 * bound.range / 0.1])
    q, qdot = q0.copy(), v0.copy()
    for i in range(60):
        q, qdot = fast.step(q, qdot, h, i * h)
    got_q, got_v, got_R, _ = compiled.advance(native, np.eye(3), q0, v0, h, 0.0, 60, 3)
    mass = body.mass.numpy()

    def mass_centre(state: np.ndarray) -> np.ndarray:
        return mass @ fast.kinematics(state, np.zeros_like(state))[0] / mass.sum()

    fast.R0 = np.eye(3)
    start = mass_centre(q0)
    fast.R0 = got_R
    if not plastic:  # the sphere pushed it (18 cm; 6 mm without the spheres)
        assert mass_centre(q)[0] > start[0] + 0.05
    if plastic:  # the cut acted: uncut, the same law pushes the box further
        uncut = FastDynamics(bound.surrogate, body, contact=contact)
        uncut.colliders = ColliderTable([sphere, follower], replace(law, hardness=0.0), 0.25)
        q_free, v_free = q0.copy(), v0.copy()
        for i in range(60):
            q_free, v_free = uncut.step(q_free, v_free, h, i * h)
        assert q_free[0] > q[0] + 0.05, (q_free[0], q[0])
    np.testing.assert_allclose(got_q, q, atol=1e-8)
    np.testing.assert_allclose(got_v, qdot, atol=1e-6, rtol=0)
    np.testing.assert_allclose(got_R, fast.R0, atol=1e-8)


def test_simulate_pushes_a_box_along_the_path_of_a_sphere() -> None:
    """neurok.simulate with a sphere (radius 8 cm) that moves at V = 1 m/s along +x into the
    middle of a box resting on the floor, 0.1 m past the box's back face, and stops there:
    - until the sphere arrives (t = 0.2 s) the box rests: its centre moves < 1 mm sideways
      (it settles 0.4 mm into the soft floor);
    - then it is pushed along +x, by more than the sphere's 0.1 m of travel into it less the
      dent its soft contact allows (> 5 cm; measured 0.43 m: the box leaves at about 1 m/s
      and slides on), and by less than the sphere's travel plus the slide of a box that left
      at 2 V (the elastic limit of a push) against the floor's friction 0.4 (< 0.65 m);
    - it stays on the line of the push: the sphere hits the middle of the back face, so the
      box drifts sideways by < 5 mm (measured 0.3 mm);
    - the trajectory records the sphere as an MPM run does, so renders draw it on its path;
    - the recorded surface does not enter the sphere: where the soft contact let the sphere
      in (dent_depth_m in the metadata, measured 2.9 cm), the surface is drawn dented around
      it (checked 1 cm above the floor, which the sphere reaches into and which comes
      first).
    A sign error in the push pulls the box backwards (-2.2 m); a law that damps the points'
    own velocity instead of their velocity relative to the sphere pushes it off the line
    (9.7 mm sideways); either fails."""
    from video_bridge.collider_meshes import collider_tracks

    box = mpm.Box(size=(0.2, 0.15, 0.1), center=(0.0, 0.0, 0.05)).surface_mesh()
    sphere = _sphere(0.08, [(0.1, (-0.28, 0.0, 0.05)), (0.3, (-0.08, 0.0, 0.05))])
    traj = neurok.simulate(_model(), box, material={"E": 3e4, "density": 500.0},
                           colliders=[sphere], duration=0.6, fps=50, progress=False)
    centre = traj.tracks["object"].positions.astype(np.float64).mean(axis=1)
    moved = centre - centre[0]
    before = traj.times < 0.19
    assert np.abs(moved[before, :2]).max() < 1e-3, np.abs(moved[before]).max()
    assert 0.05 < moved[-1, 0] < 0.65, moved[-1]
    assert abs(moved[-1, 1]) < 5e-3, moved[-1]
    surface = traj.tracks["object_surface"].positions.astype(np.float64)
    for frame, t in enumerate(traj.times):
        centre = sphere.pose_at(float(t)).position
        above = surface[frame][surface[frame][:, 2] > 0.01]
        assert np.linalg.norm(above - centre, axis=1).min() >= 0.08 - 1e-6
    assert traj.metadata["neurok"]["dent_depth_m"] > 0.0
    tracks = collider_tracks(traj)
    drawn = tracks["collider_0"].positions.astype(np.float64).mean(axis=1)
    np.testing.assert_allclose(drawn[-1], [-0.08, 0.0, 0.05], atol=1e-3)


def test_a_collider_other_than_a_sphere_is_refused() -> None:
    """The emulator's colliders are spheres: a box collider raises a SettingsError that says
    so (before any work is done)."""
    box = mpm.Box(size=(0.2, 0.15, 0.1), center=(0.0, 0.0, 0.05)).surface_mesh()
    pusher = mpm.colliders.Box(extents=(0.1, 0.1, 0.1), center=(-0.3, 0.0, 0.05))
    with pytest.raises(SettingsError, match="sphere colliders"):
        neurok.simulate(_model(), box, colliders=[pusher], duration=0.1, progress=False)

