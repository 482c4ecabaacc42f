"""The graph neural network `gnn`: message passing over the organism model's reaction–metabolite graph.

The graph is bipartite: one node per reaction and per metabolite, an edge between a reaction and each
metabolite it consumes or produces, weighted by the stoichiometric coefficient (negative = consumed),
normalised by sqrt(|degree| x |degree|) so hub metabolites (h, h2o, atp) do not drown their
neighbours. Every node starts from structural features (node type, exchange/biomass flags,
reversibility, bounds, degree, GPR size, compartment, biomass coefficient); `graph_layers` rounds of
GraphConv message passing (`MemberGraphConv`, a `torch_geometric` MessagePassing: sum aggregation
of edge-weighted neighbours plus a root term; residual, ReLU; one weight pair per ensemble member,
the neighbour sums of all members in one sparse product) turn them into one embedding per node and
ensemble member, computed once per forward pass for all designs (the graph is shared; only the node
features of the designs differ).

A design's node features are sparse channels over the nodes: `blocked` (1 on each reaction its
knockouts block: reaction ids directly, genes through the GPR rules, so losing one isozyme blocks
nothing), `level` (log2 of each reaction's relative capacity from expression changes and partly lost
isozymes, GPR AND = min, OR = sum), `uptake` (change of each exchange's uptake bound from the
organism's default, per 10 mmol/gDW/h) and one channel per omics block (a gene's value on its
reactions, a reaction's or metabolite's on its node; standardised). Each channel is pooled against
the node embeddings with one matrix product over the nodes the batch touches (designs x touched
nodes @ touched nodes x hidden, per member), plus
the product of the knockout and medium pools (which knockout sits on the medium's route). A
knockout, gene or exchange that no training design had has an embedding all the same, so the
network predicts it through the graph instead of marking it unseen.

The head is the hybrid's (`models.HybridNet`): a member-batched MLP over the pooled graph features,
a dense branch over the tabular features and the omics presence flags outputs a residual in the null
space of S, v = prior + N z, so every predicted full flux vector is mass balanced; growth and fluxes
are read off v, other outputs from a free head. The prior is the organism's wild-type pFBA flux for
every design (`graph_prior="wildtype"`, one LP) or the hybrid's own per-design prior
(`graph_prior="design"`: MOMA/pFBA of each design, also an input of the head).
"""

from __future__ import annotations

import dataclasses
import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import Tensor, nn
from torch_geometric.nn import MessagePassing
from torch_geometric.utils import spmm, to_torch_csr_tensor

from schemas.design import Design
from services.predictor.errors import PredictorError
from services.predictor.features import OmicsList
from services.predictor.models import ACTIVATIONS, Batch, HybridNet, MemberLinear, member_mlp

if TYPE_CHECKING:
    from services.predictor.deepmodel import DeepModel

CHANNELS = ("blocked", "level", "uptake")
"""Per-design node feature channels (omics blocks follow)."""
GRAPH_PRIORS = ("auto", "wildtype", "design")
AUTO_DESIGN_MAX_REACTIONS = 500
"""`graph_prior="auto"`: the per-design prior below this many reactions, the wild-type flux above."""


def resolved_prior(model: DeepModel) -> str:
    """The model's graph prior with 'auto' decided by the organism model's size."""
    prior = model.config.graph_prior
    if prior == "auto":
        return "design" if len(model.organism.reaction_ids) < AUTO_DESIGN_MAX_REACTIONS else "wildtype"
    return prior
UPTAKE_SCALE = 10.0


@dataclass
class GraphBatch(Batch):
    """A `Batch` plus the designs' node features, per channel: the nodes any design of the batch touches
    (`node_index`) and the designs' values on them (`nodes`, designs x those nodes; every other node is 0)."""

    nodes: tuple[Tensor, ...] = field(default_factory=tuple)
    node_index: tuple[Tensor, ...] = field(default_factory=tuple)

    def select(self, index: Tensor) -> GraphBatch:
        """Rows `index` of every tensor."""
        base = Batch.select(self, index)
        return GraphBatch(**{f.name: getattr(base, f.name) for f in dataclasses.fields(Batch)},
                          nodes=tuple(t[index] for t in self.nodes), node_index=self.node_index)

    def to(self, device: torch.device) -> GraphBatch:
        """Move to a device."""
        base = Batch.to(self, device)
        return GraphBatch(**{f.name: getattr(base, f.name) for f in dataclasses.fields(Batch)},
                          nodes=tuple(t.to(device) for t in self.nodes),
                          node_index=tuple(t.to(device) for t in self.node_index))


