"""The DeepModel's hyper-parameters (saved with every model)."""

from __future__ import annotations

from dataclasses import dataclass

from services.predictor.moma import DEFAULT_HEADROOM


@dataclass
class DeepModelConfig:
    """Hyper-parameters; saved with the model."""

    kind: str = "hybrid"
    organism: str | None = "textbook"
    ensemble: int = 5
    hidden: tuple[int, ...] | None = None
    """Hidden widths; None: (128, 128) for the hybrid, (64, 64) for the mlp (the paper's baseline)."""
    activation: str = "relu"
    dropout: float | None = None
    """None: 0.2 for the hybrid, 0 otherwise."""
    epochs: int = 400
    patience: int | None = None
    """Early-stopping patience in epochs; None: 25 for the hybrid, 40 otherwise."""
    lr: float | None = None
    """Adam learning rate; None: 1e-2 (mlp, hybrid) or 3e-3 (fusion)."""
    weight_decay: float = 1e-5
    batch_size: int = 2048
    bootstrap: bool = False
    val_fraction: float = 0.15
    calibrate: bool = True
    group_refit: bool = True
    """Training with `groups`: after calibrating on whole held-out groups, train again on all rows (random
    held-out split for early stopping) and keep the grouped calibration, so no group is lost to the fit
    (twice the training time); False: keep the model trained without the held-out groups."""
    d_model: int = 32
    heads: int = 4
    layers: int = 1
    projection_iterations: int | None = None
    base_medium: dict[str, float] | None = None
    prior: str = "moma"
    anchor_reference: bool = True
    capacity_headroom: float | None = DEFAULT_HEADROOM
    """MOMA prior: a lowered enzyme level f caps |flux| at f x capacity, by default this x the wild-type
    |flux| (None: no caps)."""
    fit_capacities: bool = True
    """MOMA prior: estimate capacities from measured fluxes of designs that lower a reaction's level."""
    outside_ids: list[str] | None = None
    """Ids outside the organism model kept as plain feature columns, never mapped into the prior
    (`ko:<id>`, `expr:<gene>`, `medium:<exchange>`; `run_cv(..., outside_ids="raw")` fills it)."""
    omics_dropout: bool = True
    """Training with omics inputs: each row that has them also trains once with them marked absent (modality
    dropout, `omics_dropout.py`), so designs without omics (every proposal) are predicted from inputs the
    model was fitted on; the calibration is fitted on the held-out rows without their omics."""
    seed: int = 0
    graph_prior: str = "auto"
    """gnn: the flux vector its mass-balanced residual corrects: 'wildtype' (the organism's wild-type pFBA
    flux for every design, one LP), 'design' (the hybrid's per-design prior, `prior`, also an input), or
    'auto': 'design' on models under 500 reactions, 'wildtype' at genome scale (a MOMA LP per design there
    costs ~0.4 s)."""
    graph_hidden: int = 32
    """gnn: width of the node embeddings."""
    graph_layers: int = 3
    """gnn: message-passing rounds over the reaction–metabolite graph."""
    graph_dense: str = "all"
    """gnn: feature columns of the dense branch: 'all', or 'outside' (only those the graph does not hold)."""
