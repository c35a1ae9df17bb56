"""The CVAE decoder, latent Lagrangian dynamics, inverse kinematics and checkpoints (neurok),
mostly on small untrained models with a randomised decoder head (fast, and no learned
behaviour is assumed: those checks are structural properties that must hold for any weights);
the few that are about a trained model's behaviour use the shipped checkpoint."""

from __future__ import annotations

import itertools
import logging

import numpy as np
import pytest
import torch
import trimesh
from scipy.spatial.transform import Rotation

import mpm
import neurok
from neurok.binding import BoundShape, body_of, sample_interior, surface_samples
from neurok.dynamics import LatentDynamics
from neurok.geometry import chamfer
from neurok.material import MaterialParams

SMALL = neurok.NeuROKConfig(
    latent_dim=4, width=16, num_tokens=4, heads=2, encoder_layers=1, decoder_layers=1,
    frequencies=3,
)  # fmt: skip


def _model(output: str = "dual_quaternion", scale: float = 0.05, seed: int = 0) -> neurok.NeuROK:
    torch.manual_seed(seed)
    model = neurok.NeuROK(neurok.NeuROKConfig(**{**SMALL.__dict__, "output": output}))
    for p in model.decoder.head.parameters():  # a non-trivial deformation field
        torch.nn.init.normal_(p, std=scale)
    return model


@pytest.fixture(scope="module")
def box() -> trimesh.Trimesh:
    return mpm.Box(size=(0.2, 0.15, 0.1), center=(0.0, 0.0, 0.5)).surface_mesh()


@pytest.mark.parametrize("output", ["dual_quaternion", "displacement"])
def test_decoder_is_exact_at_zero_latent(box: trimesh.Trimesh, output: str) -> None:
    """z = 0 decodes the rest shape exactly (1e-12 m), for any query points; z != 0 deforms."""
    bound = BoundShape(_model(output, scale=0.5), box, num_points=64)
    zero = torch.zeros(bound.model.state_dim, dtype=torch.float64)
    rest = bound.rest - bound.centre
    np.testing.assert_allclose(bound.body_positions(zero).detach().numpy(), rest, atol=1e-12)
    vertices = np.asarray(box.vertices)
    np.testing.assert_allclose(bound.decode_points(zero, vertices), vertices - bound.centre,
                               atol=1e-12)  # fmt: skip
    moved = bound.body_positions(torch.ones(bound.model.state_dim, dtype=torch.float64))
    assert float((moved.detach() - torch.as_tensor(rest)).abs().max()) > 1e-3


@pytest.mark.parametrize("coupling", ["linear", "tokens"])
def test_linear_coupling_makes_displacements_linear_in_the_latent(
    box: trimesh.Trimesh, coupling: str
) -> None:
    """With the "linear" coupling and displacement output the decoded shape is affine in z:
    d(z1 + z2) = d(z1) + d(z2) to 1e-12 m; with the "tokens" coupling it is not (> 1e-5 m),
    so the check tells the two apart."""
    torch.manual_seed(0)
    cfg = neurok.NeuROKConfig(**{**SMALL.__dict__, "output": "displacement",
                                 "coupling": coupling})  # fmt: skip
    model = neurok.NeuROK(cfg)
    for p in model.decoder.head.parameters():
        torch.nn.init.normal_(p, std=0.3)
    bound = BoundShape(model, box, num_points=64)
    rest = torch.as_tensor(bound.rest - bound.centre)
    z1 = torch.tensor([0.5, -0.2, 0.1, 0.3], dtype=torch.float64)
    z2 = torch.tensor([-0.1, 0.4, 0.2, -0.3], dtype=torch.float64)
    d1, d2, d12 = (bound.body_positions(z) - rest for z in (z1, z2, z1 + z2))
    gap = float((d12 - d1 - d2).abs().max())
    if coupling == "linear":
        assert gap < 1e-12
    else:
        assert gap > 1e-5


def test_mass_matrix_is_symmetric_positive_definite(box: trimesh.Trimesh) -> None:
    """G = J^T M J is symmetric (1e-12 relative) with all eigenvalues > 0, at rest and at a
    deformed, rotated state; the finite-difference J matches forward-mode autodiff (1e-8)."""
    bound = BoundShape(_model(scale=0.3), box, num_points=64)
    dynamics = LatentDynamics(body_of(bound, MaterialParams()), contact=None)
    for seed in (0, 1):
        q = torch.as_tensor(np.random.default_rng(seed).normal(size=10) * 0.3 * seed)
        G = dynamics.mass_matrix(q)
        assert float((G - G.T).abs().max()) <= 1e-12 * float(G.abs().max())
        assert float(torch.linalg.eigvalsh(G).min()) > 0
        autodiff = torch.func.jacfwd(dynamics.world)(q).reshape(-1, 10)
        _, J, _, _ = dynamics.kinematics(q, torch.zeros_like(q))
        assert float((J - autodiff).abs().max()) < 1e-8 * float(autodiff.abs().max())


def test_undamped_energy_is_conserved(box: trimesh.Trimesh) -> None:
    """Implicit midpoint, no damping, no contact, gravity on: total energy drifts < 5 % over
    200 steps of 1/240 s (measured ~2e-6) while the body spins and wobbles; the centre of
    mass moves as gravity alone moves it, c0 + v0 t - g t^2 / 2 (within 1e-6 m of the 19 cm
    fall, measured 1e-7; the body frame's origin is not the centre of mass and turns about
    it, which gives the centre of mass a velocity v0 of its own: taken as 0, 1.7 cm off)."""
    bound = BoundShape(_model(), box, num_points=48)
    body = body_of(bound, MaterialParams(E=3e4, viscosity=0.0))
    dynamics = LatentDynamics(body, contact=None, damping=False)
    q = torch.zeros(10, dtype=torch.float64)
    q[:3] = torch.as_tensor(bound.centre)
    qdot = torch.zeros(10, dtype=torch.float64)
    qdot[3:6] = torch.tensor([1.0, 2.0, 0.5])
    qdot[6:] = torch.as_tensor(np.random.default_rng(0).normal(size=4) * 0.5)
    energy0 = dynamics.energy(q, qdot)
    mass = body.mass[:, None] / body.mass.sum()
    with torch.no_grad():
        _, _, xdot0, _ = dynamics.kinematics(q, qdot)
        start, start_velocity = (mass * dynamics.world(q)).sum(0), (mass * xdot0).sum(0)
    energies = []
    h = 1.0 / 240
    for i in range(200):
        q, qdot = dynamics.step(q, qdot, h, i * h)
        energies.append(dynamics.energy(q, qdot))
    drift = (max(energies) - min(energies)) / abs(energy0)
    assert drift < 0.05, drift
    with torch.no_grad():
        com = (mass * dynamics.world(q)).sum(0)
    t = 200 * h
    expected = start + start_velocity * t - torch.tensor([0.0, 0.0, 0.5 * 9.81 * t**2],
                                                         dtype=torch.float64)  # fmt: skip
    assert float(torch.abs(com - expected).max()) < 1e-6, (com, expected)


def test_damping_dissipates_energy(box: trimesh.Trimesh) -> None:
    """With Kelvin-Voigt viscosity the total energy never increases (beyond 1e-9 relative)
    and ends lower; gravity off."""
    bound = BoundShape(_model(), box, num_points=48)
    dynamics = LatentDynamics(body_of(bound, MaterialParams(E=3e4, viscosity=50.0)),
                              contact=None, gravity=False)  # fmt: skip
    q = torch.zeros(10, dtype=torch.float64)
    qdot = torch.zeros(10, dtype=torch.float64)
    qdot[6:] = 1.0
    energies = [dynamics.energy(q, qdot)]
    for i in range(60):
        q, qdot = dynamics.step(q, qdot, 1 / 240, i / 240)
        energies.append(dynamics.energy(q, qdot))
    steps = np.diff(energies)
    assert (steps <= 1e-9 * energies[0]).all()
    assert energies[-1] < 0.99 * energies[0]


def test_ik_recovers_a_sampled_shape(box: trimesh.Trimesh) -> None:
    """IK on the decoded surface of a random latent, rotated and moved: the fitted shape lies
    within 0.5 % of the bounding-box diagonal (Chamfer L1) of the target, 3x closer than the
    best rigidly placed undeformed shape. (The deformation is large: the mean point moves
    by ~10 % of the diagonal.)"""
    model = _model(scale=0.1, seed=3)
    samples = surface_samples(box, 512, 0)
    bound = BoundShape(model, box, points=samples)
    z = torch.as_tensor(np.random.default_rng(4).normal(size=4) * 2.0)
    with torch.no_grad():
        body = bound.body_positions(z).numpy()
    R = Rotation.from_euler("xyz", [20.0, -10.0, 80.0], degrees=True).as_matrix()
    target = body @ R.T + np.array([0.3, -0.1, 0.4])
    result = neurok.fit(model, box, target)
    error, _ = chamfer(result.points, target)
    rigid = neurok.fit(_model(scale=0.0), box, target, iterations=1)
    rigid_error, _ = chamfer(rigid.points, target)
    assert error < 0.005 * bound.scale, (error, rigid_error)
    assert error < rigid_error / 3, (error, rigid_error)


