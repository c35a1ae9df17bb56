"""Generate the procedural body model shipped in ``assets/bodies/`` (deterministic).

Run from anywhere::

    python assets/make_body.py

Writes ``bodies/procedural_neutral.npz`` in the SMPL file layout, so the same loader reads it and a
real SMPL model. Like real SMPL files it is **Y-up** (the subject faces +z, its left is +x),
in metres, in the T-pose (arms horizontal along +-x, palms down), soles on the y = 0 plane.

Keys (V vertices, F faces, 24 joints of :data:`phygenhoi.skeleton.JOINT_NAMES`):

- ``v_template`` (V, 3) float64 [m]: one closed, watertight, outward-wound, manifold genus-0
  surface (it is used as a collision mesh): a smooth union of tapered capsules and ellipsoids
  along the bones, polygonised by marching tetrahedra, decimated and relaxed onto the implicit
  surface (the routines of ``assets/make_meshes.py``). Mitten hands, no face detail.
- ``f`` (F, 3) int64: triangles, counter-clockwise seen from outside.
- ``J`` (24, 3) float64 [m]: rest joint positions, inside the body; exactly
  ``J_regressor @ v_template``.
- ``kintree_table`` (2, 24) int64: row 0 the parents, **4294967295 for the root as in SMPL**
  (loaders must also accept -1), row 1 the joint indices 0..23.
- ``weights`` (V, 24) float64: linear-blend-skinning weights, >= 0, rows sum to 1, at most 4
  non-zeros per row (see :func:`skinning_weights`).
- ``J_regressor`` (24, V) float64: each row a convex combination (>= 0, sums to 1) of the
  vertices in a shell around its joint that reproduces the joint exactly
  (see :func:`joint_regressor`).
- ``shapedirs`` (V, 3, 2) float64 [m per unit beta]: beta 0 = height, +10 % per unit, a scaling
  of y about the soles (y = 0); beta 1 = girth, +10 % per unit, a radial scaling away from the
  bones, corrected so that it does not move the joints (see :func:`girth_direction`).
- ``posedirs`` (V, 3, 207) float64: zeros, the real SMPL layout; the procedural body has no
  pose-corrective blend shapes.
- ``joint_names`` (24,) str, ``shape_names`` (2,) str, ``provenance`` () str.

Proportions for a height H = 1.75 m follow the segment-length fractions of height of Drillis &
Contini (1966), as tabulated in D. A. Winter, *Biomechanics and Motor Control of Human Movement*,
fig. 4.1; every use is marked "D&C" next to the constant.

The archive is written with fixed zip timestamps, so the same code gives the same bytes.
"""

from __future__ import annotations

import io
import logging
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import trimesh
from scipy.interpolate import PchipInterpolator

from assets.make_meshes import decimate, marching_tetrahedra, relax
from phygenhoi.skeleton import JOINT_NAMES, NUM_JOINTS, PARENTS

log = logging.getLogger("emu4d.assets")

BODY_DIR = Path(__file__).resolve().parent / "bodies"
OUTPUT = BODY_DIR / "procedural_neutral.npz"
VERSION = "1.0"
PROVENANCE = (
    f"emu4d assets/make_body.py v{VERSION}: procedural neutral body (smooth union of capsules "
    "and ellipsoids, marching tetrahedra), SMPL file layout, Y-up, metres, T-pose. "
    "Not derived from SMPL data."
)

# --------------------------------------------------------------------------------------------
# Proportions (Y-up, metres; x = subject's left, z = forward).
# --------------------------------------------------------------------------------------------

H = 1.75  # stature [m]
Y_HIP = 0.530 * H  # D&C: greater-trochanter height, taken as the hip joint centre height
Y_KNEE = 0.285 * H  # D&C: knee height
Y_ANKLE = 0.039 * H  # D&C: ankle (malleolus) height
Y_ACROMION = 0.818 * H  # D&C: shoulder (acromion) height
Y_CHIN = 0.870 * H  # D&C: chin height
HIP_WIDTH = 0.191 * H  # D&C: hip (bitrochanteric) width
CHEST_WIDTH = 0.174 * H  # D&C: chest width
SHOULDER_WIDTH = 0.259 * H  # D&C: shoulder (biacromial) width
UPPER_ARM = 0.186 * H  # D&C: upper arm, acromion to elbow
FOREARM = 0.146 * H  # D&C: forearm, elbow to wrist
HAND = 0.108 * H  # D&C: hand, wrist to fingertip
FOOT_LENGTH = 0.152 * H  # D&C: foot length
FOOT_WIDTH = 0.055 * H  # D&C: foot width
HEAD_HEIGHT = H - Y_CHIN  # D&C: chin to crown, 0.130 H

