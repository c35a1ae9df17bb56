"""The NeuROK model: a transformer CVAE whose decoder maps a latent state to a deformation of a
given rest shape, evaluated at any query points.

- Prior encoder (rest point cloud -> shape tokens and the prior mean): learned queries attend to
  Fourier-embedded points (Perceiver style), then self-attention.
- Deformation encoder (training only): rest + deformed points -> posterior N(mu, sigma).
- Decoder: query points attend to the shape tokens and output, per point, k transform fields
  (one per latent); z weights them into a per-point rigid transform (a dual quaternion from a
  rotation vector and a translation) or, for the ablation, a displacement. The transform
  parameters are linear in z, so z = 0 decodes the rest shape exactly and the shape is a
  smooth, low-order function of z (cheap to integrate and to fit); the first checkpoints
  instead shifted the tokens by z (``coupling="tokens"``), which made the decoded shape
  swing wildly along some latent directions.
- Active subspace (after training): z = U z_q with U the top eigenvectors of E[J^T J], J the
  decoder Jacobian over training data -- the directions that move the shape most.

Geometry is normalised per shape: points are centred at the rest centre of mass and divided by
the rest bounding-box diagonal, so one model serves shapes of any size.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from neurok.errors import LatentError
from neurok.geometry import dq_apply, dual_quaternion, rigid_transform

OUTPUTS = ("dual_quaternion", "displacement")
COUPLINGS = ("linear", "tokens")


@dataclass(frozen=True)
class NeuROKConfig:
    """Model size and options.

    Attributes:
        latent_dim: CVAE latent size k. width: token width d. num_tokens: shape tokens M.
        heads: attention heads. encoder_layers / decoder_layers: attention blocks.
        frequencies: Fourier frequencies per axis of the point embedding.
        output: "dual_quaternion" (per-point rigid transform) or "displacement" (ablation).
        coupling: how the latent enters the decoder. "linear": the decoder turns the shape
            tokens into k per-point transform fields and z weights them (the transform
            parameters are linear in z, the deformed shape a smooth, low-order function of
            it); "tokens": z shifts the shape tokens before the query points attend to them
            (the first checkpoints; the shape is a far more nonlinear function of z).
    """

    latent_dim: int = 16
    width: int = 64
    num_tokens: int = 16
    heads: int = 4
    encoder_layers: int = 2
    decoder_layers: int = 2
    frequencies: int = 6
    output: str = "dual_quaternion"
    coupling: str = "linear"

    def __post_init__(self) -> None:
        if self.output not in OUTPUTS:
            raise ValueError(f"output must be one of {OUTPUTS}, got {self.output!r}.")
        if self.coupling not in COUPLINGS:
            raise ValueError(f"coupling must be one of {COUPLINGS}, got {self.coupling!r}.")
        if self.width % self.heads:
            raise ValueError(f"width {self.width} must be divisible by heads {self.heads}.")


class PointEmbedding(nn.Module):
    """Fourier features of normalised 3D points (sin/cos at octave frequencies) -> width d."""

    def __init__(self, width: int, frequencies: int, extra: int = 0) -> None:
        super().__init__()
        self.register_buffer("freqs", (2.0 ** torch.arange(frequencies)) * math.pi)
        self.linear = nn.Linear(3 + 6 * frequencies + extra, width)

    def forward(self, points: torch.Tensor, extra: torch.Tensor | None = None) -> torch.Tensor:
        angles = points[..., None] * self.freqs.to(points.dtype)  # (..., 3, f)
        features = [points, torch.sin(angles).flatten(-2), torch.cos(angles).flatten(-2)]
        if extra is not None:
            features.append(extra)
        return self.linear(torch.cat(features, dim=-1))


class Attention(nn.Module):
    """Pre-norm multi-head attention block with an MLP (queries attend to a context)."""

    def __init__(self, width: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.norm_q = nn.LayerNorm(width)
        self.norm_kv = nn.LayerNorm(width)
        self.q = nn.Linear(width, width)
        self.kv = nn.Linear(width, 2 * width)
        self.out = nn.Linear(width, width)
        self.mlp = nn.Sequential(
            nn.LayerNorm(width), nn.Linear(width, 2 * width), nn.GELU(), nn.Linear(2 * width, width)
        )

    def forward(self, queries: torch.Tensor, context: torch.Tensor) -> torch.Tensor:
        B, Nq, d = queries.shape
        h = self.heads
        q = self.q(self.norm_q(queries)).reshape(B, Nq, h, d // h).transpose(1, 2)
        k, v = self.kv(self.norm_kv(context)).chunk(2, dim=-1)
        k = k.reshape(B, -1, h, d // h).transpose(1, 2)
        v = v.reshape(B, -1, h, d // h).transpose(1, 2)
        weights = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(d // h), dim=-1)
        attended = (weights @ v).transpose(1, 2).reshape(B, Nq, d)
        x = queries + self.out(attended)
        return x + self.mlp(x)


class ShapeEncoder(nn.Module):
    """Prior encoder: rest point cloud (B, N, 3) -> shape tokens (B, M, d), prior mean (B, k)."""

    def __init__(self, cfg: NeuROKConfig) -> None:
        super().__init__()
        self.embed = PointEmbedding(cfg.width, cfg.frequencies)
        self.queries = nn.Parameter(torch.randn(cfg.num_tokens, cfg.width) * 0.02)
        self.cross = Attention(cfg.width, cfg.heads)
        self.layers = nn.ModuleList(
            Attention(cfg.width, cfg.heads) for _ in range(cfg.encoder_layers)
        )
        self.prior_mean = nn.Linear(cfg.width, cfg.latent_dim)

    def forward(self, rest: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        tokens = self.cross(self.queries.expand(rest.shape[0], -1, -1), self.embed(rest))
        for layer in self.layers:
            tokens = layer(tokens, tokens)
        return tokens, self.prior_mean(tokens.mean(dim=1))


class DeformationEncoder(nn.Module):
    """Posterior encoder (training only): rest and deformed points -> (mu, log variance)."""

    def __init__(self, cfg: NeuROKConfig) -> None:
        super().__init__()
        self.embed = PointEmbedding(cfg.width, cfg.frequencies, extra=3)
        self.cross = Attention(cfg.width, cfg.heads)
        self.layer = Attention(cfg.width, cfg.heads)
        self.head = nn.Linear(cfg.width, 2 * cfg.latent_dim)

    def forward(
        self, tokens: torch.Tensor, rest: torch.Tensor, deformed: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        # the displacement is amplified (x10): deformations are a few % of the shape's size
        features = self.embed(rest, extra=10.0 * (deformed - rest))
        h = self.cross(tokens, features)
        h = self.layer(h, h)
        mu, log_var = self.head(h.mean(dim=1)).chunk(2, dim=-1)
        return mu, log_var.clamp(-10.0, 4.0)


class Decoder(nn.Module):
    """Shape tokens (and, for the "tokens" coupling, z) -> per-point transform parameters at
    query points (see :class:`NeuROKConfig`.coupling)."""

    def __init__(self, cfg: NeuROKConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.embed = PointEmbedding(cfg.width, cfg.frequencies)
        self.size = 6 if cfg.output == "dual_quaternion" else 3
        fields = cfg.latent_dim if cfg.coupling == "linear" else 1
        if cfg.coupling == "tokens":
            self.latent = nn.Linear(cfg.latent_dim, cfg.num_tokens * cfg.width, bias=False)
        self.layers = nn.ModuleList(
            Attention(cfg.width, cfg.heads) for _ in range(cfg.decoder_layers)
        )
        self.head = nn.Sequential(nn.LayerNorm(cfg.width), nn.Linear(cfg.width, fields * self.size))
        nn.init.zeros_(self.head[1].weight)
        nn.init.zeros_(self.head[1].bias)

    def raw(self, z: torch.Tensor, tokens: torch.Tensor, queries: torch.Tensor) -> torch.Tensor:
        """"tokens" coupling: (B, k) latents, (B, M, d) tokens, (B, N, d) embedded queries
        -> (B, N, 6 or 3)."""
        context = tokens + self.latent(z).reshape(tokens.shape)
        h = queries
        for layer in self.layers:
            h = layer(h, context)
        return self.head(h)

    def fields(self, tokens: torch.Tensor, queries: torch.Tensor) -> torch.Tensor:
        """"linear" coupling: (B, M, d) tokens, (B, N, d) embedded queries -> (B, N, k, 6 or
        3), the transform parameters per unit of each latent."""
        h = queries
        for layer in self.layers:
            h = layer(h, tokens)
        out = self.head(h)
        return out.reshape(*out.shape[:-1], self.cfg.latent_dim, self.size)


class NeuROK(nn.Module):
    """The CVAE (see the module docstring). Points are in normalised shape coordinates."""

    def __init__(self, cfg: NeuROKConfig | None = None) -> None:
        super().__init__()
        self.cfg = cfg or NeuROKConfig()
        self.prior = ShapeEncoder(self.cfg)
        self.encoder = DeformationEncoder(self.cfg)
        self.decoder = Decoder(self.cfg)
        # active subspace z = basis @ z_q (identity until training reduces it), and the
        # half-widths of the box of reduced latents the training data visits
        self.register_buffer("basis", torch.eye(self.cfg.latent_dim))
        self.register_buffer("latent_range", torch.ones(self.cfg.latent_dim))

    def set_subspace(self, basis: torch.Tensor, latent_range: torch.Tensor | None = None) -> None:
        """Reduce the latent to z = basis @ z_q (basis (k, k_q), orthonormal columns), with
        ``latent_range`` (k_q,) the half-widths of the reduced latents the data visits."""
        if basis.dim() != 2 or basis.shape[0] != self.cfg.latent_dim:
            raise LatentError(
                f"basis must be ({self.cfg.latent_dim}, k_q), got {tuple(basis.shape)}."
            )
        self.basis = basis.detach().to(self.basis.dtype).clone()
        k_q = basis.shape[1]
        scale = torch.ones(k_q) if latent_range is None else latent_range.detach()
        self.latent_range = scale.to(self.latent_range.dtype).clone()

    @property
    def state_dim(self) -> int:
        """Size of the latent state the dynamics and IK work in (k_q after reduction)."""
        return int(self.basis.shape[1])

    def check_latent(self, z: torch.Tensor, name: str = "z") -> None:
        """Raise LatentError unless ``z`` has last dimension :attr:`state_dim` and is finite."""
        if z.shape[-1] != self.state_dim:
            raise LatentError(
                f"{name} has size {z.shape[-1]}, but this model's latent state has "
                f"{self.state_dim} entries (see model.state_dim)."
            )
        if not torch.isfinite(z).all():
            raise LatentError(f"{name} contains NaN or infinite values.")

    def point_cache(self, tokens: torch.Tensor, points: torch.Tensor) -> torch.Tensor | tuple:
        """Everything about query ``points`` (B, N, 3) that does not depend on z, for
        :meth:`deform`: the per-latent fields ("linear"), or the embedded queries and the
        output at z = 0 ("tokens")."""
        queries = self.decoder.embed(points)
        if self.cfg.coupling == "linear":
            return self.decoder.fields(tokens, queries)
        zero = torch.zeros(tokens.shape[0], self.cfg.latent_dim, dtype=tokens.dtype)
        return queries, self.decoder.raw(zero, tokens, queries)

    def deform(
        self, z_full: torch.Tensor, tokens: torch.Tensor, points: torch.Tensor,
        cache: torch.Tensor | tuple | None = None, rigid_shortcut: bool = False,
    ) -> torch.Tensor:  # fmt: skip
        """Deformed positions of ``points`` (B, N, 3) for full latents (B, k). The transform
        parameters vanish at z = 0, so z = 0 decodes the rest shape exactly. ``cache``
        (:meth:`point_cache`, batch 1 or B) can be passed in for repeated calls.
        ``rigid_shortcut`` applies each point's rotation and translation directly instead of
        through its dual quaternion: the same map to 1e-15, in a third of the operations (the
        emulator uses it; training and the active subspace keep the arithmetic the shipped
        checkpoint was made with, so its command still reproduces it bit for bit)."""
        if cache is None:
            cache = self.point_cache(tokens, points)
        if self.cfg.coupling == "linear" and cache.shape[0] == 1:  # one shape: one matmul
            _, N, k, S = cache.shape
            fields = cache[0].transpose(0, 1).reshape(k, N * S)
            delta = (z_full @ fields).reshape(z_full.shape[0], N, S)
        elif self.cfg.coupling == "linear":
            delta = torch.einsum("bk,bnks->bns", z_full, cache)
        else:
            queries, base = cache
            B = z_full.shape[0]
            raw = self.decoder.raw(z_full, tokens, queries.expand(B, *queries.shape[1:]))
            delta = raw - base
        if self.cfg.output == "displacement":
            return points + 0.1 * delta
        if rigid_shortcut:  # the same rigid transform per point in fewer operations
            return rigid_transform(delta[..., :3], 0.1 * delta[..., 3:], points)
        dq = dual_quaternion(delta[..., :3], 0.1 * delta[..., 3:])
        return dq_apply(dq, points)

    def decode(self, z: torch.Tensor, tokens: torch.Tensor, points: torch.Tensor) -> torch.Tensor:
        """Deformed positions for reduced latents z (B, state_dim)."""
        self.check_latent(z)
        return self.deform(z @ self.basis.T.to(z.dtype), tokens, points)

    def forward(
        self, rest: torch.Tensor, deformed: torch.Tensor, queries: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Training pass: (predicted deformed query points, KL divergence per sample)."""
        tokens, prior_mean = self.prior(rest)
        mu, log_var = self.encoder(tokens, rest, deformed)
        z = mu + torch.exp(0.5 * log_var) * torch.randn_like(mu)
        kl = 0.5 * torch.sum(log_var.exp() + (mu - prior_mean) ** 2 - 1.0 - log_var, dim=-1)
        return self.deform(z, tokens, queries), kl



def normalise(rest: np.ndarray, mass: np.ndarray | None = None) -> tuple[np.ndarray, float]:
    """(centre [m], scale [m]) of a rest shape: centre of mass (or centroid) and the
    bounding-box diagonal. Normalised points are (x - centre) / scale."""
    rest = np.asarray(rest, dtype=np.float64)
    weights = np.ones(len(rest)) if mass is None else np.asarray(mass, dtype=np.float64)
    centre = (weights[:, None] * rest).sum(axis=0) / weights.sum()
    scale = float(np.linalg.norm(rest.max(axis=0) - rest.min(axis=0)))
    return centre, scale