@dataclass
class Graph:
    """The reaction–metabolite graph: reactions are nodes 0..R-1, metabolites R..R+M-1."""

    edge_index: np.ndarray
    edge_weight: np.ndarray
    node_x: np.ndarray
    n_reactions: int
    n_metabolites: int

    @property
    def n_nodes(self) -> int:
        """Reactions plus metabolites."""
        return self.n_reactions + self.n_metabolites


_GRAPHS: dict[tuple[str, int, int], Graph] = {}


def build_graph(organism: Any) -> Graph:
    """The bipartite graph of `organism` with normalised stoichiometric edge weights (cached per model)."""
    S = organism.S.tocoo()
    key = (getattr(organism, "name", ""), S.shape[1], S.nnz)
    if key in _GRAPHS:
        return _GRAPHS[key]
    n_met, n_rxn = S.shape
    absS = abs(organism.S)
    deg_r = np.asarray(absS.sum(axis=0)).ravel()
    deg_m = np.asarray(absS.sum(axis=1)).ravel()
    weight = S.data / np.sqrt(np.maximum(deg_r[S.col], 1e-12) * np.maximum(deg_m[S.row], 1e-12))
    rxn, met = S.col.astype(np.int64), S.row.astype(np.int64) + n_rxn
    edge_index = np.stack([np.concatenate([rxn, met]), np.concatenate([met, rxn])])
    graph = Graph(edge_index, np.concatenate([weight, weight]).astype(np.float32),
                  _node_features(organism, deg_r, deg_m), n_rxn, n_met)
    _GRAPHS[key] = graph
    return graph


def _node_features(organism: Any, deg_r: np.ndarray, deg_m: np.ndarray) -> np.ndarray:
    """Structural features: type, exchange, biomass, reversible, bounds, degree, GPR genes, compartment."""
    n_met, n_rxn = organism.S.shape
    exchanges = {organism.reaction_index(e) for e in organism.exchange_ids}
    rx = np.zeros((n_rxn, 12), dtype=np.float32)
    rx[:, 0] = 1.0
    rx[list(exchanges), 1] = 1.0
    rx[organism.biomass_index, 2] = 1.0
    rx[:, 3] = organism.lb < 0
    rx[:, 4] = np.clip(organism.lb / 1000.0, -1, 1)
    rx[:, 5] = np.clip(organism.ub / 1000.0, -1, 1)
    rx[:, 6] = np.log1p((organism.S != 0).sum(axis=0).A.ravel())
    rx[:, 7] = np.log1p(deg_r)
    gpr = getattr(organism, "gpr", [None] * n_rxn)
    rx[:, 8] = [0.0 if g is None else 1.0 for g in gpr]
    rx[:, 9] = [math.log1p(len(_genes(g))) for g in gpr]
    biomass = organism.S[:, organism.biomass_index].toarray().ravel()
    mx = np.zeros((n_met, 12), dtype=np.float32)
    mx[:, 10] = 1.0
    mx[:, 6] = np.log1p((organism.S != 0).sum(axis=1).A.ravel())
    mx[:, 7] = np.log1p(deg_m)
    mx[:, 2] = np.sign(biomass) * np.log1p(np.abs(biomass))
    for i, mid in enumerate(getattr(organism, "metabolite_ids", [])):
        comp = mid.rsplit("_", 1)[-1] if "_" in mid else ""
        mx[i, 1] = comp == "e"
        mx[i, 3] = comp == "p"
        mx[i, 11] = comp not in ("c", "e", "p")
    return np.concatenate([rx, mx])


def _genes(node: Any) -> set[str]:
    from services.domain.organism.gpr import gpr_genes

    return gpr_genes(node)