X_HIP = 0.25 * HIP_WIDTH  # hip joint centres, medial of the trochanters (~0.084 m)
# Glenohumeral centres sit medial of and below the acromion, and the upper arm is measured from
# the joint; the fingertip-to-fingertip span is then ~1.02 H (adults: ~0.97-1.06 H).
X_SHOULDER = 0.5 * SHOULDER_WIDTH - 0.05  # ~0.177 m
Y_SHOULDER = Y_ACROMION - 0.035
L_UPPER_ARM = UPPER_ARM - 0.035  # joint-to-joint
Y_PELVIS = Y_HIP + 0.07  # SMPL puts the root joint a few cm above the hip centres
Y_NECK = 0.835 * H  # base of the neck (C7)
Y_HEAD = Y_CHIN + 0.25 * HEAD_HEIGHT  # head joint: top of the neck, behind the jaw


def _joint_positions() -> dict[str, tuple[float, float, float]]:
    """Designed rest joint centres, by name (the stored ``J`` is re-derived from the mesh)."""
    j: dict[str, tuple[float, float, float]] = {
        "pelvis": (0.0, Y_PELVIS, 0.0),
        "spine1": (0.0, Y_PELVIS + 0.23 * (Y_NECK - Y_PELVIS), -0.01),
        "spine2": (0.0, Y_PELVIS + 0.50 * (Y_NECK - Y_PELVIS), -0.01),
        "spine3": (0.0, Y_PELVIS + 0.63 * (Y_NECK - Y_PELVIS), -0.015),
        "neck": (0.0, Y_NECK, -0.02),
        "head": (0.0, Y_HEAD, 0.0),
    }
    for side, s in (("left", 1.0), ("right", -1.0)):
        x_elbow = X_SHOULDER + L_UPPER_ARM
        x_wrist = x_elbow + FOREARM
        j |= {
            f"{side}_hip": (s * X_HIP, Y_HIP, 0.0),
            f"{side}_knee": (s * X_HIP, Y_KNEE, 0.005),
            f"{side}_ankle": (s * X_HIP, Y_ANKLE, -0.01),
            f"{side}_foot": (s * (X_HIP + 0.01), 0.022, -0.01 + 0.5 * FOOT_LENGTH),  # ball
            f"{side}_collar": (s * 0.07, Y_SHOULDER + 0.02, -0.02),
            f"{side}_shoulder": (s * X_SHOULDER, Y_SHOULDER, -0.01),
            f"{side}_elbow": (s * x_elbow, Y_SHOULDER, -0.01),
            f"{side}_wrist": (s * x_wrist, Y_SHOULDER, -0.01),
            f"{side}_hand": (s * (x_wrist + 0.4 * HAND), Y_SHOULDER, -0.01),  # knuckles
        }
    return j


# --------------------------------------------------------------------------------------------
# Shapes: approximate signed distances (negative inside) of points (N, 3) -> (N,) [m].
# --------------------------------------------------------------------------------------------

Vec = tuple[float, float, float]


def _ellipse_distance(u: np.ndarray, radii: np.ndarray) -> np.ndarray:
    """First-order signed distance to an ellipse/ellipsoid at the origin, exact on its axes.

    ``u`` (N, D) offsets from the centre, ``radii`` (D,) or (N, D) semi-axes; returns (N,).
    """
    k0 = np.linalg.norm(u / radii, axis=1)
    k1 = np.linalg.norm(u / radii**2, axis=1)
    return k0 * (k0 - 1.0) / np.maximum(k1, 1e-12)


def _smooth_min(a: np.ndarray, b: np.ndarray, k: float) -> np.ndarray:
    """Polynomial smooth minimum (union) of two fields, blending within distance k."""
    h = np.clip(0.5 + 0.5 * (b - a) / k, 0.0, 1.0)
    return b * (1.0 - h) + a * h - k * h * (1.0 - h)