def test_ik_refuses_too_few_points_and_warns_of_a_cloud_in_other_units(
    box: trimesh.Trimesh, caplog: pytest.LogCaptureFixture
) -> None:
    """neurok.fit needs at least 2 (6 + k) observed points (k = 4 latents here: 20; each
    point constrains one direction, so fewer leave the placement and shape underdetermined;
    one point failed inside NumPy, three were "fitted"), and warns, but fits, when the cloud
    is more than 3x the mesh's size (a scan in millimetres of a mesh in metres)."""
    model = _model()
    cloud = surface_samples(box, 200, 1)
    for count in (1, 19):
        with pytest.raises(neurok.LatentError, match="needs at least 20"):
            neurok.fit(model, box, cloud[:count])
    with caplog.at_level(logging.WARNING, logger="emu4d.neurok"):
        neurok.fit(model, box, cloud[:20], iterations=1, restarts=1)
    assert "times the rest mesh's size" not in caplog.text
    with caplog.at_level(logging.WARNING, logger="emu4d.neurok"):
        neurok.fit(model, box, 1000 * cloud, iterations=1, restarts=1)
    assert "1e+03 times the rest mesh's size" in caplog.text


def test_bad_inputs(box: trimesh.Trimesh, tmp_path) -> None:
    """An open or flat mesh, a mesh of two separate parts, a latent of the wrong size, a
    velocity or spin that is not 3 finite numbers (a NaN spin was reported as a diverged
    integration), sample points that are not a finite, non-empty (N, 3) array, an
    out-of-range setting (zero step, negative contact damping, friction, contact points or
    contact seed, zero contact omega, NaN duration), an impossible material (negative E,
    zero density, nu of 0.5, negative yield stress), a misspelt material key, a material the
    emulator does not model (sand, a fluid), an unknown preset, a load with a malformed
    vector, a negative start or an end before its start, a missing or corrupt checkpoint
    each raise their own error naming the problem."""
    model = _model()
    open_mesh = trimesh.Trimesh(box.vertices, box.faces[:-2])
    with pytest.raises(neurok.MeshError, match="not closed"):
        BoundShape(model, open_mesh)
    flat = trimesh.Trimesh([[0, 0, 0], [1, 0, 0], [0, 1, 0], [1, 1, 0]], [[0, 1, 2], [1, 3, 2]])
    with pytest.raises(neurok.MeshError):
        BoundShape(model, flat)
    apart = box.copy()
    apart.apply_translation((0.5, 0.0, 0.0))
    with pytest.raises(neurok.MeshError, match="2 separate parts"):  # would move as one body
        neurok.simulate(model, trimesh.util.concatenate([box, apart]), progress=False)
    with pytest.raises(neurok.LatentError, match="size 3"):
        neurok.simulate(model, box, z0=[0.0, 0.0, 0.0], duration=0.1, progress=False)
    for vector in ({"velocity": (0.0, 0.0)}, {"angular_velocity": (0.0, 0.0, np.nan)}):
        with pytest.raises(neurok.SettingsError, match="3 finite numbers"):
            neurok.simulate(model, box, duration=0.1, progress=False, **vector)
    for points in (np.zeros((10, 2)), np.zeros((0, 3)), np.full((10, 3), np.nan)):
        with pytest.raises(neurok.SettingsError, match="points"):
            neurok.simulate(model, box, points=points, duration=0.1, progress=False)
    for setting, value in (("dt", 0.0), ("contact_damping", -0.5), ("friction", -1.0),
                           ("contact_points", -3), ("duration", float("nan")),
                           ("contact_omega", 0.0), ("contact_seed", -1)):  # fmt: skip
        with pytest.raises(neurok.SettingsError, match=setting):
            neurok.simulate(model, box, progress=False, **{setting: value})
    for name, value in (("E", -1.0), ("density", 0.0), ("nu", 0.5), ("yield_stress", -1.0)):
        with pytest.raises(neurok.SettingsError, match=f"material {name}"):
            neurok.simulate(model, box, material={name: value}, progress=False)
    # a misspelt key (it was ignored: the default density was used), a material the
    # emulator does not model (sand was emulated as an elastic solid), an unknown preset
    for material, message in (({"E": 1e6, "densty": 500.0}, "Did you mean 'density'"),
                              ("sand", "not DruckerPrager"), ({"type": "Fluid"}, "not type"),
                              ("jely", "Did you mean 'jelly'")):  # fmt: skip
        with pytest.raises(neurok.SettingsError, match=message):
            neurok.simulate(model, box, material=material, progress=False)
    from neurok.loads import Load

    for load, message in (({"force": (1.0, 0.0)}, "force must be 3 finite"),
                          ({"impulse": (0.0, 0.0, np.nan)}, "impulse must be 3 finite"),
                          ({"start": -0.1}, "start must be a time >= 0"),
                          ({"start": 0.5, "end": 0.2}, "must come after its start")):  # fmt: skip
        with pytest.raises(neurok.SettingsError, match=message):  # it acted wrongly, silently
            Load(**load)
    jelly = MaterialParams.of("jelly")  # presets and dataset-style dicts are taken
    assert (jelly.E, jelly.viscosity) == (5e4, 20.0)
    assert MaterialParams.of({"preset": "jelly", "E": 2e4, "type": "Elastic"}).E == 2e4
    with pytest.raises(neurok.CheckpointError, match="emu4d neurok train"):
        neurok.load(tmp_path / "missing.pt")
    corrupt = tmp_path / "corrupt.pt"
    corrupt.write_bytes(b"not a checkpoint")
    with pytest.raises(neurok.CheckpointError, match="not a readable"):
        neurok.load(corrupt)


def test_checkpoint_round_trip(box: trimesh.Trimesh, tmp_path) -> None:
    """save/load keeps the config, weights (float32) and the active-subspace basis: the
    reloaded model decodes the same shape (1e-6 m)."""
    model = _model(scale=0.3)
    model.set_subspace(torch.eye(4)[:, :2], torch.tensor([0.5, 2.0]))
    path = neurok.save(model, tmp_path / "m.pt", info={"command": "test"})
    loaded = neurok.load(path)
    assert loaded.state_dim == 2 and loaded.info["command"] == "test"  # type: ignore[attr-defined]
    z = torch.tensor([0.4, -0.3], dtype=torch.float64)
    a = BoundShape(model.float(), box, num_points=32).body_positions(z).detach().numpy()
    b = BoundShape(loaded, box, num_points=32).body_positions(z).detach().numpy()
    np.testing.assert_allclose(a, b, atol=1e-6)


def test_checkpoint_without_a_coupling_loads_as_the_token_coupling(tmp_path) -> None:
    """Checkpoints written before the coupling option existed (no "coupling" in their
    config) used token coupling, and load as such."""
    torch.manual_seed(0)
    model = neurok.NeuROK(neurok.NeuROKConfig(**{**SMALL.__dict__, "coupling": "tokens"}))
    path = neurok.save(model, tmp_path / "old.pt", info={})
    payload = torch.load(path, weights_only=True)
    del payload["config"]["coupling"]
    torch.save(payload, path)
    assert neurok.load(path).cfg.coupling == "tokens"


def test_simulate_returns_a_trajectory_that_falls_and_lands(box: trimesh.Trimesh) -> None:
    """End to end on a small model (the exact path: kinematics of the decoder itself): a
    box released 0.1 m above the floor falls (centre drops g t^2 / 2 within 2 mm over the
    first 0.1 s), comes down to the floor and does not sink through it: the soft contact of
    an elastic body lets it at most 2 cm into the floor over 0.3 s (about v / omega = 1.1 cm
    at this 1.4 m/s landing, omega 127 rad/s; measured 1.3 cm, floor_depth_m in the
    metadata), and the record shows nothing below the floor; the Trajectory has the mesh and
    points. (48 contact samples: with 24, about 4 on the landing face, the box lands on a few
    points and tips, 2.0 cm deep with the sample points' moment-matched masses. A random
    decoder is too stiff and nonlinear in its latent for the cubic surrogate at impact; the
    surrogate's kinematics are checked against the reference in free flight below, and on
    trained models in benchmarks/neurok_eval.py.)"""
    lifted = box.copy()
    lifted.apply_translation([0.0, 0.0, 0.1 - box.bounds[0][2]])
    traj = neurok.simulate(_model(), lifted, material={"E": 3e4, "nu": 0.3, "density": 500.0},
                           duration=0.3, fps=30, num_points=48, contact_points=48,
                           exact=True, progress=False)  # fmt: skip
    surface = traj.tracks["object_surface"]
    assert surface.positions.shape == (10, len(lifted.vertices), 3)
    np.testing.assert_array_equal(surface.faces, lifted.faces)
    centre = traj.tracks["object"].positions.mean(axis=1)
    drop = centre[0, 2] - centre[3, 2]
    assert abs(drop - 0.5 * 9.81 * 0.1**2) < 2e-3, drop
    assert traj.metadata["neurok"]["floor_depth_m"] < 0.02
    assert traj.tracks["object"].positions[:, :, 2].min() >= 0.0
    assert centre[:, 2].min() < centre[0, 2] - 0.08  # it came down to the floor (0.1 m)


