"""A per-shape polynomial stand-in for the decoder, fitted when a model is bound to a shape.

For a fixed rest shape the decoder is a smooth map from the reduced latent z (a handful of
dimensions after the active subspace) to the positions of the sample points. Over the box of
latents the data visits it is matched closely by a low-degree polynomial, which costs one small
matrix product instead of a transformer pass -- and the dynamics evaluate it thousands of
times per clip. The fit residual is reported, so the approximation is measured, not assumed.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable

import numpy as np
import torch

from neurok.geometry import kabsch_batch


def monomials(dim: int, degree: int) -> list[tuple[int, ...]]:
    """Exponent tuples of all monomials in ``dim`` variables up to total ``degree``."""
    out = []
    for total in range(degree + 1):
        for combo in itertools.combinations_with_replacement(range(dim), total):
            exponents = [0] * dim
            for i in combo:
                exponents[i] += 1
            out.append(tuple(exponents))
    return out


class PolynomialSurrogate:
    """positions(z) ~ Phi(z / s) @ C for z in the box |z_i| <= s_i.

    Args:
        decode: (B, k) latents -> (B, N, 3) positions (the decoder, batched).
        scale: (k,) half-widths s of the latent box to fit over.
        degree: polynomial degree (3: cubic). samples: latents drawn for the fit.
        weights: (N,) masses of the points, for the body frame (None: equal).
    """

    def __init__(
        self,
        decode: Callable[[torch.Tensor], torch.Tensor],
        scale: np.ndarray,
        degree: int = 3,
        samples: int | None = None,
        seed: int = 0,
        batch: int = 512,
        weights: np.ndarray | None = None,
    ) -> None:
        self.scale = np.asarray(scale, dtype=np.float64)
        k = len(self.scale)
        self.exponents = np.array(monomials(k, degree), dtype=np.int64)  # (F, k)
        count = samples or 4 * len(self.exponents)
        rng = np.random.default_rng(seed)
        # the box's corners and centre matter most for extrapolation: mix uniform samples
        # with points on the box surface
        z = rng.uniform(-1.0, 1.0, size=(count, k))
        z[: count // 4] = np.sign(z[: count // 4]) * rng.uniform(0.8, 1.0, size=(count // 4, k))
        z[0] = 0.0
        with torch.no_grad():
            outputs = [
                decode(torch.as_tensor(z[i : i + batch] * self.scale)).double().numpy()
                for i in range(0, count, batch)
            ]
        Y = np.concatenate(outputs)  # (S, N, 3)
        # the body frame is the points' centre of mass and best-fit rotation (as in
        # training), so any rigid part of a decoded deformation is removed: otherwise latents
        # and the rigid coordinates overlap and the mass matrix becomes nearly singular
        R, t = kabsch_batch(Y[1:], Y[0], weights)
        Y[1:] = Y[1:] @ np.swapaxes(R, 1, 2) + t[:, None, :]
        Y = Y.reshape(count, -1)  # (S, 3N)
        Phi = self._features(z)
        # the constant term is pinned to the decoded rest shape (z[0] = 0), so z = 0 stays
        # exactly the rest state (zero elastic energy); the rest is a least-squares fit
        coefficients = np.zeros((Phi.shape[1], Y.shape[1]))
        coefficients[0] = Y[0]
        if Phi.shape[1] > 1:  # (no latent at all: the rest shape only)
            # least squares by the normal equations (the monomials are well conditioned on
            # the unit box, so squaring the condition number costs no accuracy that matters
            # here; QR or an SVD cost several times more for the thousand right-hand sides)
            A = Phi[:, 1:]
            coefficients[1:] = np.linalg.solve(A.T @ A, A.T @ (Y - Y[0]))
        self.coefficients = coefficients
        residual = Phi @ self.coefficients - Y
        spread = Y - Y[0]
        self.relative_error = float(
            np.sqrt(np.mean(residual**2)) / max(np.sqrt(np.mean(spread**2)), 1e-12)
        )
        self.points = Y.shape[1] // 3
        self._C = torch.as_tensor(self.coefficients)
        self._exp = torch.as_tensor(self.exponents, dtype=torch.float64)

    def _features(self, u: np.ndarray) -> np.ndarray:
        return np.prod(u[:, None, :] ** self.exponents[None], axis=-1)

    def __call__(self, z: torch.Tensor) -> torch.Tensor:
        """(B, k) latents -> (B, N, 3) positions (differentiable in z)."""
        u = z / torch.as_tensor(self.scale, dtype=z.dtype)
        features = torch.prod(u[:, None, :] ** self._exp.to(z.dtype)[None], dim=-1)
        return (features @ self._C.to(z.dtype)).reshape(z.shape[0], self.points, 3)
