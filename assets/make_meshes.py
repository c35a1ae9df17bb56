"""Generate the procedural meshes shipped in ``assets/meshes/`` (deterministic).

Run from anywhere::

    python assets/make_meshes.py

Writes:

- ``bunny.obj``: a rabbit (body, haunches, paws, head, snout, two long ears, tail) built as a
  smooth union of ellipsoids, polygonised with marching tetrahedra, decimated by shortest-edge
  collapse and relaxed onto the implicit surface. About 1 unit tall, bounding box centred at the
  origin, Z up, facing +X. Closed, watertight, manifold, genus 0, < 4000 faces.
- ``star_prism.obj``: a 5-point star extruded along Z (outer radius 0.5, inner radius 0.2,
  height 0.3), centred at the origin, subdivided so no edge is longer than 0.06.

No third-party code beyond numpy/scipy/trimesh: the marching-tetrahedra polygoniser and the
decimator are written here because scikit-image (trimesh's marching cubes backend) is not a
dependency of the project.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Callable
from pathlib import Path

import numpy as np
import trimesh

MESH_DIR = Path(__file__).resolve().parent / "meshes"

Field = Callable[[np.ndarray], np.ndarray]  # implicit function, (N, 3) -> (N,), < 0 inside

# --------------------------------------------------------------------------------------------
# Implicit bunny: smooth union of ellipsoids (negative inside).
# --------------------------------------------------------------------------------------------

# (centre xyz, radii xyz, rotation about x [deg], rotation about y [deg]) in pre-normalised units.
_BUNNY_PARTS: tuple[tuple[tuple[float, ...], tuple[float, ...], float, float], ...] = (
    ((0.00, 0.00, 0.28), (0.34, 0.26, 0.27), 0.0, 0.0),  # body
    ((0.16, 0.00, 0.38), (0.18, 0.17, 0.20), 0.0, -20.0),  # chest
    ((-0.10, 0.15, 0.20), (0.24, 0.12, 0.19), 0.0, 0.0),  # left haunch
    ((-0.10, -0.15, 0.20), (0.24, 0.12, 0.19), 0.0, 0.0),  # right haunch
    ((-0.02, 0.17, 0.04), (0.20, 0.07, 0.045), 0.0, 0.0),  # left hind foot
    ((-0.02, -0.17, 0.04), (0.20, 0.07, 0.045), 0.0, 0.0),  # right hind foot
    ((0.27, 0.09, 0.05), (0.11, 0.05, 0.05), 0.0, 0.0),  # left front paw
    ((0.27, -0.09, 0.05), (0.11, 0.05, 0.05), 0.0, 0.0),  # right front paw
    ((0.30, 0.00, 0.63), (0.19, 0.155, 0.16), 0.0, -10.0),  # head
    ((0.45, 0.00, 0.58), (0.09, 0.09, 0.08), 0.0, 0.0),  # snout
    ((0.20, 0.075, 0.93), (0.05, 0.08, 0.25), -12.0, -15.0),  # left ear
    ((0.20, -0.075, 0.93), (0.05, 0.08, 0.25), 12.0, -15.0),  # right ear
    ((-0.36, 0.00, 0.34), (0.08, 0.08, 0.08), 0.0, 0.0),  # tail
)
_SMOOTH_K = 0.045  # blending radius of the smooth union [pre-normalised units]


def _rot_xy(ax_deg: float, ay_deg: float) -> np.ndarray:
    """Rotation R = Ry @ Rx (degrees), shape (3, 3)."""
    a, b = np.radians(ax_deg), np.radians(ay_deg)
    rx = np.array([[1, 0, 0], [0, np.cos(a), -np.sin(a)], [0, np.sin(a), np.cos(a)]])
    ry = np.array([[np.cos(b), 0, np.sin(b)], [0, 1, 0], [-np.sin(b), 0, np.cos(b)]])
    return ry @ rx


def _ellipsoid_distance(p: np.ndarray, radii: np.ndarray) -> np.ndarray:
    """Approximate signed distance to an axis-aligned ellipsoid at the origin, (N, 3) -> (N,).

    First-order estimate f/|grad f| with f = |p/r| - 1, scaled so it is exact on the axes.
    """
    k0 = np.linalg.norm(p / radii, axis=1)
    k1 = np.linalg.norm(p / radii**2, axis=1)
    return k0 * (k0 - 1.0) / np.maximum(k1, 1e-12)


def _smooth_min(a: np.ndarray, b: np.ndarray, k: float) -> np.ndarray:
    """Polynomial smooth minimum: blends the two fields within distance k of each other."""
    h = np.clip(0.5 + 0.5 * (b - a) / k, 0.0, 1.0)
    return b * (1.0 - h) + a * h - k * h * (1.0 - h)


def bunny_field(points: np.ndarray) -> np.ndarray:
    """Implicit bunny, (N, 3) -> (N,), negative inside, approximately a distance."""
    parts = [
        _ellipsoid_distance((points - np.asarray(c)) @ _rot_xy(ax, ay), np.asarray(r))
        for c, r, ax, ay in _BUNNY_PARTS  # (points - c) @ R maps world to the part frame
    ]
    out = parts[0]
    for d in parts[1:]:
        out = _smooth_min(out, d, _SMOOTH_K)
    return out


# --------------------------------------------------------------------------------------------
# Marching tetrahedra on a Freudenthal (Kuhn) subdivision of the cube grid.
# --------------------------------------------------------------------------------------------

# The six tetrahedra of a unit cube that share its main diagonal; the same split in every cube
# makes the face diagonals of neighbouring cubes coincide, so the surface is closed.
_KUHN_PERMS = ((0, 1, 2), (0, 2, 1), (1, 0, 2), (1, 2, 0), (2, 0, 1), (2, 1, 0))


def marching_tetrahedra(
    field: np.ndarray, origin: np.ndarray, h: float
) -> tuple[np.ndarray, np.ndarray]:
    """Polygonise the zero level set of a grid field (negative inside).

    Args:
        field: (nx, ny, nz) samples at origin + h * (i, j, k).
        origin: (3,) position of sample (0, 0, 0).
        h: grid spacing.

    Returns:
        vertices (V, 3) float64 and faces (F, 3) int64, outward-wound; vertices are shared by
        grid edge, so the mesh is closed and manifold when the level set stays inside the grid.
    """
    f = np.where(field == 0.0, 1e-12, field)  # no sample exactly on the surface
    shape = np.array(f.shape)
    ijk = np.stack(np.meshgrid(*[np.arange(n - 1) for n in shape], indexing="ij"), -1)
    ijk = ijk.reshape(-1, 3)
    strides = np.array([shape[1] * shape[2], shape[2], 1])
    flat = f.ravel()

    tets = []
    for perm in _KUHN_PERMS:
        corner = np.zeros(3, dtype=np.int64)
        nodes = [ijk @ strides]
        for axis in perm:
            corner[axis] = 1
            nodes.append((ijk + corner) @ strides)
        tets.append(np.stack(nodes, 1))
    tets = np.concatenate(tets)
    inside = flat[tets] < 0.0
    n_in = inside.sum(1)
    tets, inside = tets[(n_in > 0) & (n_in < 4)], inside[(n_in > 0) & (n_in < 4)]

    # Each triangle: its three crossed edges (node pairs) and the nodes it separates.
    edges: list[tuple[int, int, int, int, int, int]] = []
    sides: list[tuple[int, int]] = []  # (an inside node, an outside node)
    for tet, ins in zip(tets.tolist(), inside.tolist(), strict=True):
        a = [n for n, is_in in zip(tet, ins, strict=True) if is_in]
        b = [n for n, is_in in zip(tet, ins, strict=True) if not is_in]
        if len(a) == 1 or len(b) == 1:
            one, rest = (a[0], b) if len(a) == 1 else (b[0], a)
            edges.append((one, rest[0], one, rest[1], one, rest[2]))
            sides.append((a[0], b[0]))
        else:
            (p, q), (r, s) = a, b  # quad pr, ps, qs, qr split along pr-qs
            edges += [(p, r, p, s, q, s), (p, r, q, s, q, r)]
            sides += [(a[0], b[0])] * 2
    pairs = np.array(edges, dtype=np.int64).reshape(-1, 2)
    pairs.sort(axis=1)
    keys, inverse = np.unique(pairs[:, 0] * flat.size + pairs[:, 1], return_inverse=True)
    n0, n1 = keys // flat.size, keys % flat.size
    f0, f1 = flat[n0], flat[n1]
    t = np.clip(f0 / (f0 - f1), 0.05, 0.95)  # clamp: no two edge vertices coincide

    def node_pos(n: np.ndarray) -> np.ndarray:
        return origin + h * np.stack(np.unravel_index(n, f.shape), -1)

    p0, p1 = node_pos(n0), node_pos(n1)
    vertices = p0 + t[:, None] * (p1 - p0)
    faces = inverse.reshape(-1, 3).astype(np.int64)

    # Orient each triangle so its normal points from the inside node to the outside one (the
    # triangle's plane separates the tetrahedron's inside nodes from its outside nodes).
    in_out = np.array(sides, dtype=np.int64)
    c_in, c_out = node_pos(in_out[:, 0]), node_pos(in_out[:, 1])
    tri = vertices[faces]
    normal = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    flip = np.einsum("ij,ij->i", normal, c_out - c_in) < 0.0
    faces[flip] = faces[flip][:, ::-1]
    return vertices, faces


# --------------------------------------------------------------------------------------------
# Decimation by shortest-edge collapse (topology preserving) and relaxation.
# --------------------------------------------------------------------------------------------


def _sub(a: tuple[float, ...], b: tuple[float, ...]) -> tuple[float, float, float]:
    return (a[0] - b[0], a[1] - b[1], a[2] - b[2])


def _cross(a: tuple[float, ...], b: tuple[float, ...]) -> tuple[float, float, float]:
    return (a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0])


def _dot(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    return a[0] * b[0] + a[1] * b[1] + a[2] * b[2]


def decimate(
    vertices: np.ndarray, faces: np.ndarray, target_faces: int
) -> tuple[np.ndarray, np.ndarray]:
    """Collapse the shortest edges until at most ``target_faces`` remain.

    An edge (u, v) is collapsed to its midpoint only if it passes the link condition (the
    neighbourhoods of u and v share exactly the two opposite vertices, which keeps the surface
    manifold with the same genus) and no surrounding triangle flips or degenerates. Plain Python
    floats: the per-collapse work is on a handful of 3-vectors, where numpy is slower.

    Returns:
        vertices (V', 3) float64 and faces (F', 3) int64, compacted.
    """
    pos: list[tuple[float, ...]] = [tuple(p) for p in vertices.tolist()]
    tris: list[list[int] | None] = [list(t) for t in faces.tolist()]
    vfaces: list[set[int]] = [set() for _ in pos]
    for fi, t in enumerate(tris):
        for v in t:
            vfaces[v].add(fi)
    alive_faces = len(tris)

    def neighbours(v: int) -> set[int]:
        out: set[int] = set()
        for fi in vfaces[v]:
            out.update(tris[fi])
        out.discard(v)
        return out

    def length(u: int, v: int) -> float:
        return math.dist(pos[u], pos[v])

    heap = [
        (length(a, b), a, b)
        for t in faces.tolist()
        for a, b in ((t[0], t[1]), (t[1], t[2]), (t[2], t[0]))
        if a < b
    ]
    heapq.heapify(heap)

    while alive_faces > target_faces and heap:
        d, u, v = heapq.heappop(heap)
        if not vfaces[u] or not vfaces[v]:
            continue
        shared = vfaces[u] & vfaces[v]
        if len(shared) != 2:
            continue  # the edge no longer exists
        if length(u, v) != d:
            heapq.heappush(heap, (length(u, v), u, v))  # stale entry: re-queue
            continue
        opposite = {w for fi in shared for w in tris[fi]} - {u, v}
        if neighbours(u) & neighbours(v) != opposite:
            continue  # link condition fails: the collapse would pinch the surface
        new = tuple(0.5 * (a + b) for a, b in zip(pos[u], pos[v], strict=True))
        ok = True
        for fi in (vfaces[u] | vfaces[v]) - shared:
            old = [pos[w] for w in tris[fi]]
            moved = [new if w in (u, v) else pos[w] for w in tris[fi]]
            n_old = _cross(_sub(old[1], old[0]), _sub(old[2], old[0]))
            n_new = _cross(_sub(moved[1], moved[0]), _sub(moved[2], moved[0]))
            norm_old, norm_new = math.sqrt(_dot(n_old, n_old)), math.sqrt(_dot(n_new, n_new))
            if norm_new < 1e-14 or _dot(n_old, n_new) < 0.3 * norm_old * norm_new:
                ok = False  # a neighbouring triangle would flip or degenerate
                break
        if not ok:
            continue
        pos[u] = new
        for fi in shared:
            for w in tris[fi]:
                vfaces[w].discard(fi)
            tris[fi] = None
            alive_faces -= 1
        for fi in vfaces[v]:
            tris[fi] = [u if w == v else w for w in tris[fi]]
            vfaces[u].add(fi)
        vfaces[v] = set()
        for w in neighbours(u):
            heapq.heappush(heap, (length(u, w), min(u, w), max(u, w)))

    kept = np.array([t for t in tris if t is not None], dtype=np.int64)
    used = np.unique(kept)
    remap = np.full(len(pos), -1, dtype=np.int64)
    remap[used] = np.arange(len(used))
    return np.array(pos)[used], remap[kept]


def project_to_surface(points: np.ndarray, field: Field, iterations: int = 4) -> np.ndarray:
    """Newton steps p <- p - f(p) grad f / |grad f|^2 onto the zero level set, (N, 3)."""
    p = points.copy()
    eps = 1e-4
    offsets = np.eye(3) * eps
    for _ in range(iterations):
        f = field(p)
        grad = np.stack([(field(p + o) - field(p - o)) / (2 * eps) for o in offsets], 1)
        p -= (f / np.maximum((grad**2).sum(1), 1e-12))[:, None] * grad
    return p


def relax(
    vertices: np.ndarray, faces: np.ndarray, field: Field, iterations: int = 5
) -> np.ndarray:
    """Move each vertex halfway to its neighbours' mean, then back onto the surface (N, 3).

    This evens out triangle sizes left by the decimation without changing the topology.
    """
    mesh = trimesh.Trimesh(vertices, faces, process=False)
    lap = trimesh.smoothing.laplacian_calculation(mesh, equal_weight=True)
    v = vertices.copy()
    for _ in range(iterations):
        v = project_to_surface(0.5 * v + 0.5 * (lap @ v), field)
    return v


# --------------------------------------------------------------------------------------------
# Meshes.
# --------------------------------------------------------------------------------------------


def make_bunny(h: float = 0.016, target_faces: int = 3200) -> trimesh.Trimesh:
    """The bunny: ~1 unit tall, bounding box centred at the origin, Z up."""
    lo, hi = np.array([-0.55, -0.36, -0.08]), np.array([0.62, 0.36, 1.25])
    axes = [np.arange(a, b + h, h) for a, b in zip(lo, hi, strict=True)]
    grid = np.stack(np.meshgrid(*axes, indexing="ij"), -1)
    field = bunny_field(grid.reshape(-1, 3)).reshape(grid.shape[:3])
    border = np.ones(field.shape, dtype=bool)
    border[1:-1, 1:-1, 1:-1] = False
    if (field[border] < 0).any():
        raise RuntimeError("the bunny touches the sampling box; enlarge lo/hi")
    vertices, faces = marching_tetrahedra(field, lo, h)
    vertices, faces = decimate(vertices, faces, target_faces)
    vertices = relax(vertices, faces, bunny_field)

    bb_lo, bb_hi = vertices.min(0), vertices.max(0)
    vertices = (vertices - 0.5 * (bb_lo + bb_hi)) / (bb_hi[2] - bb_lo[2])  # 1 unit tall
    return trimesh.Trimesh(vertices, faces, process=False)


def make_star_prism(
    outer: float = 0.5, inner: float = 0.2, height: float = 0.3, max_edge: float = 0.06
) -> trimesh.Trimesh:
    """A 5-point star extruded along Z, centred at the origin."""
    angle = np.pi / 2 + np.arange(10) * np.pi / 5  # first point along +Y
    radius = np.where(np.arange(10) % 2 == 0, outer, inner)
    ring = np.stack([radius * np.cos(angle), radius * np.sin(angle)], 1)
    z0, z1 = -height / 2, height / 2
    # vertices: 0..9 bottom ring, 10..19 top ring, 20 bottom centre, 21 top centre
    vertices = np.concatenate(
        [np.c_[ring, np.full(10, z0)], np.c_[ring, np.full(10, z1)], [[0, 0, z0], [0, 0, z1]]]
    )
    faces = []
    for i in range(10):
        j = (i + 1) % 10
        faces += [[20, j, i], [21, 10 + i, 10 + j]]  # caps (ring is counter-clockwise)
        faces += [[i, j, 10 + j], [i, 10 + j, 10 + i]]  # side quad
    v, f = trimesh.remesh.subdivide_to_size(vertices, np.array(faces), max_edge=max_edge)
    return trimesh.Trimesh(v, f, process=True)


def _check(mesh: trimesh.Trimesh, name: str) -> None:
    """Raise if the mesh is not a closed, consistently outward-wound, manifold solid."""
    problems = []
    if not mesh.is_watertight:
        problems.append("not watertight")
    if not mesh.is_winding_consistent:
        problems.append("winding inconsistent")
    if mesh.volume <= 0:
        problems.append("inward winding")
    if (mesh.area_faces <= 1e-12).any():
        problems.append("degenerate faces")
    if name == "bunny" and (mesh.euler_number != 2 or mesh.body_count != 1):
        problems.append(f"euler {mesh.euler_number}, bodies {mesh.body_count} (want genus 0)")
    if problems:
        raise RuntimeError(f"{name}: " + ", ".join(problems))


def write_obj(mesh: trimesh.Trimesh, path: Path, comment: str) -> None:
    """Write vertices (6 decimals) and 1-based faces; written to a temporary name, then renamed."""
    lines = [f"# {comment}", f"# {len(mesh.vertices)} vertices, {len(mesh.faces)} faces"]
    lines += [f"v {x:.6f} {y:.6f} {z:.6f}" for x, y, z in mesh.vertices]
    lines += [f"f {a + 1} {b + 1} {c + 1}" for a, b, c in mesh.faces]
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text("\n".join(lines) + "\n")
    tmp.replace(path)


def main() -> None:
    """Build, check and write every asset mesh."""
    MESH_DIR.mkdir(parents=True, exist_ok=True)
    meshes = {
        "bunny": (make_bunny(), "procedural bunny (assets/make_meshes.py), Z up, 1 unit tall"),
        "star_prism": (make_star_prism(), "5-point star prism (assets/make_meshes.py), Z up"),
    }
    for name, (mesh, comment) in meshes.items():
        _check(mesh, name)
        path = MESH_DIR / f"{name}.obj"
        write_obj(mesh, path, comment)
        reloaded = trimesh.load(path, force="mesh")
        _check(reloaded, name)


if __name__ == "__main__":
    main()