def _smooth_max(a: np.ndarray, b: np.ndarray, k: float) -> np.ndarray:
    """Polynomial smooth maximum (intersection) of two fields."""
    return -_smooth_min(-a, -b, k)


@dataclass(frozen=True)
class Capsule:
    """Tapered capsule from ``a`` (radius ``ra``) to ``b`` (radius ``rb``) [m]."""

    a: Vec
    b: Vec
    ra: float
    rb: float

    def distance(self, p: np.ndarray) -> np.ndarray:
        a, ab = np.asarray(self.a), np.asarray(self.b) - np.asarray(self.a)
        t = np.clip((p - a) @ ab / (ab @ ab), 0.0, 1.0)
        radius = self.ra + t * (self.rb - self.ra)
        return np.linalg.norm(p - (a + t[:, None] * ab), axis=1) - radius


@dataclass(frozen=True)
class Ellipsoid:
    """Axis-aligned ellipsoid [m]."""

    centre: Vec
    radii: Vec

    def distance(self, p: np.ndarray) -> np.ndarray:
        return _ellipse_distance(p - np.asarray(self.centre), np.asarray(self.radii))


@dataclass(frozen=True)
class Loft:
    """The torso: elliptic cross-sections in the xz plane swept along y, capped at both ends.

    ``profile`` rows are (y, half-width along x, half-depth along z, centre z) [m], interpolated
    by a monotone cubic (PCHIP) so the surface is smooth.
    """

    profile: tuple[tuple[float, float, float, float], ...]

    def distance(self, p: np.ndarray) -> np.ndarray:
        table = np.array(self.profile)
        y0, y1 = table[0, 0], table[-1, 0]
        sections = PchipInterpolator(table[:, 0], table[:, 1:])(np.clip(p[:, 1], y0, y1))
        u = np.stack([p[:, 0], p[:, 2] - sections[:, 2]], 1)
        side = _ellipse_distance(u, sections[:, :2])
        return _smooth_max(_smooth_max(side, y0 - p[:, 1], 0.02), p[:, 1] - y1, 0.02)


Shape = Capsule | Ellipsoid | Loft


@dataclass(frozen=True)
class Part:
    """A shape owned by the joint whose rotation moves it.

    ``limits`` are half-spaces (point, unit normal): for the skinning weights only, the part's
    distance grows by ``WEIGHT_FADE`` x the depth into each, so the part fades out beyond the
    joints that bound it. ``geometry`` False: a weights-only part (the torso is one shape, sliced
    between the spine joints).
    """

    joint: str
    shape: Shape
    limits: tuple[tuple[Vec, Vec], ...] = ()
    geometry: bool = True

    def weight_distance(self, p: np.ndarray) -> np.ndarray:
        """Distance (N,) [m] used by :func:`skinning_weights`."""
        d = self.shape.distance(p)
        for point, normal in self.limits:
            d = d + WEIGHT_FADE * np.maximum((p - np.asarray(point)) @ np.asarray(normal), 0.0)
        return d


def _unit(a: Vec, b: Vec) -> Vec:
    d = np.asarray(b) - np.asarray(a)
    x, y, z = (d / np.linalg.norm(d)).tolist()
    return (x, y, z)


def _neg(u: Vec) -> Vec:
    return (-u[0], -u[1], -u[2])


def _add(p: Vec, d: Vec) -> Vec:
    return (p[0] + d[0], p[1] + d[1], p[2] + d[2])


def _bone(joint: Vec, child: Vec) -> tuple[tuple[Vec, Vec], ...]:
    """Limits of a limb part: fades behind ``joint`` and beyond ``child`` along the bone."""
    u = _unit(joint, child)
    return ((joint, _neg(u)), (child, u))


UP: Vec = (0.0, 1.0, 0.0)
DOWN: Vec = (0.0, -1.0, 0.0)

