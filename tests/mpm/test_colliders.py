"""Colliders and boundaries: moving kinematic colliders push material only after contact,
keyframes interpolate, ground contact modes obey sticky / slip / Coulomb friction.

Each test states the physical fact and its tolerance. The scenes are small (dx = 0.02 m,
about 1000-1700 particles, at most 0.4 s) so the whole file runs in a few seconds on one core.

Contact geometry used below: the pushed box has a face on a grid plane; its outermost particles
sit about dx/4 inside that face, and the quadratic B-spline reaches 1.5 dx, so the nearest grid
nodes carrying the box's mass lie one cell outside the face. A collider can therefore act on the
box only once its surface is within one cell (dx) of the face.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import pytest
import trimesh

import mpm
from mpm.colliders import Ground, HalfSpace, Keyframe, MeshCollider, Sphere
from mpm.errors import ConfigError
from mpm.rotation import euler_to_matrix, quat_to_matrix

DX = 0.02
G = 9.81
REST_TOLERANCE = 1e-6  # [m] largest particle displacement accepted as "has not moved"


def _box_mass(traj: mpm.Trajectory, name: str = "box") -> float:
    return float(traj.tracks[name].attributes["mass"].astype(np.float64).sum())


def _max_displacement(traj: mpm.Trajectory, name: str = "box") -> np.ndarray:
    """Per frame, the largest particle displacement from frame 0 [m]."""
    x = traj.tracks[name].positions.astype(np.float64)
    return np.abs(x - x[0]).max(axis=(1, 2))


def _resting_jelly_box(domain_max_x: float) -> mpm.Simulator:
    """A 0.12 m jelly cube at rest, no gravity, no walls; its -x face is the grid plane x = 0."""
    sim = mpm.Simulator(
        domain_min=(-0.3, -0.3, -0.3),
        domain_max=(domain_max_x, 0.3, 0.3),
        dx=DX,
        gravity=(0.0, 0.0, 0.0),
        boundary="none",
        seed=0,
    )
    sim.add_object(
        "box",
        mpm.Box(size=(0.12, 0.12, 0.12), center=(0.06, 0.0, 0.0)),
        mpm.materials.preset("jelly"),
    )
    return sim


# --------------------------------------------------------------------------- moving sphere
def test_moving_sphere_pushes_box_only_after_contact() -> None:
    """A sphere (R = 0.05 m) moving at 1 m/s along +x towards a resting jelly cube (no gravity,
    no walls). While the gap between sphere surface and cube face is >= dx, no particle moves
    more than 1e-6 m (nothing acts at a distance). After contact the cube's momentum p_x is
    positive and grows strictly frame by frame (every 5 ms) while the sphere indents it, reaching
    at least half of M v within 2 dx of indentation; sideways momentum stays below 1% of p_x
    (the push is on the symmetry axis)."""
    speed, radius, surface0 = 1.0, 0.05, -0.1  # sphere surface starts 5 cells from the face
    sim = _resting_jelly_box(0.5)
    sim.add_collider(
        Sphere(center=(surface0 - radius, 0.0, 0.0), radius=radius, velocity=(speed, 0.0, 0.0))
    )
    traj = sim.run(duration=0.16, fps=200, progress=False)
    t = traj.times
    gap = 0.0 - (surface0 + speed * t)  # sphere surface to cube face [m], at the frame time
    moved = _max_displacement(traj)
    p = traj.diagnostics["linear_momentum"].astype(np.float64)

    before = gap >= DX - 1e-9
    assert before.sum() >= 16  # 80 ms of approach are checked
    assert moved[before].max() < REST_TOLERANCE, moved[before]
    assert np.abs(p[before]).max() < 1e-9

    pushing = (gap < 0.0) & (gap >= -2 * DX - 1e-9)  # the sphere indents the cube by up to 2 dx
    assert pushing.sum() >= 8
    px = p[pushing, 0]
    assert np.all(px > 0.0), px
    assert np.all(np.diff(px) > 0.0), px
    assert px[-1] > 0.5 * _box_mass(traj) * speed
    after = gap < 0.0
    assert np.abs(p[after, 1:]).max() < 0.01 * p[after, 0].max()


# --------------------------------------------------------------------------- keyframes
def test_keyframed_collider_interpolates_and_holds_outside_keys() -> None:
    """Keyframed pose: between keys the position is linear in time and the reported velocity is
    the segment's (p_b - p_a) / (t_b - t_a); the rotation is slerped with the constant angular
    velocity angle / span (90 deg about z in 0.5 s = pi rad/s). Before the first and after the
    last key the pose is held with zero linear and angular velocity; at the first key itself the
    segment velocity applies. Tolerance 1e-9 (float64)."""
    sphere = Sphere(
        radius=0.05,
        keyframes=(
            Keyframe(time=0.5, position=(0.0, 0.0, 0.0)),
            Keyframe(time=1.5, position=(1.0, 2.0, 0.0)),
            Keyframe(time=2.0, position=(1.0, 2.0, 1.0), rotation=(0.0, 0.0, 90.0)),
        ),
    )
    tol = 1e-9
    pose = sphere.pose_at(1.0)
    np.testing.assert_allclose(pose.position, (0.5, 1.0, 0.0), atol=tol)
    np.testing.assert_allclose(pose.velocity, (1.0, 2.0, 0.0), atol=tol)
    np.testing.assert_allclose(pose.angular_velocity, (0.0, 0.0, 0.0), atol=tol)

    pose = sphere.pose_at(1.75)
    np.testing.assert_allclose(pose.position, (1.0, 2.0, 0.5), atol=tol)
    np.testing.assert_allclose(pose.velocity, (0.0, 0.0, 2.0), atol=tol)
    np.testing.assert_allclose(pose.angular_velocity, (0.0, 0.0, math.pi), atol=1e-7)
    np.testing.assert_allclose(
        quat_to_matrix(pose.quat), euler_to_matrix((0.0, 0.0, 45.0)), atol=1e-7
    )

    # linear in time within a segment: equal steps give equal displacements
    xs = np.array([sphere.pose_at(t).position for t in (0.6, 0.9, 1.2)])
    np.testing.assert_allclose(xs[2] - xs[1], xs[1] - xs[0], atol=tol)
    # continuous across an interior key
    np.testing.assert_allclose(
        sphere.pose_at(1.5 - 1e-9).position, sphere.pose_at(1.5).position, atol=1e-8
    )

    # at the first key the collider starts moving: the first substep must see the segment
    # velocity, or it would stand still for one step
    np.testing.assert_allclose(sphere.pose_at(0.5).velocity, (1.0, 2.0, 0.0), atol=tol)
    for t, where in ((0.0, (0.0, 0.0, 0.0)), (0.4999, (0.0, 0.0, 0.0)), (3.0, (1.0, 2.0, 1.0))):
        pose = sphere.pose_at(t)
        np.testing.assert_allclose(pose.position, where, atol=tol)
        np.testing.assert_allclose(pose.velocity, 0.0, atol=tol)
        np.testing.assert_allclose(pose.angular_velocity, 0.0, atol=tol)
    np.testing.assert_allclose(
        quat_to_matrix(sphere.pose_at(3.0).quat), euler_to_matrix((0.0, 0.0, 90.0)), atol=1e-7
    )

    spec = sphere.state_at(1.0)  # what the kernels receive
    np.testing.assert_allclose(spec.linear_velocity, (1.0, 2.0, 0.0), atol=tol)
    np.testing.assert_allclose(spec.position, (0.5, 1.0, 0.0), atol=tol)


# --------------------------------------------------------------------------- mesh collider
def test_translating_mesh_collider_pushes_jelly_after_contact() -> None:
    """A closed, subdivided triangle-mesh plate (0.06 x 0.2 x 0.2 m, vertices given at 60 fps)
    translating at 1 m/s along +x towards a resting jelly cube (no gravity, no walls).
    (1) While the plate is >= dx from the cube face no particle moves more than 1e-6 m.
    (2) After contact p_x > 0 and grows strictly frame by frame (every 10 ms) during the first
    2 dx of indentation. (3) After the push the cube's centre-of-mass velocity, measured as the
    centre-of-mass displacement over [0.25, 0.4] s divided by 0.15 s, is within 30% of the plate
    speed. (A kinematic pusher launches a free elastic body at (1 + e) v, e the restitution of
    the damped jelly, after which the body separates; measured about 1.17 v.)"""
    speed, face0, fps = 1.0, -0.1, 60.0
    sim = _resting_jelly_box(0.7)
    plate = trimesh.creation.box(extents=(0.06, 0.2, 0.2)).subdivide().subdivide()
    assert plate.is_watertight
    rest = np.asarray(plate.vertices) + np.array([face0 - 0.03, 0.0, 0.0])
    times = np.arange(0.0, 0.45, 1.0 / fps)
    frames = np.stack([rest + np.array([speed * t, 0.0, 0.0]) for t in times])
    sim.add_collider(MeshCollider(vertices=frames.astype(np.float32), faces=plate.faces, fps=fps))
    traj = sim.run(duration=0.4, fps=100, progress=False)
    t = traj.times
    gap = 0.0 - (face0 + speed * t)  # plate's leading face to cube face [m]
    moved = _max_displacement(traj)
    px = traj.diagnostics["linear_momentum"][:, 0].astype(np.float64)

    before = gap >= DX - 1e-9
    assert before.sum() >= 8
    assert moved[before].max() < REST_TOLERANCE, moved[before]

    pushing = (gap < DX) & (gap >= -2 * DX - 1e-9)
    assert pushing.sum() >= 3
    assert np.all(px[gap < 0.0] > 0.0)
    assert np.all(np.diff(px[pushing]) > 0.0), px[pushing]

    com = traj.diagnostics["center_of_mass:box"][:, 0].astype(np.float64)
    i0, i1 = traj.frame_index(0.25), traj.frame_index(0.4)
    v_com = (com[i1] - com[i0]) / (t[i1] - t[i0])
    assert abs(v_com - speed) < 0.3 * speed, v_com


# --------------------------------------------------------------------------- ground modes
def _slide_on_ground(mode: str, friction: float) -> mpm.Trajectory:
    """A 0.1 m jelly cube resting on the ground z = 0 (gravity on, no walls) launched at
    1 m/s along +x; 0.2 s at 100 fps."""
    sim = mpm.Simulator(
        domain_min=(-0.2, -0.16, -0.1),
        domain_max=(0.6, 0.16, 0.2),
        dx=DX,
        boundary="none",
        seed=0,
    )
    sim.add_object(
        "box",
        mpm.Box(size=(0.1, 0.1, 0.1), center=(0.0, 0.0, 0.05)),
        mpm.materials.preset("jelly"),
        velocity=(1.0, 0.0, 0.0),
    )
    sim.add_collider(Ground(height=0.0, friction=friction, mode=mode))
    return sim.run(duration=0.2, fps=100, progress=False)


def _px_ratio(traj: mpm.Trajectory) -> np.ndarray:
    px = traj.diagnostics["linear_momentum"][:, 0].astype(np.float64)
    return px / px[0]


def test_frictionless_slip_ground_keeps_horizontal_momentum() -> None:
    """Slip ground with friction 0 exerts no tangential force, so the sliding cube keeps its
    horizontal momentum: p_x(0.2 s) / p_x(0) > 0.98 (required: > 0.8; measured 1.000), and the
    cube travels v t = 0.2 m within 5 mm."""
    traj = _slide_on_ground("slip", 0.0)
    assert _px_ratio(traj)[-1] > 0.98
    com = traj.diagnostics["center_of_mass:box"][:, 0].astype(np.float64)
    assert abs((com[-1] - com[0]) - 0.2) < 5e-3


def test_coulomb_friction_decelerates_sliding_box() -> None:
    """Slip ground with Coulomb friction mu decelerates a sliding block at mu g while it slides.
    mu = 0.5: Coulomb predicts a stop at v / (mu g) = 0.204 s; we require p_x(0.2 s) / p_x(0)
    < 0.3 and below the frictionless value. mu = 0.2: the least-squares slope of v_com(t) over
    [0.03, 0.2] s equals -mu g = -1.962 m/s^2 within 10%."""
    frictionless = _px_ratio(_slide_on_ground("slip", 0.0))[-1]
    rough = _px_ratio(_slide_on_ground("slip", 0.5))[-1]
    assert rough < 0.3, rough
    assert rough < frictionless - 0.5

    traj = _slide_on_ground("slip", 0.2)
    v = traj.diagnostics["linear_momentum"][:, 0].astype(np.float64) / _box_mass(traj)
    window = traj.times >= 0.03 - 1e-9
    slope = np.polyfit(traj.times[window], v[window], 1)[0]
    assert slope == pytest.approx(-0.2 * G, rel=0.1)


def test_sticky_ground_stops_sliding_box() -> None:
    """Sticky ground sets the contact velocity to zero: the cube's bottom particle layer (the
    particles initially below z = 0.01 m) stops at once and never slides more than dx/4 = 5 mm
    (mean x displacement; with slip it slides 0.2 m in the same 0.2 s), and the whole cube's
    centre of mass stays within 0.02 m of its start (the upper part sways elastically about the
    stuck base, so the total momentum oscillates instead of vanishing; the sway is not
    checked)."""
    traj = _slide_on_ground("sticky", 0.0)
    x = traj.tracks["box"].positions.astype(np.float64)
    bottom = x[0, :, 2] < 0.01
    assert bottom.sum() >= 50
    slide = x[:, bottom, 0].mean(axis=1) - x[0, bottom, 0].mean()
    assert np.abs(slide).max() < DX / 4, slide
    com = traj.diagnostics["center_of_mass:box"][:, 0].astype(np.float64)
    assert np.abs(com - com[0]).max() < 0.02


# --------------------------------------------------------------------------- bad input
_VERTS = np.asarray(trimesh.creation.box().vertices, dtype=np.float32)  # 8 vertices
_FACES = np.asarray(trimesh.creation.box().faces)

BAD_COLLIDERS: dict[str, tuple[Callable[[], object], str]] = {
    "negative friction": (lambda: Ground(friction=-0.1), "friction"),
    "nan friction": (lambda: Sphere(radius=0.1, friction=float("nan")), "friction"),
    "unknown mode": (lambda: Ground(mode="stick"), "mode"),
    "unknown half-space mode": (lambda: HalfSpace(mode="glue"), "mode"),
    "equal keyframe times": (
        lambda: Sphere(keyframes=(Keyframe(0.0, (0, 0, 0)), Keyframe(0.0, (1, 0, 0)))),
        "increase",
    ),
    "decreasing keyframe times": (
        lambda: Sphere(
            keyframes=(
                Keyframe(0.0, (0, 0, 0)),
                Keyframe(1.0, (1, 0, 0)),
                Keyframe(0.5, (2, 0, 0)),
            )
        ),
        "increase",
    ),
    "mesh faces out of range": (
        lambda: MeshCollider(vertices=_VERTS, faces=np.vstack([_FACES, [[0, 1, 8]]])),
        "faces",
    ),
    "mesh negative face index": (
        lambda: MeshCollider(vertices=_VERTS, faces=np.vstack([_FACES, [[0, 1, -1]]])),
        "faces",
    ),
    "mesh faces not triangles": (
        lambda: MeshCollider(vertices=_VERTS, faces=np.zeros((4, 4), dtype=int)),
        "faces",
    ),
    "mesh vertices 2-d points": (
        lambda: MeshCollider(vertices=np.zeros((2, 8, 2), np.float32), faces=_FACES),
        "vertices",
    ),
    "mesh vertices flat": (
        lambda: MeshCollider(vertices=np.zeros(24, np.float32), faces=_FACES),
        "vertices",
    ),
    "mesh vertices nan": (
        lambda: MeshCollider(vertices=np.full((8, 3), np.nan, np.float32), faces=_FACES),
        "NaN",
    ),
    "mesh negative friction": (
        lambda: MeshCollider(vertices=_VERTS, faces=_FACES, friction=-1.0),
        "friction",
    ),
    "mesh unknown mode": (
        lambda: MeshCollider(vertices=_VERTS, faces=_FACES, mode="slippy"),
        "mode",
    ),
    "mesh zero fps": (lambda: MeshCollider(vertices=_VERTS, faces=_FACES, fps=0.0), "fps"),
}


@pytest.mark.parametrize("case", sorted(BAD_COLLIDERS))
def test_bad_collider_input_raises_config_error(case: str) -> None:
    """Invalid collider input is rejected at construction with ConfigError naming the bad
    setting (never a silent clamp, never a failure inside a kernel)."""
    make, word = BAD_COLLIDERS[case]
    with pytest.raises(ConfigError, match=word):
        make()