def test_the_floor_is_soft_for_elastic_bodies_and_stops_plasticine(box: trimesh.Trimesh) -> None:
    """The floor contact follows the material (neurok.emulator.contact_law): an elastic box
    meets a soft, lightly damped spring (the squash its latent modes cannot express) and
    rebounds; a plasticine box of the same E and density (yield stress > 0) meets a stiff,
    overdamped, inelastic one (its damping also acts while a point leaves the floor), because
    its impact energy goes into plastic flow. Dropped 0.1 m: the elastic box's centre comes
    closer to the floor (measured 42 against 54 mm; asserted 5 mm apart) and rises after the
    impact (44 mm) where the plasticine box stays down (1.3 mm; asserted below 5 mm: with
    the damping on approach only it rose 25 mm); what the spring lets below the floor is
    recorded on it (no point below z = 0)."""
    lifted = box.copy()
    lifted.apply_translation([0.0, 0.0, 0.1 - box.bounds[0][2]])
    lowest, rise = {}, {}
    for yield_stress in (0.0, 3000.0):
        material = {"E": 3e4, "nu": 0.3, "density": 500.0, "yield_stress": yield_stress}
        traj = neurok.simulate(_model(), lifted, material=material, duration=0.5, fps=60,
                               num_points=48, contact_points=24, exact=True,
                               progress=False)  # fmt: skip
        assert traj.tracks["object_surface"].positions[..., 2].min() >= 0.0
        centre = traj.tracks["object"].positions.mean(axis=1)[:, 2]
        impact = int(np.argmin(centre[:20]))
        lowest[yield_stress] = centre[impact]
        rise[yield_stress] = centre[impact:].max() - centre[impact]
    assert lowest[0.0] < lowest[3000.0] - 0.005, lowest
    assert rise[0.0] > 0.03 and rise[3000.0] < 0.005, rise


def test_closed_form_yield_check_matches_the_svd() -> None:
    """The compiled return mapping skips the SVD for points inside the yield surface, judged
    by the deviatoric Hencky strain from the closed-form eigenvalues of Fe Fe^T: it equals
    the one from the singular values of Fe to 1e-12 (random Fe from 1e-4 to 30 % strain,
    and the degenerate cases of a rotation and a pure stretch)."""
    from scipy.spatial.transform import Rotation as Rot

    from neurok.compiled import _deviatoric_strain

    rng = np.random.default_rng(0)
    cases = [Rot.from_rotvec([0.3, -0.2, 1.0]).as_matrix(), np.diag([1.3, 1.3**-0.5, 1.3**-0.5])]
    cases += [np.eye(3) + rng.normal(scale=scale, size=(3, 3))
              for scale in (1e-4, 0.05, 0.3) for _ in range(100)]  # fmt: skip
    for Fe in cases:
        if np.linalg.det(Fe) < 0.1:
            continue
        strain = np.log(np.linalg.svd(Fe, compute_uv=False))
        expected = np.linalg.norm(strain - strain.mean())
        assert abs(_deviatoric_strain(Fe @ Fe.T) - expected) < 1e-12, Fe


def test_plasticine_keeps_the_deformation_of_its_impact(box: trimesh.Trimesh) -> None:
    """Thrown down at 2 m/s from 0.3 m onto the floor, a box that yields (von Mises, 100 Pa)
    keeps part of the deformation of its impacts once it has settled: RMS distance of its
    points from the rest shape, after the best rigid alignment, above 0.3 mm at 1.5 s
    (measured 0.33 mm), steady over the last 5 frames (within 0.05 mm), and at least 3x that
    of the same box that never yields (1e12 Pa; measured 0.06 mm, the sag of a body resting
    on a few points). Without the return mapping both end at 0.06 mm. (The box bounces
    twice and tips onto another face; at 1 s the elastic one is still rocking. The shipped
    model's plasticine bunny is checked in tests/neurok/test_cli.py.)"""
    from neurok.geometry import kabsch

    lifted = box.copy()
    lifted.apply_translation([0.0, 0.0, 0.3 - box.bounds[0][2]])
    kept = {}
    for yield_stress in (100.0, 1e12):
        material = {"E": 3e4, "nu": 0.3, "density": 500.0, "viscosity": 5.0,
                    "yield_stress": yield_stress}  # fmt: skip
        traj = neurok.simulate(_model(), lifted, material=material, velocity=(0.0, 0.0, -2.0),
                               num_points=48, contact_points=24, duration=1.5,
                               progress=False)  # fmt: skip
        points = traj.tracks["object"].positions.astype(np.float64)
        deviation = []
        for frame in points[-5:]:
            R, shift = kabsch(frame, points[0])
            deviation.append(np.sqrt(np.mean(np.sum((frame @ R.T + shift - points[0]) ** 2, 1))))
        kept[yield_stress] = np.asarray(deviation)
    assert kept[100.0].min() > 3e-4 and np.ptp(kept[100.0]) < 5e-5, kept
    assert kept[100.0].min() > 3 * kept[1e12].max(), kept


def test_the_default_step_resolves_the_floor_spring(box: trimesh.Trimesh) -> None:
    """With no dt given, the step is the coarsest of 1/60, 1/120 and 1/240 s that resolves
    the floor's penalty spring (omega h <= 1, neurok.emulator.default_step), omega = 4.4
    sqrt(E / rho) / diagonal: a very soft elastic box (E 5e3 Pa: 52 rad/s) gets 1/60 s, or
    1/120 s when a moving sphere pushes it (the sphere would move too far per step); a soft
    one (E 1e4 Pa: 73 rad/s) and a body with no floor get 1/120 s; a stiffer one (E 3e4 Pa:
    127 rad/s) and plasticine (its stiff 600 rad/s spring) get 1/240 s; a dt the caller
    gives is kept, and a frame rate it does not divide shortens it (50 fps: 1/150 s); the
    step is recorded as step_s. Stiffer elastic springs get halvings of 1/240 s down to
    1/3840 s (E 5e6 Pa: 1636 rad/s, 1/1920 s), and a spring stiffer still is capped at
    3840 rad/s (E 1e9 Pa)."""
    from neurok.emulator import contact_law

    def step(material: dict, **settings: object) -> tuple[float, float]:
        traj = neurok.simulate(_model(), box, material=material, duration=1 / 30,
                               num_points=48, contact_points=24, progress=False,
                               **settings)  # fmt: skip
        meta = traj.metadata["neurok"]
        return meta["step_s"], meta.get("contact", {}).get("omega", 0.0)

    very_soft = {"E": 5e3, "nu": 0.3, "density": 500.0}
    h, omega = step(very_soft)
    assert h == pytest.approx(1 / 60) and omega * h <= 1.0, (h, omega)
    far_away = mpm.colliders.Sphere(center=(5.0, 5.0, 5.0), radius=0.05)
    h, omega = step(very_soft, colliders=[far_away])
    assert h == pytest.approx(1 / 120) and omega * (1 / 60) <= 1.0, (h, omega)
    soft = {**very_soft, "E": 1e4}
    h, omega = step(soft)
    assert h == pytest.approx(1 / 120) and omega * h <= 1.0 < omega / 60, (h, omega)
    assert omega == pytest.approx(contact_law(MaterialParams.of(soft), 0.269)[0], rel=1e-2)
    assert step(soft, ground=None)[0] == pytest.approx(1 / 120)
    assert step(soft, dt=1 / 480)[0] == pytest.approx(1 / 480)
    # a frame rate the step does not divide: the step is shortened, never lengthened
    assert step(soft, fps=50)[0] == pytest.approx(1 / 150)
    for material in ({**soft, "E": 3e4}, {**soft, "yield_stress": 3000.0}):
        h, omega = step(material)
        assert h == pytest.approx(1 / 240) and omega * (1 / 120) > 1.0, (material, h, omega)
    # stiffer elastic springs are resolved by halving the step (E 5e6 Pa at 500 kg/m^3:
    # 1636 rad/s, 1/1920 s); the stiffest are capped at 1 / FINEST_STEP (E 1e9 Pa: 3840)
    h, omega = step({**soft, "E": 5e6})
    assert h == pytest.approx(1 / 1920) and omega * h <= 1.0 < omega / 960, (h, omega)
    h, omega = step({**soft, "E": 1e9})
    assert h == pytest.approx(1 / 3840) and omega == pytest.approx(3840.0), (h, omega)


