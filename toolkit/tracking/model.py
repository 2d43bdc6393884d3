"""Interaction-network edge classifier (Battaglia et al. 2016; as used in Exa.TrkX-style tracking).

Nodes (hits) and edges (candidate segments) carry hidden states. Each of ``n_iter`` rounds
(weights shared across rounds):

    e_ij ← e_ij + φ_e([h_i, h_j, e_ij])
    h_i  ← h_i + φ_h([h_i, Σ_{k→i} e_ki, Σ_{i→k} e_ik])

and a final MLP maps each edge state to one logit ("same particle?"). Incoming and outgoing
messages are summed separately so a hit can tell its predecessor from its successor.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import nn
from torch_geometric.nn import MessagePassing

from ..validation import check_instance, check_int
from .graph import EDGE_FEATURES, NODE_FEATURES

__all__ = ["ModelConfig", "InteractionNetwork", "EdgeClassifier", "GeometricBaseline", "count_parameters"]


def _mlp(n_in: int, hidden: int, n_out: int) -> nn.Sequential:
    return nn.Sequential(nn.Linear(n_in, hidden), nn.SiLU(), nn.Linear(hidden, n_out))


@dataclass
class ModelConfig:
    """Size of the edge classifier (defaults: ~12k parameters)."""

    hidden: int = 32
    n_iter: int = 3
    node_features: int = len(NODE_FEATURES)
    edge_features: int = len(EDGE_FEATURES)

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> ModelConfig:
        check_int("hidden", self.hidden, low=2, high=1024)
        check_int("n_iter", self.n_iter, low=0, high=20)
        check_int("node_features", self.node_features, low=1, high=1024)
        check_int("edge_features", self.edge_features, low=1, high=1024)
        return self

    def to_dict(self) -> dict:
        return asdict(self)


class InteractionNetwork(MessagePassing):
    """One interaction-network round (edge update, then node update from summed messages)."""

    def __init__(self, hidden: int) -> None:
        hidden = check_int("hidden", hidden, low=2, high=1024)  # ModelConfig's range
        super().__init__(aggr="add")
        self.edge_mlp = _mlp(3 * hidden, hidden, hidden)
        self.node_mlp = _mlp(3 * hidden, hidden, hidden)

    def forward(
        self, h: torch.Tensor, edge_index: torch.Tensor, e: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        src, dst = edge_index
        e = e + self.edge_mlp(torch.cat([h[src], h[dst], e], 1))
        n = h.shape[0]
        incoming = self.propagate(edge_index, e=e, size=(n, n))
        outgoing = self.propagate(edge_index.flip(0), e=e, size=(n, n))
        h = h + self.node_mlp(torch.cat([h, incoming, outgoing], 1))
        return h, e

    def message(self, e: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        return e


class EdgeClassifier(nn.Module):
    """Encoder → ``n_iter`` shared :class:`InteractionNetwork` rounds → one logit per edge."""

    def __init__(self, config: ModelConfig | None = None) -> None:
        super().__init__()
        if config is not None:
            check_instance("config", config, ModelConfig, "a ModelConfig or None")
        self.config = (config or ModelConfig()).validate()
        c = self.config
        self.node_enc = _mlp(c.node_features, c.hidden, c.hidden)
        self.edge_enc = _mlp(c.edge_features, c.hidden, c.hidden)
        self.block = InteractionNetwork(c.hidden)
        self.head = _mlp(3 * c.hidden, c.hidden, 1)

    def forward(self, x: torch.Tensor, edge_index: torch.Tensor, edge_attr: torch.Tensor) -> torch.Tensor:
        """Edge logits, shape (E,)."""
        if x.dim() != 2 or x.shape[1] != self.config.node_features:
            raise ValueError(f"x must have shape (N, {self.config.node_features}), got {tuple(x.shape)}")
        if edge_attr.dim() != 2 or edge_attr.shape[1] != self.config.edge_features:
            raise ValueError(
                f"edge_attr must have shape (E, {self.config.edge_features}), got {tuple(edge_attr.shape)}"
            )
        h, e = self.node_enc(x), self.edge_enc(edge_attr)
        for _ in range(self.config.n_iter):
            h, e = self.block(h, edge_index, e)
        src, dst = edge_index
        return self.head(torch.cat([h[src], h[dst], e], 1)).squeeze(-1)


class GeometricBaseline(nn.Module):
    """No-learning baseline: an edge's cost is its normalised slope ``c = |slope| / (√2 · window)``.

    Protons of a pencil beam fly almost along z, so a steep segment is unlikely to be true.
    ``forward`` returns the logit ``log((1 − c)/c)`` so that the pipeline's cost ``1 − σ(logit)``
    is exactly ``c`` (clipped to [1e-6, 1 − 1e-6]); the threshold τ is then tuned like a model's.
    """

    def forward(self, x: torch.Tensor, edge_index: torch.Tensor, edge_attr: torch.Tensor) -> torch.Tensor:
        # edge_attr[:, 2] is hypot(slope_x, slope_y) / window (graph.EDGE_FEATURES), at most √2 in the window
        c = (edge_attr[:, 2] / 2**0.5).clamp(1e-6, 1 - 1e-6)
        return torch.log((1 - c) / c)


def count_parameters(model: nn.Module) -> int:
    """Number of trainable parameters."""
    check_instance("model", model, nn.Module, "a torch Module")
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