class MemberGraphConv(MessagePassing):
    """GraphConv (Morris et al. 2019: x_i' = W_rel sum_j w_ji x_j + W_root x_i) with one weight pair per
    ensemble member; the neighbour sums of all members are one sparse product (`torch_geometric.utils.spmm`)."""

    def __init__(self, members: int, width: int) -> None:
        super().__init__(aggr="add")
        self.rel = MemberLinear(members, width, width)
        self.root = MemberLinear(members, width, width)

    def forward(self, h: Tensor, adj_t: Tensor) -> Tensor:
        """h: members x nodes x width; adj_t: the (symmetric) weighted adjacency as a sparse CSR tensor."""
        m, n, d = h.shape
        flat = h.permute(1, 0, 2).reshape(n, m * d)
        agg = self.propagate(adj_t, x=flat).reshape(n, m, d).permute(1, 0, 2)
        return self.rel(agg) + self.root(h)

    def message(self, x_j: Tensor, edge_weight: Tensor) -> Tensor:
        """Neighbour features weighted by the normalised stoichiometric coefficient (edge-list form)."""
        return edge_weight.view(-1, 1) * x_j

    def message_and_aggregate(self, adj_t: Tensor, x: Tensor) -> Tensor:  # type: ignore[override]
        """Weighted neighbour sums as one sparse-dense product."""
        return spmm(adj_t, x, reduce="sum")


class GraphEncoder(nn.Module):
    """Per member: a linear input map, then `layers` residual MemberGraphConv rounds over the shared graph."""

    adj_t: Tensor
    node_x: Tensor

    def __init__(self, members: int, graph: Graph, hidden: int, layers: int) -> None:
        super().__init__()
        with warnings.catch_warnings():  # torch calls its sparse CSR support "beta": the product used here is stable
            warnings.filterwarnings("ignore", message="Sparse (CSR tensor support|invariant checks)")
            adj = to_torch_csr_tensor(torch.as_tensor(graph.edge_index), torch.as_tensor(graph.edge_weight),
                                      size=(graph.n_nodes, graph.n_nodes))
        self.register_buffer("adj_t", adj, persistent=False)
        self.register_buffer("node_x", torch.as_tensor(graph.node_x), persistent=False)
        self.inp = MemberLinear(members, graph.node_x.shape[1], hidden)
        self.convs = nn.ModuleList(MemberGraphConv(members, hidden) for _ in range(layers))

    def forward(self) -> Tensor:
        """Node embeddings, members x nodes x hidden."""
        h = torch.relu(self.inp(self.node_x))
        for conv in self.convs:
            h = h + torch.relu(conv(h, self.adj_t))
        return h


class GNNNet(HybridNet):
    """Graph-pooled design features + dense branch -> the hybrid's mass-balanced residual head."""

    dense_index: Tensor

    def __init__(self, members: int, d_in: int, n_blocks: int, flux_index: Sequence[int], null_basis: Tensor,
                 y_mean: Tensor, y_sd: Tensor, prior_mean: Tensor, prior_sd: Tensor, graph: Graph,
                 dense_index: Sequence[int], n_channels: int, use_prior: bool, graph_hidden: int = 32,
                 graph_layers: int = 3, hidden: Sequence[int] = (128, 128), activation: str = "relu",
                 dropout: float = 0.0, iterations: int = 0) -> None:
        super().__init__(members, d_in, n_blocks, flux_index, null_basis, y_mean, y_sd, prior_mean, prior_sd,
                         hidden, activation, dropout, iterations)
        self.use_prior = use_prior
        self.encoder = GraphEncoder(members, graph, graph_hidden, graph_layers)
        self.register_buffer("dense_index", torch.as_tensor(list(dense_index), dtype=torch.long))
        n_rxn = null_basis.shape[0]
        width = len(dense_index) + n_blocks + (n_rxn + 1 if use_prior else 0) + (n_channels + 1) * graph_hidden
        self.body = nn.Sequential(member_mlp(members, width, hidden[:-1], hidden[-1], activation, dropout),
                                  ACTIVATIONS[activation]())

    def graph_features(self, batch: Batch) -> Tensor:
        """Each channel's node features pooled against the node embeddings: members x designs x features.

        Only the nodes some design of the batch touches enter the product (designs x touched @ touched x
        hidden per member): a dense product that is faster than a sparse one over all nodes.
        """
        assert isinstance(batch, GraphBatch), "the gnn needs a GraphBatch (DeepModel.batch builds it)"
        emb = self.encoder()
        pooled = [values @ emb[:, index] for values, index in zip(batch.nodes, batch.node_index, strict=True)]
        pooled.append(pooled[0] * pooled[2])  # knockout x medium: is the knockout on the medium's route
        return torch.cat(pooled, dim=2)

    def _hidden(self, batch: Batch) -> Tensor:
        parts = [batch.x[:, self.dense_index], batch.omics_mask.to(batch.x.dtype)]
        if self.use_prior:
            assert batch.prior is not None and batch.feasible is not None
            parts += [((batch.prior - self.prior_mean) / self.prior_sd).clamp(-5.0, 5.0), batch.feasible.unsqueeze(1)]
        graph = self.graph_features(batch)
        dense = torch.cat(parts, dim=1).expand(graph.shape[0], -1, -1)
        return self.body(torch.cat([dense, graph], dim=2))