def test_a_stiff_body_does_not_bounce_higher_than_it_fell(
    box: trimesh.Trimesh, caplog: pytest.LogCaptureFixture
) -> None:
    """A stiff elastic box (E 1e7 and 1e9 Pa, 1000 kg/m^3) dropped 0.45 m onto the floor
    rises again by less than it fell: the floor's damping only takes energy out (measured
    0.54 and 0.37 of the drop). Its spring (1634 rad/s, and 16 000 capped at 3840) is
    resolved by the default step; at 1/240 s, unresolved (omega h = 7 and 68), the implicit
    midpoint gave the box energy at the impact and it rose 2.5 and 5 times as high as it
    fell. A dt or a contact_omega that leaves the spring unresolved is kept, with a
    warning."""
    def rise(material: dict, **settings: object) -> float:
        traj = neurok.simulate(_model(), box, material=material, fps=60, num_points=48,
                               contact_points=48, progress=False, **settings)  # fmt: skip
        z = traj.tracks["object_surface"].positions.astype(float).mean(axis=1)[:, 2]
        lowest = int(np.argmin(z[:30]))
        return float((z[lowest:].max() - z[lowest]) / (z[0] - z[lowest]))

    for stiffness in (1e7, 1e9):
        ratio = rise({"E": stiffness, "nu": 0.3, "density": 1000.0})
        assert 0.1 < ratio < 0.9, (stiffness, ratio)
    for settings in ({"dt": 1 / 240}, {"contact_omega": 1e5}):  # past the finest step
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="emu4d.neurok"):
            neurok.simulate(_model(), box, material={"E": 1e7, "nu": 0.3, "density": 1000.0},
                            duration=1 / 30, num_points=48, contact_points=48, progress=False,
                            **settings)  # fmt: skip
        assert "does not resolve the floor's spring" in caplog.text, settings