# Torso cross-sections (y, half-width, half-depth, centre z) [m]: crotch at 0.46 H, hips at the
# D&C hip width 0.191 H, waist, chest at the D&C chest width 0.174 H, armpits, shoulder girdle.
TORSO_PROFILE: tuple[tuple[float, float, float, float], ...] = (
    (0.800, 0.090, 0.070, -0.005),
    (0.860, 0.150, 0.100, -0.010),
    (Y_HIP, 0.5 * HIP_WIDTH, 0.112, -0.015),
    (1.000, 0.158, 0.108, -0.010),
    (1.080, 0.138, 0.100, 0.000),
    (1.180, 0.142, 0.103, 0.000),
    (1.280, 0.5 * CHEST_WIDTH, 0.112, -0.005),
    (1.360, 0.160, 0.112, -0.012),
    (1.420, 0.145, 0.092, -0.020),
    (1.465, 0.090, 0.065, -0.025),
)


def body_parts(j: dict[str, Vec]) -> list[Part]:
    """The parts of the body (metres); limb radii from typical adult girths."""
    torso = Loft(TORSO_PROFILE)
    hip_level: Vec = (0.0, Y_HIP - 0.03, 0.0)
    parts = [
        Part("pelvis", torso, ((j["spine1"], UP), (hip_level, DOWN))),
        Part("spine1", torso, ((j["spine1"], DOWN), (j["spine2"], UP)), geometry=False),
        Part("spine2", torso, ((j["spine2"], DOWN), (j["spine3"], UP)), geometry=False),
        Part("spine3", torso, ((j["spine3"], DOWN),), geometry=False),
        Part(
            "neck",
            Capsule((0.0, Y_NECK - 0.03, -0.03), (0.0, Y_HEAD + 0.01, -0.005), 0.06, 0.055),
            ((j["neck"], DOWN), (j["head"], UP)),
        ),
        # head: D&C chin-to-crown height, ~0.155 m wide, ~0.195 m deep; and the jaw
        Part(
            "head",
            Ellipsoid((0.0, H - 0.5 * HEAD_HEIGHT, 0.01), (0.077, 0.5 * HEAD_HEIGHT, 0.097)),
            ((j["head"], DOWN),),
        ),
        Part(
            "head",
            Ellipsoid((0.0, Y_CHIN + 0.035, 0.045), (0.055, 0.04, 0.05)),
            ((j["head"], DOWN),),
        ),
    ]
    for side, s in (("left", 1.0), ("right", -1.0)):
        hip, knee, ankle, foot = (j[f"{side}_{n}"] for n in ("hip", "knee", "ankle", "foot"))
        collar, shoulder, elbow, wrist, hand = (
            j[f"{side}_{n}"] for n in ("collar", "shoulder", "elbow", "wrist", "hand")
        )
        x_foot = s * (X_HIP + 0.005)
        out: Vec = (s, 0.0, 0.0)
        parts += [
            # trapezius / shoulder girdle from the neck base to the shoulder
            Part(
                f"{side}_collar",
                Capsule(
                    (s * 0.03, Y_SHOULDER, -0.025),
                    (s * (X_SHOULDER - 0.02), Y_SHOULDER, -0.015),
                    0.06,
                    0.05,
                ),
                ((collar, _neg(out)), (shoulder, out)),
            ),
            Part(
                f"{side}_shoulder", Capsule(shoulder, elbow, 0.054, 0.041), _bone(shoulder, elbow)
            ),
            Part(f"{side}_elbow", Capsule(elbow, wrist, 0.041, 0.028), _bone(elbow, wrist)),
            # palm and fingers (a mitten), palm facing down
            Part(
                f"{side}_wrist",
                Ellipsoid(_add(wrist, (s * 0.045, -0.002, 0.0)), (0.055, 0.02, 0.043)),
                _bone(wrist, hand),
            ),
            Part(
                f"{side}_hand",
                Ellipsoid(_add(hand, (s * 0.05, -0.003, 0.0)), (0.065, 0.016, 0.042)),
                ((hand, _neg(out)),),
            ),
            Part(f"{side}_hip", Capsule(hip, knee, 0.082, 0.052), _bone(hip, knee)),
            Part(f"{side}_knee", Capsule(knee, ankle, 0.052, 0.034), _bone(knee, ankle)),
            Part(
                f"{side}_knee",  # calf
                Ellipsoid((s * X_HIP, Y_KNEE - 0.14, -0.02), (0.05, 0.11, 0.055)),
                _bone(knee, ankle),
            ),
            # foot (D&C length and width): heel and midfoot on the ankle, toes on the foot joint
            Part(
                f"{side}_ankle",
                Ellipsoid((x_foot, 0.045, 0.025), (0.5 * FOOT_WIDTH - 0.002, 0.045, 0.095)),
                ((ankle, UP), (foot, (0.0, 0.0, 1.0))),
            ),
            Part(
                f"{side}_foot",
                Ellipsoid((x_foot, 0.024, 0.15), (0.5 * FOOT_WIDTH, 0.026, 0.068)),
                ((foot, (0.0, 0.0, -1.0)),),
            ),
        ]
    return parts