# ---- the DeepModel's side: node features, prior, dimensions ----------------------------------------


def target_reaction(organism: Any, name: str) -> int:
    """Reaction index a target reads from ('growth' = biomass; `flux:`/`product:` prefixes ok); -1 if none."""
    if name == "growth":
        return int(organism.biomass_index)
    for prefix in ("flux:", "product:"):
        name = name.removeprefix(prefix)
    return int(organism.reaction_index(name)) if name in organism.reaction_ids else -1


_WILD_TYPE: dict[tuple[int, str], np.ndarray] = {}


def wild_type_flux(organism: Any, base_medium: dict[str, float] | None) -> np.ndarray:
    """The organism's pFBA flux on the base medium (one LP per organism and medium, cached)."""
    from services.domain.organism import FastFBA

    key = (id(organism), repr(sorted((base_medium or {}).items())))
    if key not in _WILD_TYPE:
        lb, ub = organism.design_bounds(Design(), base_medium)
        result = FastFBA(organism).pfba(lb, ub)
        if result.status != "optimal":
            raise PredictorError("organism", f"the wild type is infeasible on the base medium ({result.status})")
        _WILD_TYPE[key] = np.asarray(result.fluxes, dtype=float)
    return _WILD_TYPE[key]


def node_channels(model: DeepModel, designs: Sequence[Design],
                  omics: OmicsList | None) -> tuple[tuple[Tensor, ...], tuple[Tensor, ...]]:
    """The designs' node features per channel: (values on the touched nodes, designs x touched; their index)."""
    org, features, scaler = model.organism, model.features, model.x_scaler
    assert features is not None and scaler is not None
    blocks = list(features.omics)
    entries: list[list[tuple[int, int, float]]] = [[] for _ in range(len(CHANNELS) + len(blocks))]
    genes = set(org.gene_ids)
    default_uptake = {ex: max(0.0, -float(org.lb[org.reaction_index(ex)])) for ex in org.exchange_ids}
    for row, d in enumerate(designs):
        knocked = {g: 0.0 for g in d.knockouts if g in genes}
        for r, level in org.reaction_levels(knocked).items():
            if level == 0.0:
                entries[0].append((row, r, 1.0))
            elif level < 1.0:
                entries[1].append((row, r, math.log2(level)))
        for ko in d.knockouts:
            if ko not in genes and org.has_reaction(ko):
                entries[0].append((row, org.reaction_index(ko), 1.0))
        expression = {g: float(f) for g, f in d.expression.items() if g not in d.knockouts}
        for r, level in org.reaction_levels(expression).items():
            if level > 0 and level != 1.0:
                entries[1].append((row, r, math.log2(level)))
        for ex, uptake in d.medium.items():
            change = (float(uptake) - default_uptake.get(ex, 0.0)) / UPTAKE_SCALE
            if change:
                entries[2].append((row, org.reaction_index(ex), change))
    if blocks and omics is not None:
        _omics_entries(model, omics, blocks, entries)
    touched = [_touched(e, len(designs)) for e in entries]
    return tuple(t[0] for t in touched), tuple(t[1] for t in touched)


def _omics_entries(model: DeepModel, omics: OmicsList, blocks: list[str],
                   entries: list[list[tuple[int, int, float]]]) -> None:
    """Omics values (standardised like the model's inputs) on the nodes they name: gene -> its reactions."""
    org, features, scaler = model.organism, model.features, model.x_scaler
    assert features is not None and scaler is not None
    column = {c: j for j, c in enumerate(features.columns)}
    met_index = {m: len(org.reaction_ids) + i for i, m in enumerate(getattr(org, "metabolite_ids", []))}
    for row, sample in enumerate(omics):
        for b, block in enumerate(blocks):
            for feat, value in ((sample or {}).get(block) or {}).items():
                j = column.get(f"omics.{block}:{feat}")
                if j is None:
                    continue
                z = float(np.clip((value - scaler.mean[j]) / scaler.sd[j], -5.0, 5.0))
                nodes = org.gene_reactions.get(feat) or ([org.reaction_index(feat)] if org.has_reaction(feat)
                                                         else [met_index[feat]] if feat in met_index else [])
                entries[len(CHANNELS) + b].extend((row, i, z / len(nodes)) for i in nodes)