def test_simulate_runs_torch_on_one_thread_and_restores_the_count(
    box: trimesh.Trimesh, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The emulator's tensors are small, so simulate runs PyTorch on one thread (see
    neurok.emulator.on_one_torch_thread); the caller's thread count is back afterwards, also
    when simulate raises."""
    seen = []
    original = BoundShape.restrict_to_modes

    def spy(self: BoundShape, *args: object, **kwargs: object) -> None:
        seen.append(torch.get_num_threads())
        original(self, *args, **kwargs)

    monkeypatch.setattr(BoundShape, "restrict_to_modes", spy)
    previous = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        neurok.simulate(_model(), box, duration=1 / 30, num_points=48, contact_points=24,
                        progress=False)  # fmt: skip
        assert seen == [1] and torch.get_num_threads() == 2
        with pytest.raises(neurok.SettingsError):
            neurok.simulate(_model(), box, fps=-1.0, progress=False)
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(previous)


def test_a_large_viscosity_settles_a_vibrating_body(box: trimesh.Trimesh) -> None:
    """The Kelvin-Voigt viscosity of the latent modes is in the Newton iteration matrix (about
    eta / mu times their stiffness), so a very viscous body (1e3-1e5 Pa s, a hundred times
    and more the 5-15 Pa s of the dataset's materials) settles instead of diverging: thrown
    vibrating in free flight, its deformation at 0.3 s is below that at 0.05 s. Without the
    term 1e3 Pa s grew 6x over that time and 1e4 Pa s diverged at 0.017 s."""
    model = _model()
    for viscosity in (1e3, 1e4, 1e5):
        traj = neurok.simulate(model, box, material={"E": 3e4, "density": 500.0,
                                                     "viscosity": viscosity},
                               ground=None, zdot0=np.full(model.state_dim, 0.5), duration=0.3,
                               fps=60, num_points=48, contact_points=0,
                               progress=False)  # fmt: skip
        x = traj.tracks["object"].positions.astype(np.float64)
        centred = x - x.mean(axis=1, keepdims=True)
        deformation = np.sqrt(np.sum((centred - centred[:1]) ** 2, axis=-1).mean(axis=-1))
        assert deformation[-1] < deformation[3], (viscosity, deformation[3], deformation[-1])


def test_fast_path_matches_the_reference(box: trimesh.Trimesh) -> None:
    """The NumPy integrator on the polynomial surrogate gives the same accelerations as the
    PyTorch reference on the same surrogate (finite differences vs exact derivatives: 1e-5
    relative), with gravity, damping, ground contact and a rotated reference frame; and a
    spinning, wobbling free flight over 0.2 s ends within 1e-6 m of it when both solve the
    implicit midpoint rule to convergence (Newton-like vs fixed-point iterations)."""
    from neurok.fast import FastDynamics
    from neurok.geometry import rotation_matrix

    model = _model()
    bound = BoundShape(model, box, num_points=48, surrogate=True)
    assert bound.surrogate is not None and bound.surrogate.relative_error < 0.1
    body = body_of(bound, MaterialParams(E=3e4, viscosity=10.0))
    reference, fast = LatentDynamics(body), FastDynamics(bound.surrogate, body)
    rng = np.random.default_rng(0)
    for trial in range(3):
        q = np.concatenate([bound.centre - [0, 0, 0.45 + 0.01 * trial], rng.normal(size=3) * 0.3,
                            rng.normal(size=4) * 0.2])  # fmt: skip
        qdot = rng.normal(size=10) * 0.5
        R0 = rotation_matrix(torch.as_tensor(rng.normal(size=3))).numpy()
        reference.R0, fast.R0 = torch.as_tensor(R0), R0
        with torch.no_grad():
            expected = reference.acceleration(torch.as_tensor(q), torch.as_tensor(qdot)).numpy()
        got = fast.acceleration(q, qdot)
        assert np.abs(got - expected).max() < 1e-5 * np.abs(expected).max()
    # modes up to omega h = 1, so the reference's fixed-point iterations converge too
    params = MaterialParams(E=3e4, viscosity=10.0)
    bound.restrict_to_modes(params, omega_max=240.0)
    body = body_of(bound, params)
    reference = LatentDynamics(body, contact=None)
    fast = FastDynamics(bound.surrogate, body, contact=None)
    k = bound.state_dim
    assert k >= 1
    q = np.concatenate([bound.centre, np.zeros(3 + k)])
    qdot = np.concatenate([[0.3, 0.0, 1.0, 2.0, -1.0, 0.5], 0.5 * bound.range])
    qt, vt = torch.as_tensor(q), torch.as_tensor(qdot)
    for i in range(48):
        q, qdot = fast.step(q, qdot, 1 / 240, i / 240, iterations=16)
        qt, vt = reference.step(qt, vt, 1 / 240, i / 240, iterations=16)
    np.testing.assert_allclose(q, qt.numpy(), atol=1e-6)
    np.testing.assert_allclose(fast.R0, reference.R0.numpy(), atol=1e-6)


@pytest.mark.parametrize("yield_stress", [0.0, 200.0])
def test_compiled_integrator_takes_the_numpy_steps(
    box: trimesh.Trimesh, yield_stress: float
) -> None:
    """The compiled integrator (neurok.compiled) takes the same implicit-midpoint steps as the
    NumPy FastDynamics it mirrors: a spinning, deforming box thrown onto the floor under
    gravity, viscosity, friction, a constant force on one half and an impulse, through the
    impact (where steps are split), ends within 1e-8 (m, rad) of it after 0.25 s, the
    velocities within 1e-6 (m/s, rad/s): they are the Newton unknowns, solved to 1e-6 of the
    momentum, and the two implementations' rounding ends the iterations at different points
    (measured 0.8-1.6e-7 on this throw and on variants without friction or viscosity). A
    compiled step with the elastic forces, the decoder's curvature term or the frame's
    Coriolis terms left out misses by 1e-4 or more. As plasticine (yield stress 200 Pa, on
    the inelastic floor) the impact makes points yield, and both end with the same plastic
    state (Fp^-1 within 1e-6, measured 3e-9; without the compiled return mapping the state
    misses by more than 1e-3, without the floor's separation damping in the compiled
    iteration matrix the velocities miss by more than 1e-6)."""
    from neurok import compiled
    from neurok.dynamics import Contact
    from neurok.fast import FastDynamics
    from neurok.loads import Load, LoadTable

    model = _model()
    params = MaterialParams(E=3e4, viscosity=5.0, yield_stress=yield_stress)
    h = 1 / 240
    bound = BoundShape(model, box, num_points=48, surface=surface_samples(box, 64, 1))
    bound.restrict_to_modes(params, omega_max=1.5 / h)
    body = body_of(bound, params)
    loads = [Load(force=(0.0, 3.0, 0.0), region=mpm.Box(size=(0.1, 0.2, 0.2),
                                                        center=(0.05, 0.0, 0.5))),
             Load(impulse=(0.2, 0.0, 0.1), start=0.1)]  # fmt: skip
    table = LoadTable(loads, bound.rest, body.mass.numpy(), h)
    # plasticine meets the inelastic floor simulate gives it
    contact = Contact(height=0.38, friction=0.4, damp_separation=yield_stress > 0)
    fast = FastDynamics(bound.surrogate, body, contact=contact)
    fast.external = table
    # a twin for the compiled run: the compiled model shares its elasticity's plastic state
    twin = FastDynamics(bound.surrogate, body, contact=contact)
    native = compiled.build(twin, table)
    k = bound.state_dim
    q0 = np.concatenate([bound.centre, [0.1, -0.2, 0.3], np.zeros(k)])
    v0 = np.concatenate([[0.3, 0.0, -2.0, 3.0, -2.0, 1.0], 0.5 * bound.range / 0.1])
    q, qdot = q0.copy(), v0.copy()
    fast.R0 = np.eye(3)
    for i in range(60):
        q, qdot = fast.step(q, qdot, h, i * h)
    got_q, got_v, got_R, evaluations = compiled.advance(native, np.eye(3), q0, v0, h, 0.0, 60, 3)
    assert evaluations > 3 * 60  # the impact split some steps
    # it fell onto the floor and stayed there (the plastic body, deformed by the impact,
    # keeps its frame origin 0.046 m down instead of 0.063 m)
    assert q[2] < bound.centre[2] - (0.04 if yield_stress else 0.05)
    np.testing.assert_allclose(got_q, q, atol=1e-8)
    np.testing.assert_allclose(got_v, qdot, atol=1e-6, rtol=0)
    np.testing.assert_allclose(got_R, fast.R0, atol=1e-8)
    if yield_stress:
        plastic = fast.elastic.plastic_inverse
        assert np.abs(plastic - np.eye(3)).max() > 5e-3  # the impact made points yield (0.01)
        np.testing.assert_allclose(native.plastic_inverse, plastic, atol=1e-6)


def test_viscosity_does_not_brake_a_rigid_spin(box: trimesh.Trimesh) -> None:
    """Kelvin-Voigt damping acts on the strain rate only (as in the MPM: Kirchhoff stress
    eta J (l + l^T), l the spatial velocity gradient). (1) A turned body in rigid rotation
    feels no viscous force in any of the three implementations (PyTorch reference, NumPy,
    compiled; below 1e-9 of the rigid rate's scale, the material-frame form Fdot + Fdot^T
    gives forces of order one). (2) Free of gravity and floor, a spinning body at 50 Pa s
    keeps its angular momentum to 1e-4 over 0.5 s (measured 2e-5: internal forces exert no
    torque, the rest is the Newton tolerance); with the material-frame form it is off by
    100 % of itself."""
    from neurok import compiled
    from neurok.fast import FastDynamics

    params = MaterialParams(E=3e4, viscosity=50.0)
    h = 1 / 240
    bound = BoundShape(_model(), box, num_points=48)
    bound.restrict_to_modes(params, omega_max=1.5 / h)
    body = body_of(bound, params)
    fast = FastDynamics(bound.surrogate, body, contact=None)
    fast.gravity = False
    R = Rotation.from_rotvec([0.7, -1.1, 0.4]).as_matrix()
    omega, centre = np.array([3.0, -2.0, 5.0]), np.array([0.1, 0.2, 0.3])
    x = (bound.rest - bound.centre) @ R.T + centre
    xdot = np.cross(omega, x - centre) + np.array([0.5, 0.0, -1.0])
    scale = params.viscosity * float(np.linalg.norm(omega)) * float(body.volume.sum()) / 0.1
    assert np.abs(fast.dissipative(x, xdot, 0.0)).max() < 1e-9 * scale
    reference = LatentDynamics(body, contact=None, gravity=False)
    with torch.no_grad():
        torch_forces = reference._dissipative(torch.as_tensor(x), torch.as_tensor(xdot), 0.0)
    assert float(torch_forces.abs().max()) < 1e-9 * scale
    e = fast.elastic
    native_forces = np.zeros_like(x)
    compiled._internal_forces(e.owners, e.index, e.coef, e.volume, 0.0, 0.0, params.viscosity,
                              x, xdot, native_forces)  # fmt: skip
    assert np.abs(native_forces).max() < 1e-9 * scale

    def angular_momentum(q: np.ndarray, qdot: np.ndarray, R0: np.ndarray) -> np.ndarray:
        fast.R0 = R0
        points, _, velocities, _ = fast.kinematics(q, qdot)
        m = body.mass.numpy()[:, None]
        com = (m * points).sum(0) / m.sum()
        return np.sum(m * np.cross(points - com, velocities), axis=0)

    native = compiled.build(fast, None)
    q = np.concatenate([bound.centre, np.zeros(3 + bound.state_dim)])
    qdot = np.concatenate([[0.0, 0.0, 0.0], omega, np.zeros(bound.state_dim)])
    L0 = angular_momentum(q, qdot, R)
    q, qdot, R_end, _ = compiled.advance(native, R, q, qdot, h, 0.0, 120, 3)
    L1 = angular_momentum(q, qdot, R_end)
    assert np.linalg.norm(L1 - L0) < 1e-4 * np.linalg.norm(L0), (L0, L1)


def _contact_forces(box: trimesh.Trimesh, contact_kwargs: dict) -> tuple:
    """A box half below a floor (viscosity off), its FastDynamics, and the contact and
    load forces of all three implementations as functions of the point velocities (N, 3)."""
    from neurok import compiled
    from neurok.dynamics import Contact
    from neurok.fast import FastDynamics

    params = MaterialParams(E=3e4, viscosity=0.0)
    bound = BoundShape(_model(), box, num_points=48, surface=surface_samples(box, 64, 1))
    bound.restrict_to_modes(params, omega_max=1.5 * 240)
    body = body_of(bound, params)
    x = bound.rest.copy()
    contact = Contact(height=float(np.median(x[:, 2])), **contact_kwargs)
    fast = FastDynamics(bound.surrogate, body, contact=contact)
    reference = LatentDynamics(body, contact=contact)
    native = compiled.build(fast, None)

    def numpy_forces(v: np.ndarray) -> np.ndarray:
        return fast.dissipative(x, v, 0.0)

    def torch_forces(v: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            return reference._dissipative(torch.as_tensor(x), torch.as_tensor(v), 0.0).numpy()

    def compiled_forces(v: np.ndarray) -> np.ndarray:  # includes the spring: differences only
        return compiled._forces(native, x, v, 0.0, 1 / 240, 1e30, np.zeros(3), np.zeros(3),
                                np.ones(len(native.collider_radius)))

    return x, fast, contact, (numpy_forces, torch_forces, compiled_forces)


def test_ground_friction_acts_while_a_point_approaches_or_rests_on_the_floor(
    box: trimesh.Trimesh,
) -> None:
    """Ground friction follows the MPM's grid rule (the tangential speed drops by mu times
    the normal speed the floor removes, including the pull of gravity on a resting body): a
    point below the floor that is still moving down feels the regularised Coulomb drag
    mu (spring + damping force) v_t / sqrt(|v_t|^2 + v_slip^2) (to 1e-9 relative); one
    leaving it at a tenth of the rest speed (resting, jittering in the spring) nine tenths of
    its spring's drag; one rebounding faster than the rest speed none (below 1e-12 N); in
    all three implementations (PyTorch reference, NumPy, compiled). Friction on the fast
    rebound as well fails the third check by the full drag, friction on approach only
    fails the second."""
    x, fast, contact, implementations = _contact_forces(box, {"friction": 0.4, "damping": 0.3})
    inside = x[:, 2] < fast.floor
    kind = np.arange(len(x)) % 3  # 0: moving down, 1: resting, 2: rebounding
    for k in range(3):
        assert (inside & (kind == k)).sum() > 3
    rng = np.random.default_rng(0)
    sliding = np.zeros_like(x)
    sliding[:, :2] = rng.normal(0.0, 0.5, size=(len(x), 2))
    sliding[:, 2] = np.choose(kind, [-0.4, 0.1 * contact.rest_speed, 0.4])
    still = sliding * np.array([0.0, 0.0, 1.0])  # same normal motion, no sliding
    m = fast.contact_mass
    support = m * contact.omega**2 * np.maximum(fast.floor - x[:, 2], 0.0) + np.maximum(
        -2 * contact.damping * contact.omega * m * sliding[:, 2], 0.0)
    speed = np.sqrt(np.sum(sliding[:, :2] ** 2, axis=1) + contact.slip_speed**2)
    share = np.choose(kind, [1.0, 0.9, 0.0])
    expected = -(share * contact.friction * support / speed)[:, None] * sliding[:, :2]
    expected[~inside] = 0.0
    for forces in implementations:
        drag = (forces(sliding) - forces(still))[:, :2]
        np.testing.assert_allclose(drag[inside & (kind < 2)], expected[inside & (kind < 2)],
                                   rtol=1e-9)  # fmt: skip
        assert np.abs(drag[kind == 2]).max() < 1e-12, forces.__name__


def test_a_box_sliding_on_the_floor_stops_where_coulomb_friction_stops_it(
    box: trimesh.Trimesh,
) -> None:
    """A box sliding at 1 m/s on the floor (friction 0.5, no spin) stops within 20 % of
    Coulomb's v^2 / (2 mu g) = 0.102 m (measured 0.110 and 0.105 m for E = 30 and 100 kPa):
    the floor brakes a resting body by mu times its weight. With friction only while a point
    approaches the floor it slid 0.163 and 0.174 m."""
    flat = mpm.Box(size=(0.2, 0.2, 0.1), center=(0.0, 0.0, 0.05)).surface_mesh()
    for E in (3e4, 1e5):
        traj = neurok.simulate(_model(), flat, material={"E": E, "density": 1000.0},
                               velocity=(1.0, 0.0, 0.0), friction=0.5, duration=1.0, fps=60,
                               progress=False)  # fmt: skip
        centre = traj.tracks["object"].positions[:, :128].astype(np.float64).mean(axis=1)
        slide = centre[-1, 0] - centre[0, 0]
        assert abs(slide / (1.0 / (2 * 0.5 * 9.81)) - 1.0) < 0.2, (E, slide)


def test_a_ball_rolling_on_the_floor_is_not_braked_by_friction() -> None:
    """A ball (0.1 m, E = 50 kPa) rolling at 1 m/s without slipping on a level floor, the
    floor undamped, still rolls at more than 0.9 m/s after 1 s (measured 0.97; MPM's elastic
    sphere after a blow loses about 0.06 m/s per second): the friction acts on the surface
    below each sample point, which does not slip. Taking the inner points' own velocity as
    the slip (they move at up to v over a contact that is at rest) braked it to 0.46 m/s;
    equal mass shares for the sample points, whose centre of mass is then millimetres off
    the ball's, to 0.87 m/s."""
    ball = trimesh.creation.icosphere(3, 0.1)
    ball.apply_translation([0.0, 0.0, 0.1])
    traj = neurok.simulate(_model(), ball, material={"E": 5e4, "density": 1000.0},
                           velocity=(1.0, 0.0, 0.0), angular_velocity=(0.0, 10.0, 0.0),
                           contact_damping=0.0, duration=1.0, fps=30, progress=False)  # fmt: skip
    centre = traj.tracks["object"].positions[:, :128].astype(np.float64).mean(axis=1)
    final_speed = (centre[-1, 0] - centre[-4, 0]) * 10.0  # over the last 0.1 s
    assert final_speed > 0.9, final_speed