SMOOTH_K = 0.025  # blending radius of the smooth union [m]
SOLE_K = 0.008  # rounding of the sole edge [m]
WEIGHT_FADE = 1.0  # growth of a part's weight distance per metre beyond its bounding joints
WEIGHT_SCALE = 0.015  # [m] skinning weight ~ exp(-(distance - nearest distance) / WEIGHT_SCALE)
MAX_INFLUENCES = 4  # non-zero skinning weights per vertex
MIDLINE = 0.02  # [m] limbs of one side fade to zero weight over |x| < MIDLINE


def make_field(parts: list[Part]) -> Callable[[np.ndarray], np.ndarray]:
    """The body's implicit function (N, 3) -> (N,) [m], negative inside, ~ a distance.

    Smooth union of the geometry parts, intersected (smoothly) with the half-space y >= 0 so the
    soles are flat and on the ground plane.
    """
    shapes = [part.shape for part in parts if part.geometry]

    def field(points: np.ndarray) -> np.ndarray:
        out = shapes[0].distance(points)
        for shape in shapes[1:]:
            out = _smooth_min(out, shape.distance(points), SMOOTH_K)
        return _smooth_max(out, -points[:, 1], SOLE_K)

    return field


# --------------------------------------------------------------------------------------------
# Mesh.
# --------------------------------------------------------------------------------------------


def make_mesh(parts: list[Part], h: float = 0.008, target_faces: int = 11000) -> trimesh.Trimesh:
    """Polygonise the body on a grid of spacing ``h`` [m], decimate, relax onto the surface.

    Raises:
        RuntimeError: the result is not one closed, outward-wound, genus-0 manifold.
    """
    field = make_field(parts)
    lo, hi = np.array([-0.96, -0.03, -0.16]), np.array([0.96, H + 0.03, 0.27])
    axes = [np.arange(a, b + h, h) for a, b in zip(lo, hi, strict=True)]
    grid = np.stack(np.meshgrid(*axes, indexing="ij"), -1)
    values = field(grid.reshape(-1, 3)).reshape(grid.shape[:3])
    border = np.ones(values.shape, dtype=bool)
    border[1:-1, 1:-1, 1:-1] = False
    if (values[border] < 0).any():
        raise RuntimeError("the body touches the sampling box; enlarge lo/hi")
    vertices, faces = marching_tetrahedra(values, lo, h)
    vertices, faces = decimate(vertices, faces, target_faces)
    vertices = relax(vertices, faces, field)
    mesh = trimesh.Trimesh(vertices, faces, process=False)
    problems = []
    if not (mesh.is_watertight and mesh.is_winding_consistent and mesh.volume > 0):
        problems.append("not a closed outward-wound surface")
    if mesh.euler_number != 2 or mesh.body_count != 1:
        problems.append(f"euler {mesh.euler_number}, bodies {mesh.body_count} (want genus 0)")
    if (mesh.area_faces <= 1e-10).any():
        problems.append("degenerate faces")
    if problems:
        raise RuntimeError("body mesh: " + ", ".join(problems))
    return mesh


# --------------------------------------------------------------------------------------------
# Skinning weights, joint regressor, shape blend shapes.
# --------------------------------------------------------------------------------------------