def _touched(entries: list[tuple[int, int, float]], rows: int) -> tuple[Tensor, Tensor]:
    """(designs x touched nodes) values (entries on the same cell add up) and the touched node ids."""
    nodes = sorted({e[1] for e in entries})
    column = {node: j for j, node in enumerate(nodes)}
    values = np.zeros((rows, len(nodes)), dtype=np.float32)
    for row, node, value in entries:
        values[row, column[node]] += value
    return torch.as_tensor(values), torch.as_tensor(nodes, dtype=torch.long)


def graph_batch(model: DeepModel, batch: Batch, designs: Sequence[Design], omics: OmicsList | None) -> GraphBatch:
    """`batch` with the designs' node features and the prior the residual corrects (wild type or per design)."""
    cfg = model.config
    designs = model.network_designs(designs)  # ids outside the organism model stay in the dense branch only
    if resolved_prior(model) == "design":
        p = model.prior.compute(designs)
        prior, feasible = torch.as_tensor(p.flux, dtype=torch.float32), torch.as_tensor(p.feasible, dtype=torch.float32)
    else:
        wt = torch.as_tensor(wild_type_flux(model.organism, cfg.base_medium), dtype=torch.float32)
        prior, feasible = wt.expand(len(designs), -1), torch.ones(len(designs))
    values, index = node_channels(model, designs, omics)
    return GraphBatch(batch.x, batch.omics_mask, prior, feasible, nodes=values, node_index=index)


def dense_columns(model: DeepModel) -> list[int]:
    """Feature columns the dense branch reads: all, or (`graph_dense="outside"`) those the graph lacks."""
    assert model.features is not None
    cols = model.features.columns
    if model.config.graph_dense == "all":
        return list(range(len(cols)))
    org = model.organism
    inside = set(org.reaction_ids) | set(org.gene_ids)
    graph_held = [c.split(":", 1)[0] in ("ko", "expr") and c.split(":", 1)[1] in inside for c in cols]
    return [j for j, held in enumerate(graph_held) if not held]


def net_dims(model: DeepModel) -> dict[str, Any]:
    """Plain-data constructor arguments of the GNNNet (saved with the model)."""
    cfg, features = model.config, model.features
    assert features is not None
    if cfg.graph_prior not in GRAPH_PRIORS:
        raise PredictorError("graph_prior", f"unknown value {cfg.graph_prior!r} (choose {', '.join(GRAPH_PRIORS)})")
    return {"members": cfg.ensemble, "d_in": features.n_columns, "n_blocks": len(features.omics),
            "hidden": cfg.hidden or (128, 128), "activation": cfg.activation,
            "dropout": cfg.dropout if cfg.dropout is not None else 0.2,
            "iterations": cfg.projection_iterations or 0,
            "flux_index": [target_reaction(model.organism, n) for n in model.names],
            "dense_index": dense_columns(model), "n_channels": len(CHANNELS) + len(features.omics),
            "use_prior": resolved_prior(model) == "design", "graph_hidden": cfg.graph_hidden,
            "graph_layers": cfg.graph_layers}


def init_offset(model: DeepModel, batch: Batch, yz: Tensor) -> None:
    """Start the residual at the mean (standardised) gap between measurements and the prior."""
    assert model.net is not None and batch.prior is not None and model.y_scaler is not None
    idx = [target_reaction(model.organism, n) for n in model.names]
    cols = [j for j, i in enumerate(idx) if i >= 0]
    if not cols:
        return
    mean = torch.as_tensor(model.y_scaler.mean[cols], dtype=torch.float32, device=yz.device)
    sd = torch.as_tensor(model.y_scaler.sd[cols], dtype=torch.float32, device=yz.device)
    prior_z = (batch.prior[:, [idx[j] for j in cols]] - mean) / sd
    gap = torch.nan_to_num(torch.nanmean(yz[:, cols] - prior_z, dim=0))
    model.net.init_offset(gap)  # type: ignore[operator]