@pytest.mark.parametrize("damp_separation", [False, True])
def test_ground_damping_acts_on_approach_or_both_ways_on_an_inelastic_floor(
    box: trimesh.Trimesh, damp_separation: bool
) -> None:
    """The floor's normal damping, like the MPM's grid rule (which removes the velocity
    towards the floor and leaves a separating node alone), resists only approach: a point
    below the floor moving down at v_z feels -2 zeta omega m v_z (to 1e-9 relative), one
    moving up at the same speed feels nothing beyond the spring (below 1e-12 N), and points
    above the floor feel nothing; in all three implementations. Damping the rebound as
    well fails the second check by 2 zeta omega m |v_z| (tens of N here). With
    ``damp_separation`` (the inelastic floor simulate gives plasticine) the point moving up
    feels -2 zeta omega m v_z too, and points above the floor still nothing. (The iteration
    matrices' share of the term is checked by the compiled-integrator test.)"""
    x, fast, contact, implementations = _contact_forces(
        box, {"friction": 0.0, "damping": 1.0, "damp_separation": damp_separation}
    )
    inside = x[:, 2] < fast.floor
    down = np.arange(len(x)) % 2 == 0
    assert (inside & down).sum() > 5 and (inside & ~down).sum() > 5
    moving = np.zeros_like(x)
    moving[:, 2] = np.where(down, -0.4, 0.4)
    resting = np.zeros_like(x)
    m = fast.contact_mass
    expected = -2 * contact.damping * contact.omega * m * moving[:, 2]
    damped = inside if damp_separation else inside & down
    for forces in implementations:
        damping = (forces(moving) - forces(resting))[:, 2]
        np.testing.assert_allclose(damping[damped], expected[damped], rtol=1e-9)
        assert np.abs(damping[~damped]).max() < 1e-12, forces.__name__


def test_bound_shapes_reuse_the_working_copy_until_the_model_changes(
    box: trimesh.Trimesh,
) -> None:
    """Binding shapes reuses one float64 copy of the model while it is unchanged, and makes
    a new one after any edit of its weights, including through ``.data`` (which PyTorch's
    version counters do not see): the decoded shape then follows the edited weights (to
    1e-12 m against a fresh copy of the edited model)."""
    import copy

    model = _model()
    first, second = BoundShape(model, box, num_points=32), BoundShape(model, box, num_points=32)
    assert first.model is second.model
    z = torch.full((1, model.state_dim), 0.5, dtype=torch.float64)
    before = first.body_positions(z).numpy()
    head = next(model.decoder.head.parameters())
    head.data.mul_(2.0)  # an in-place edit that does not bump the version counter
    edited = BoundShape(model, box, num_points=32)
    assert edited.model is not first.model
    after = edited.body_positions(z).numpy()
    fresh = BoundShape(copy.deepcopy(model), box, num_points=32).body_positions(z).numpy()
    np.testing.assert_allclose(after, fresh, atol=1e-12)
    assert np.abs(after - before).max() > 1e-6


def test_modal_restriction_keeps_resolved_mass_normalised_modes(box: trimesh.Trimesh) -> None:
    """restrict_to_modes keeps latent modes with omega <= omega_max, M-orthonormal for the
    dynamics' own mass matrix (identity within 5 %, the surrogate's fit), rigid-free; a
    lower omega_max keeps fewer modes."""
    from neurok.fast import FastDynamics

    model = _model(scale=0.3)
    params = MaterialParams(E=3e4, nu=0.3, density=1000.0)
    bound = BoundShape(model, box, num_points=64)
    bound.restrict_to_modes(params, omega_max=1e9)
    everything = bound.state_dim
    frequencies = np.sort(bound.frequencies)
    assert everything >= 1 and np.all(np.isfinite(frequencies))
    cut = float(np.median(frequencies))
    bound.restrict_to_modes(params, omega_max=cut)
    assert bound.state_dim == int(np.sum(frequencies <= cut)) < everything
    dynamics = FastDynamics(bound.surrogate, body_of(bound, params))
    q = np.concatenate([bound.centre, np.zeros(3 + bound.state_dim)])
    _, J, _, _ = dynamics.kinematics(q, np.zeros_like(q))
    M = J.T @ (dynamics.m3[:, None] * J)
    np.testing.assert_allclose(M[6:, 6:], np.eye(bound.state_dim), atol=0.05)
    np.testing.assert_allclose(M[:3, 6:], 0.0, atol=1e-6)  # no net translation in the modes


def test_von_mises_return_keeps_the_yield_strain_and_leaves_a_permanent_set() -> None:
    """Plasticine (von Mises, as the MPM's mpm.materials.VonMises) stretched 30 % along x at
    constant volume yields everywhere: after the return mapping every point's elastic part
    has the deviatoric Hencky strain yield_stress / (2 mu) (1e-9) and the total deformation
    is unchanged; the stored energy drops to that of the yield strain. Back at its rest
    positions it is no longer stress-free: the elastic forces stretch it along x again (the
    permanent set), where an elastic cloud has no forces at rest (1e-9 N)."""
    from neurok.fast import Elasticity

    axis = np.linspace(-0.05, 0.05, 6)
    rest = np.stack(np.meshgrid(axis, axis, axis, indexing="ij"), -1).reshape(-1, 3)
    volume = np.full(len(rest), 1e-3 / len(rest))
    stretch = np.diag([1.3, 1.3**-0.5, 1.3**-0.5])
    plastic = Elasticity(rest, volume, E=1e5, nu=0.3, yield_stress=3e3)
    elastic = Elasticity(rest, volume, E=1e5, nu=0.3)
    x = rest @ stretch.T
    before = plastic.energy(x)
    assert plastic.return_map(x) == len(rest) and elastic.return_map(x) == 0
    strain = np.log(np.linalg.svd(plastic.elastic_part(x), compute_uv=False))
    deviator = strain - strain.mean(axis=1, keepdims=True)
    np.testing.assert_allclose(np.linalg.norm(deviator, axis=1), 3e3 / (2 * plastic.mu),
                               atol=1e-9)  # fmt: skip
    np.testing.assert_allclose(plastic.deformation_gradient(x), np.tile(stretch, (len(rest), 1, 1)),
                               atol=1e-9)  # fmt: skip
    assert plastic.energy(x) < 0.1 * before
    pull = -plastic.gradient(rest)  # forces at the rest positions
    assert np.sum(pull[:, 0] * rest[:, 0]) > 0  # outwards along x: it wants its stretch back
    assert np.sum(pull[:, 1] * rest[:, 1]) < 0  # and inwards across
    np.testing.assert_allclose(elastic.gradient(rest), 0.0, atol=1e-9)