def skinning_weights(vertices: np.ndarray, parts: list[Part]) -> np.ndarray:
    """Linear-blend-skinning weights (V, 24): >= 0, rows sum to 1, <= MAX_INFLUENCES non-zeros.

    Each joint's distance is that of its nearest part, grown beyond the joints bounding the part
    (``Part.limits``), so a vertex follows the bone it lies on and blends with the neighbouring
    bone within a few centimetres of the joint: w_j ~ exp(-(d_j - min_k d_k) / WEIGHT_SCALE).
    Limbs of one side never move vertices of the other side (fade over |x| < MIDLINE).
    """
    n = len(vertices)
    dist = np.full((n, NUM_JOINTS), np.inf)
    for part in parts:
        j = JOINT_NAMES.index(part.joint)
        dist[:, j] = np.minimum(dist[:, j], part.weight_distance(vertices))
    w = np.exp(-(dist - dist.min(1, keepdims=True)) / WEIGHT_SCALE)
    for j, name in enumerate(JOINT_NAMES):
        side = 1.0 if name.startswith("left_") else -1.0 if name.startswith("right_") else 0.0
        if side:
            w[:, j] *= np.clip(0.5 + 0.5 * side * vertices[:, 0] / MIDLINE, 0.0, 1.0)
    # keep the MAX_INFLUENCES largest, drop negligible ones, renormalise
    order = np.argsort(-w, axis=1, kind="stable")
    keep = np.zeros_like(w, dtype=bool)
    np.put_along_axis(keep, order[:, :MAX_INFLUENCES], True, axis=1)
    w = np.where(keep, w, 0.0)
    w /= w.sum(1, keepdims=True)
    w = np.where(w < 1e-3, 0.0, w)
    return w / w.sum(1, keepdims=True)


def _max_entropy_weights(
    points: np.ndarray, target: np.ndarray, prior: np.ndarray
) -> np.ndarray | None:
    """Weights w (N,) >= 0, sum 1, with sum w_i p_i = target, closest to ``prior`` in KL.

    w_i ~ prior_i exp(lambda . (p_i - target)); lambda (3,) by Newton's method on the convex dual
    log sum_i prior_i exp(lambda . u_i). None when ``target`` is not inside the convex hull of
    ``points`` (N, 3).
    """
    scale = np.abs(points - target).max()
    u = (points - target) / scale
    lam = np.zeros(3)

    def dual(lam: np.ndarray) -> tuple[float, np.ndarray]:
        e = u @ lam
        shift = e.max()
        w = prior * np.exp(e - shift)
        return float(np.log(w.sum()) + shift), w / w.sum()

    value, w = dual(lam)
    for _ in range(100):
        g = w @ u
        if np.linalg.norm(g) < 1e-14:
            return w
        hess = (u * w[:, None]).T @ u - np.outer(g, g)
        try:
            step = -np.linalg.solve(hess + 1e-15 * np.eye(3), g)
        except np.linalg.LinAlgError:
            return None
        t = 1.0
        while t > 1e-10:
            new_value, new_w = dual(lam + t * step)
            if new_value <= value + 1e-4 * t * (g @ step):
                break
            t *= 0.5
        else:
            return None
        lam, value, w = lam + t * step, new_value, new_w
    return w if np.linalg.norm(w @ u) < 1e-12 else None


def joint_regressor(vertices: np.ndarray, joints: np.ndarray) -> np.ndarray:
    """Joint regressor (24, V) with ``regressor @ vertices == joints`` (to rounding).

    Row j: the vertices in the shell d_j <= d_min + width around joint j (d_min its depth below
    the surface, width = 0.5 d_min + 1 cm, widened by 1.5x until the shell surrounds the joint),
    with a Gaussian prior on d_j - d_min, tilted by maximum entropy so their weighted mean is the
    joint exactly: every row is non-negative and sums to 1, so the regressor commutes with
    translations and scalings of the mesh.
    """
    reg = np.zeros((len(joints), len(vertices)))
    for j, joint in enumerate(joints):
        d = np.linalg.norm(vertices - joint, axis=1)
        d_min = d.min()
        width = 0.5 * d_min + 0.01
        for _ in range(12):
            sel = np.flatnonzero(d <= d_min + width)
            prior = np.exp(-(((d[sel] - d_min) / (0.5 * width)) ** 2))
            w = _max_entropy_weights(vertices[sel], joint, prior)
            if w is not None:
                break
            width *= 1.5
        else:
            raise RuntimeError(f"no vertex shell surrounds joint {JOINT_NAMES[j]}")
        w = np.where(w < 1e-8, 0.0, w)
        reg[j, sel] = w / w.sum()
    return reg


