"""Quadratic B-spline weights of the Warp stencil against their exact identities."""

from __future__ import annotations

import numpy as np
import warp as wp

from kernels.warp.stencil import stencil_base, stencil_weights

wp.config.quiet = True


@wp.kernel
def _evaluate_stencil(
    xg: wp.array(dtype=wp.vec3), out_base: wp.array(dtype=wp.vec3i), out_w: wp.array(dtype=wp.mat33)
):
    t = wp.tid()
    base = stencil_base(xg[t])
    out_base[t] = base
    out_w[t] = stencil_weights(xg[t] - wp.vec3(float(base[0]), float(base[1]), float(base[2])))


def _weights(points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    xg = wp.array(points.astype(np.float32), dtype=wp.vec3, device="cpu")
    base = wp.zeros(len(points), dtype=wp.vec3i, device="cpu")
    w = wp.zeros(len(points), dtype=wp.mat33, device="cpu")
    wp.launch(_evaluate_stencil, dim=len(points), inputs=[xg, base, w], device="cpu")
    return base.numpy(), w.numpy()


def test_bspline_weight_identities() -> None:
    """Per axis, for quadratic B-splines (grid units, dx = 1):
    sum w = 1, sum w (i - x) = 0, sum w (i - x)^2 = 1/4, sum dw/dx = 0. Tolerance 1e-6 (fp32)."""
    rng = np.random.default_rng(0)
    points = rng.uniform(2.0, 10.0, size=(500, 3))
    base, w = _weights(points)
    for axis in range(3):
        wa = w[:, :, axis].astype(np.float64)  # (P, 3) weights of node offsets 0, 1, 2
        nodes = base[:, axis, None] + np.arange(3)[None, :]
        d = nodes - points[:, axis, None]
        np.testing.assert_allclose(wa.sum(axis=1), 1.0, atol=1e-6)
        np.testing.assert_allclose((wa * d).sum(axis=1), 0.0, atol=1e-6)
        np.testing.assert_allclose((wa * d * d).sum(axis=1), 0.25, atol=1e-6)
        # derivative of the quadratic B-spline N(r) at r = x - i: the weights' gradients sum
        # to zero because the weights sum to one everywhere
        fx = points[:, axis] - base[:, axis]
        grad = np.stack([fx - 1.5, -2.0 * (fx - 1.0), fx - 0.5], axis=1)
        np.testing.assert_allclose(grad.sum(axis=1), 0.0, atol=1e-6)
        # and the gradients are the derivatives of these very weights (finite difference)
        h = 1e-3
        base_plus, w_plus = _weights(points + h * np.eye(3)[axis])
        same = (base_plus == base).all(axis=1)
        numeric = (w_plus[same, :, axis].astype(np.float64) - wa[same]) / h
        np.testing.assert_allclose(numeric, grad[same], atol=2e-3)


def test_stencil_base_covers_particle() -> None:
    """The particle lies between node base+0.5 and base+1.5, so no weight is negative."""
    points = np.array([[3.5, 3.5, 3.5], [3.999, 4.0, 4.49], [5.2, 6.7, 7.1]])
    base, w = _weights(points)
    fx = points - base
    assert np.all(fx >= 0.5) and np.all(fx < 1.5)
    assert np.all(w >= 0.0)