def test_compiled_elastic_gradient_matches_the_numpy_one() -> None:
    """compiled.elastic_gradient (used to find the latent stiffness at binding) is
    Elasticity.gradient to rounding (1e-12 of the largest force) on a randomly deformed
    cloud, elastic and plastic (a perturbed Fp^-1); the plastic body's forces differ from the
    elastic one's by far more than that, so the Fp^-1 product cannot be skipped."""
    from neurok import compiled
    from neurok.fast import Elasticity

    rng = np.random.default_rng(5)
    rest = rng.uniform(-0.05, 0.05, (96, 3))
    volume = np.full(len(rest), 1e-3 / len(rest))
    x = rest + 0.005 * rng.normal(size=rest.shape)
    elastic = Elasticity(rest, volume, E=1e5, nu=0.3)
    plastic = Elasticity(rest, volume, E=1e5, nu=0.3, yield_stress=3e3)
    plastic.plastic_inverse = plastic.plastic_inverse + 0.05 * rng.normal(size=(96, 3, 3))
    for body in (elastic, plastic):
        expected = body.gradient(x)
        np.testing.assert_allclose(compiled.elastic_gradient(body, x), expected, rtol=0,
                                   atol=1e-12 * np.abs(expected).max())  # fmt: skip
    assert np.abs(plastic.gradient(x) - elastic.gradient(x)).max() > 1e-2 * np.abs(
        elastic.gradient(x)).max()


def test_the_compiled_decoder_of_a_bound_shape_is_the_torch_decoder(box: trimesh.Trimesh) -> None:
    """BoundShape._decode_values (the surrogate's fit and the modal stencil: one matrix
    product and a compiled rigid transform per point) gives the PyTorch decoder's positions
    to 1e-12 of the shape's size, for latents small enough that the per-point rotations take
    the small-angle series and large ones that turn points by up to a radian; the displacement
    ablation takes the PyTorch path and agrees too."""
    rng = np.random.default_rng(3)
    for output in ("dual_quaternion", "displacement"):
        bound = BoundShape(_model(output, scale=0.5), box, num_points=48)
        k = bound.model.state_dim
        z = np.concatenate([rng.normal(size=(4, k)) * 1e-5, rng.normal(size=(8, k)) * 3.0])
        with torch.no_grad():
            expected = bound._decode_z(torch.as_tensor(z)).numpy()
        np.testing.assert_allclose(bound._decode_values(z), expected, rtol=0,
                                   atol=1e-12 * bound.scale)  # fmt: skip
        moved = np.linalg.norm(expected - expected[:1], axis=2).max() / bound.scale
        assert moved > 0.1, moved  # the large latents do deform the shape


def test_enclosed_volume_is_the_mesh_volume_and_signed(box: trimesh.Trimesh) -> None:
    """neurok.binding.enclosed_volume (the divergence theorem, used instead of trimesh's
    slower mass properties) equals trimesh's volume to 1e-12 on a box and a sphere far from
    the origin, and is negative for the box turned inside out, which check_mesh refuses."""
    from neurok.binding import check_mesh, enclosed_volume

    sphere = trimesh.creation.icosphere(subdivisions=3, radius=0.07)
    sphere.apply_translation([40.0, -25.0, 3.0])
    for mesh in (box, sphere):
        assert enclosed_volume(mesh) == pytest.approx(mesh.volume, rel=1e-12)
    inverted = box.copy()
    inverted.invert()
    assert enclosed_volume(inverted) == pytest.approx(-box.volume, rel=1e-12)
    with pytest.raises(neurok.MeshError, match="no volume"):
        check_mesh(inverted)


def test_sample_points_carry_the_solids_centre_of_mass_and_inertia() -> None:
    """neurok.binding.solid_moments gives a box's centre and second moments diag(a^2, b^2,
    c^2) / 12 (1e-12), and moment_matched_weights gives 128 random interior points of the
    box (and of a ball) shares that sum to 1 and reproduce the solid's centre of mass and
    second moments (1e-12), none below a fifth of an equal share (measured 0.4-0.6). Equal
    shares leave the centre of mass about 3 mm off (checked below, > 0.5 mm)."""
    from neurok.binding import moment_matched_weights, solid_moments

    size, centre = np.array([0.2, 0.15, 0.1]), np.array([0.3, -0.2, 0.5])
    box = mpm.Box(size=tuple(size), center=tuple(centre)).surface_mesh()
    reference, mass_centre, second = solid_moments(box)
    np.testing.assert_allclose(mass_centre, centre, atol=1e-12)
    offset = centre - reference
    np.testing.assert_allclose(second, np.diag(size**2) / 12 + np.outer(offset, offset),
                               atol=1e-12)  # fmt: skip
    ball = trimesh.creation.icosphere(subdivisions=3, radius=0.08)
    for mesh in (box, ball):
        points = sample_interior(mesh, 128, seed=3)
        weights = moment_matched_weights(points, mesh)
        reference, mass_centre, second = solid_moments(mesh)
        x = points - reference
        assert weights.sum() == pytest.approx(1.0, abs=1e-12)
        assert weights.min() > 0.2 / len(points)
        np.testing.assert_allclose(weights @ points, mass_centre, atol=1e-12)
        np.testing.assert_allclose(np.einsum("n,na,nb->ab", weights, x, x), second,
                                   atol=1e-12)  # fmt: skip
        assert np.linalg.norm(points.mean(axis=0) - mass_centre) > 5e-4


def test_thin_shapes_get_interior_points_and_a_too_thin_one_is_refused() -> None:
    """sample_interior places its points inside plates and rods too: a 0.2 x 0.2 x 0.002 m
    plate (its volume's grid spacing, 5.4 mm, is wider than the plate is thick, and it got no
    point at all) and a 0.2 x 0.01 x 0.01 m rod get 128 points, all inside. A sheet 1e-5 of
    its size thick would need a grid of more than MAX_GRID_POINTS and is refused with a
    MeshError that names the thinnest side."""
    from neurok.binding import sample_interior

    for size in ((0.2, 0.2, 0.002), (0.2, 0.01, 0.01)):
        mesh = mpm.Box(size=size, center=(0.0, 0.0, 0.0)).surface_mesh()
        points = sample_interior(mesh, 128, seed=1)
        assert points.shape == (128, 3)
        assert np.all(np.abs(points) < np.array(size) / 2), size
        assert np.ptp(points[:, 0]) > 0.15  # spread over the whole length, not one corner
    with pytest.raises(neurok.MeshError, match="thinnest side 2e-06 m"):
        sample_interior(mpm.Box(size=(0.2, 0.2, 2e-6), center=(0.0, 0.0, 0.0)).surface_mesh(), 128)


def test_moment_matching_degrades_gracefully() -> None:
    """moment_matched_weights where the moments cannot be matched exactly: points all in one
    plane (their second moments are singular) keep equal shares; points on a box's surface
    (their second moments exceed the solid's, so exact shares would go negative) get the
    change scaled back until the lowest share is a fifth of an equal one, still summing to 1,
    and their centre of mass moves towards the solid's, not away."""
    from neurok.binding import moment_matched_weights, solid_moments

    box = mpm.Box(size=(0.2, 0.15, 0.1), center=(0.0, 0.0, 0.0)).surface_mesh()
    rng = np.random.default_rng(2)
    flat = np.column_stack([rng.uniform(-0.05, 0.05, (64, 2)), np.zeros(64)])
    np.testing.assert_array_equal(moment_matched_weights(flat, box), np.full(64, 1 / 64))
    skin = surface_samples(box, 128, seed=4)
    weights = moment_matched_weights(skin, box)
    assert weights.sum() == pytest.approx(1.0, abs=1e-12)
    assert weights.min() == pytest.approx(0.2 / 128, rel=1e-9)
    centre = solid_moments(box)[1]
    assert np.linalg.norm(weights @ skin - centre) < np.linalg.norm(skin.mean(axis=0) - centre)


def test_a_ball_spun_on_a_frictionless_floor_keeps_turning_the_same_way() -> None:
    """The shipped model: a 0.16 m ball (the held-out sphere 86's material) spun at 11 rad/s
    about a horizontal axis on a frictionless floor keeps turning that way (the spin never
    changes sign after 0.3 s; measured -9.1 to -4.5 rad/s). With equal mass shares its 128
    sample points put the centre of mass 3 mm off the ball's centre, and the ball behaved
    like a weighted wheel: the spin died and it swung back and forth (-6.1 to +3.6 rad/s).
    (The spin still decays, from the floor's damping of approaching points:
    benchmarks/RESULTS.md.)"""
    from neurok.geometry import kabsch

    ball = trimesh.creation.icosphere(subdivisions=3, radius=0.082)
    ball.apply_translation([0.0, 0.0, 0.082])
    traj = neurok.simulate(neurok.load(), ball,
                           material={"E": 96e3, "nu": 0.262, "density": 713.0,
                                     "viscosity": 10.7},
                           angular_velocity=(-11.0, 0.0, 0.0), friction=0.0, fps=120,
                           num_points=128, progress=False)  # fmt: skip
    points = traj.tracks["object"].positions.astype(np.float64)[:, :128]
    spin = []
    for before, after in itertools.pairwise(points[36:]):
        R, _ = kabsch(before - before.mean(axis=0), after - after.mean(axis=0))
        spin.append(Rotation.from_matrix(R).as_rotvec()[0] * 120)
    assert max(spin) < 0.0, (min(spin), max(spin))


