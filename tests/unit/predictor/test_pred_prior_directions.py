"""The hybrid reads a genome-scale prior along its training rows' principal directions."""

from __future__ import annotations

import torch

from services.predictor.models import PRIOR_DIRECTIONS_MIN_REACTIONS, Batch, HybridNet, prior_directions


def _low_rank(rows: int, width: int, rank: int, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(rows, rank, generator=g) @ torch.randn(rank, width, generator=g) + 3.0


def test_directions_span_the_training_priors_and_are_orthonormal() -> None:
    prior = _low_rank(200, PRIOR_DIRECTIONS_MIN_REACTIONS + 100, rank=12)
    basis = prior_directions(prior)
    assert basis is not None and basis.shape == (prior.shape[1], 12)
    assert torch.allclose(basis.T @ basis, torch.eye(12), atol=1e-5)
    centred = prior - prior.mean(dim=0)
    assert torch.allclose(centred @ basis @ basis.T, centred, atol=1e-3)  # nothing of a training row is lost


def test_small_models_and_full_rank_priors_enter_whole() -> None:
    assert prior_directions(_low_rank(200, 95, rank=5)) is None  # E. coli core size
    width = PRIOR_DIRECTIONS_MIN_REACTIONS + 10
    assert prior_directions(torch.randn(2 * width, width, generator=torch.Generator().manual_seed(1))) is None


def test_a_net_reading_directions_restores_from_its_state() -> None:
    n_rxn, rank, members = PRIOR_DIRECTIONS_MIN_REACTIONS + 20, 7, 2
    null = torch.linalg.qr(torch.randn(n_rxn, 30, generator=torch.Generator().manual_seed(2)))[0]
    prior = _low_rank(40, n_rxn, rank, seed=3)
    common = dict(members=members, d_in=4, n_blocks=0, flux_index=[0, 5], null_basis=null,
                  y_mean=torch.zeros(2), y_sd=torch.ones(2), prior_mean=prior.mean(dim=0), prior_sd=torch.ones(n_rxn),
                  hidden=(16, 16), iterations=0, prior_rank=rank)
    basis = prior_directions(prior - prior.mean(dim=0))
    assert basis is not None and basis.shape[1] == rank
    net = HybridNet(**common, prior_basis=basis)  # type: ignore[arg-type]
    # the first layer reads k coordinates, not n_rxn numbers
    assert net.state_dict()["body.0.0.weight"].shape[1] == 4 + rank + 1
    again = HybridNet(**common)  # type: ignore[arg-type]
    again.load_state_dict(net.state_dict())
    batch = Batch(x=torch.randn(40, 4), omics_mask=torch.zeros(40, 0), prior=prior, feasible=torch.ones(40))
    net.eval()
    again.eval()
    assert torch.equal(net(batch), again(batch))