def girth_axes(joints: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    """The line (point, unit direction) of each joint's bone, from which girth is measured."""
    axes = []
    for j, name in enumerate(JOINT_NAMES):
        side = 1.0 if name.startswith("left_") else -1.0
        if name.endswith(("hip", "knee")):
            u = np.array(DOWN)
        elif name.endswith(("collar", "shoulder", "elbow", "wrist", "hand")):
            u = np.array([side, 0.0, 0.0])
        elif name.endswith("ankle"):
            u = joints[j + 3] - joints[j]  # ankle -> foot (ball)
        elif name.endswith("foot"):
            u = np.array([0.0, 0.0, 1.0])
        else:  # pelvis, spine, neck, head
            u = np.array(UP)
        axes.append((joints[j], u / np.linalg.norm(u)))
    return axes


def girth_direction(
    vertices: np.ndarray, weights: np.ndarray, joints: np.ndarray, regressor: np.ndarray
) -> np.ndarray:
    """Girth blend shape (V, 3) [m per unit beta]: +10 % of each vertex's distance from its bones.

    d_i = 0.1 sum_j w_ij (v_i - line_j(v_i)), then the smallest correction (least squares) that
    makes ``regressor @ d == 0``: a thicker body on the same skeleton.
    """
    d = np.zeros_like(vertices)
    for j, (point, u) in enumerate(girth_axes(joints)):
        rel = vertices - point
        radial = rel - (rel @ u)[:, None] * u
        d += weights[:, j : j + 1] * radial
    d *= 0.1
    gram = regressor @ regressor.T
    return d - regressor.T @ np.linalg.solve(gram, regressor @ d)


# --------------------------------------------------------------------------------------------
# Output.
# --------------------------------------------------------------------------------------------


def write_npz(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """Write an ``.npz`` (deflated) with fixed timestamps: same arrays, same bytes.

    Written to a temporary name, then renamed.
    """
    tmp = path.with_name(path.name + ".tmp")
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, array in arrays.items():
            buffer = io.BytesIO()
            np.lib.format.write_array(buffer, np.asarray(array), allow_pickle=False)
            info = zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, buffer.getvalue())
    tmp.replace(path)


def make_body() -> dict[str, np.ndarray]:
    """Build every array of the body model (see the module docstring)."""
    designed = _joint_positions()
    parts = body_parts(designed)
    mesh = make_mesh(parts)
    vertices, faces = np.asarray(mesh.vertices), np.asarray(mesh.faces, dtype=np.int64)
    joints = np.array([designed[name] for name in JOINT_NAMES])
    if not mesh.contains(joints).all():
        outside = [n for n, c in zip(JOINT_NAMES, mesh.contains(joints), strict=True) if not c]
        raise RuntimeError(f"joints outside the body: {outside}")
    weights = skinning_weights(vertices, parts)
    regressor = joint_regressor(vertices, joints)
    joints = regressor @ vertices  # equal to the designed joints to ~1e-13, now exactly
    height = np.zeros_like(vertices)
    height[:, 1] = 0.1 * vertices[:, 1]  # +10 % per unit beta, about the soles (y = 0)
    girth = girth_direction(vertices, weights, joints, regressor)
    parents = PARENTS.copy()
    parents[0] = 4294967295  # the SMPL files' "no parent"
    return {
        "v_template": vertices,
        "f": faces,
        "J": joints,
        "kintree_table": np.stack([parents, np.arange(NUM_JOINTS)]).astype(np.int64),
        "weights": weights,
        "J_regressor": regressor,
        "shapedirs": np.stack([height, girth], -1),
        "posedirs": np.zeros((len(vertices), 3, 9 * (NUM_JOINTS - 1))),
        "joint_names": np.array(JOINT_NAMES),
        "shape_names": np.array(["height", "girth"]),
        "provenance": np.array(PROVENANCE),
    }


def main() -> None:
    """Build and write ``bodies/procedural_neutral.npz``."""
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    body = make_body()
    BODY_DIR.mkdir(parents=True, exist_ok=True)
    write_npz(OUTPUT, body)
    log.info(
        "wrote %s: %d vertices, %d faces, %.3f m tall, %.0f kB",
        OUTPUT,
        len(body["v_template"]),
        len(body["f"]),
        np.ptp(body["v_template"][:, 1]),
        OUTPUT.stat().st_size / 1e3,
    )


if __name__ == "__main__":
    main()