def test_embedded_mesh_follows_affine_motion_of_the_points() -> None:
    """The surface mesh rides on the simulated points by moving least squares with a linear
    basis: any affine motion of the points moves the vertices exactly (1e-9 m), and the
    weights of each vertex sum to one."""
    from neurok.emulator import embedding_weights

    rng = np.random.default_rng(0)
    points = rng.uniform(-0.1, 0.1, (200, 3))
    vertices = rng.uniform(-0.08, 0.08, (50, 3))
    W = embedding_weights(points, vertices)
    A, b = np.eye(3) + 0.2 * rng.normal(size=(3, 3)), rng.normal(size=3)
    np.testing.assert_allclose(W @ (points @ A.T + b), vertices @ A.T + b, atol=1e-9)
    np.testing.assert_allclose(np.asarray(W.sum(axis=1)).ravel(), 1.0, atol=1e-9)


def test_fit_state_uses_the_massive_points_and_rejects_a_bad_shape(box: trimesh.Trimesh) -> None:
    """Initial conditions come from the interior (massive) points only: the rest positions of
    those points moved by a rigid motion give back that motion with z = 0 (1e-6), the
    surface contact points riding along; a (P, 2) array, velocities of another shape, NaNs
    and an observed state that is not a pair are LatentErrors."""
    from neurok.emulator import fit_state

    bound = BoundShape(_model(), box, num_points=48, surface=surface_samples(box, 24, 1))
    R = Rotation.from_rotvec([0.1, -0.2, 0.3]).as_matrix()
    moved = (bound.rest[:48] - bound.centre) @ R.T + bound.centre + [0.0, 0.0, 0.2]
    q, qdot, R0 = fit_state(bound, moved, np.zeros((48, 3)))
    np.testing.assert_allclose(q[6:], 0.0, atol=1e-6)
    np.testing.assert_allclose(R0 @ Rotation.from_rotvec(q[3:6]).as_matrix(), R, atol=1e-6)
    np.testing.assert_allclose(qdot, 0.0, atol=1e-9)
    with pytest.raises(neurok.LatentError, match=r"\(P, 3\)"):
        fit_state(bound, moved[:, :2])
    # velocities of another shape, NaNs (an SVD or the integration failed on them), and an
    # observed state that is not a (positions, velocities) pair
    with pytest.raises(neurok.LatentError, match="velocities must be"):
        fit_state(bound, moved, np.zeros((10, 3)))
    for name, state in (("positions", (np.full_like(moved, np.nan), np.zeros_like(moved))),
                        ("velocities", (moved, np.full_like(moved, np.nan)))):  # fmt: skip
        with pytest.raises(neurok.LatentError, match=f"observed {name} contain NaN"):
            fit_state(bound, *state)
    with pytest.raises(neurok.LatentError, match="positions, velocities"):
        neurok.simulate(_model(), box, observed=(moved,), points=bound.rest[:48],
                        duration=0.1, progress=False)  # fmt: skip


def test_a_cube_landing_on_an_edge_spins_about_that_edge_only() -> None:
    """The shipped model: a 0.2 m jelly cube turned 30 degrees about y, dropped from 0.3 m,
    lands on the edge along y. The setup is mirror-symmetric across the xz plane, so after
    the bounce it spins about y and not about x: |w_x| < 0.1 |w_y| (measured 0.06 with the
    default contact samples, 0.01-0.03 with three other seeds; MPM 0.0). With area-uniform
    random contact samples the clump of samples on one side of the edge twists it: 0.31 with
    the default seed (0.03-0.16 with the others)."""
    from neurok.geometry import kabsch

    cube = mpm.Box(size=(0.2, 0.2, 0.2), center=(0.0, 0.0, 0.0),
                   rotation=(0.0, 30.0, 0.0)).surface_mesh()  # fmt: skip
    cube.apply_translation([0.0, 0.0, 0.3 - cube.bounds[0][2]])
    material = neurok.MaterialParams(E=68300.0, nu=0.333, density=739.0, viscosity=8.86)
    traj = neurok.simulate(neurok.load(), cube, material=material, duration=0.6, progress=False)
    surface = traj.tracks["object_surface"].positions.astype(np.float64)
    after = int(np.argmin(surface.mean(axis=1)[:, 2])) + 2  # two frames past the deepest
    R, _ = kabsch(surface[after] - surface[after].mean(axis=0),
                  surface[after + 1] - surface[after + 1].mean(axis=0))  # fmt: skip
    spin = np.array([R[2, 1] - R[1, 2], R[0, 2] - R[2, 0], R[1, 0] - R[0, 1]]) / 2 * 30  # rad/s
    assert abs(spin[1]) > 5.0, spin  # it does spin about the edge (measured 10.9 rad/s)
    assert abs(spin[0]) < 0.1 * abs(spin[1]), spin


def test_a_body_started_inside_the_floor_is_refused(box: trimesh.Trimesh) -> None:
    """The box (0.1 m tall) placed with its bottom 3 cm below the floor: the floor's spring
    would throw it out at several m/s (a half-buried cube emulated from a scene file left
    at 4.5 m/s), so simulate refuses it (SettingsError naming the depth), also when the
    start is an observed state. Resting 1 mm deep (under 1 % of the diagonal, the slack a
    placed mesh or a settled MPM frame needs) is accepted."""
    sunk = box.copy()
    sunk.apply_translation((0.0, 0.0, -0.5 + 0.05 - 0.03))
    with pytest.raises(neurok.SettingsError, match=r"0\.03 m below the ground"):
        neurok.simulate(_model(), sunk, duration=1 / 30, progress=False)
    points = np.asarray(sunk.vertices)
    with pytest.raises(neurok.SettingsError, match="the observed state reaches"):
        neurok.simulate(_model(), box, observed=(points, np.zeros_like(points)),
                        points=points, duration=1 / 30, progress=False)  # fmt: skip
    resting = box.copy()
    resting.apply_translation((0.0, 0.0, -0.5 + 0.05 - 0.001))
    traj = neurok.simulate(_model(), resting, duration=1 / 30, num_points=48,
                           contact_points=24, progress=False)  # fmt: skip
    assert traj.num_frames == 2


def test_simulate_and_fit_take_paths_and_shapes_and_refuse_malformed_arguments(
    box: trimesh.Trimesh, tmp_path
) -> None:
    """What a notebook user has at hand is taken: a checkpoint path for the model, a mesh file
    or an mpm shape for the rest mesh, one Sphere for the colliders (each gives the same
    trajectory as the objects themselves, to 1e-9 m). Malformed arguments are refused naming
    them: too few mass points (a ZeroDivisionError before), a text for a number (a bare
    TypeError), a mesh 200 m across (millimetres as metres; it was emulated), and a fit with
    zero iterations (a bare AssertionError)."""
    model = _model()
    checkpoint = tmp_path / "model.pt"
    neurok.save(model, checkpoint)
    mesh_file = tmp_path / "box.obj"
    box.export(mesh_file)
    shape = mpm.Box(size=(0.2, 0.15, 0.1), center=(0.0, 0.0, 0.5))
    settings = {"duration": 2 / 30, "num_points": 48, "contact_points": 24, "progress": False}
    sphere = mpm.colliders.Sphere(radius=0.03, center=(0.3, 0.0, 0.5), velocity=(-1.0, 0.0, 0.0))
    reference = neurok.simulate(model, box, colliders=[sphere], **settings)
    for given_model, given_mesh in ((str(checkpoint), box), (model, str(mesh_file)),
                                    (model, shape)):  # fmt: skip
        traj = neurok.simulate(given_model, given_mesh, colliders=sphere, **settings)
        np.testing.assert_allclose(traj.tracks["object"].positions,
                                   reference.tracks["object"].positions, atol=1e-9)  # fmt: skip
    for change, message in (({"num_points": 0}, "num_points must be a whole number >= 16"),
                            ({"fps": "30"}, "fps must be a number"),
                            ({"ground": "0"}, "ground must be a number"),
                            ({"duration": 0.001}, "gives no frame")):  # fmt: skip
        with pytest.raises(neurok.SettingsError, match=message):
            neurok.simulate(model, box, **{**settings, **change})
    huge = box.copy()
    huge.apply_scale(1000.0)
    with pytest.raises(neurok.MeshError, match="units millimetres"):
        neurok.simulate(model, huge, **settings)
    with pytest.raises(neurok.SettingsError, match="iterations must be a whole number >= 1"):
        neurok.fit(model, box, np.asarray(box.vertices), iterations=0)
