"""The graph neural network `gnn` on the E. coli core model: graph, node features, train/predict/save/load."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from schemas.design import Design
from services.predictor.deepmodel import DeepModel
from services.predictor.errors import PredictorError
from services.predictor.gnn import CHANNELS, build_graph, node_channels

FAST: dict[str, Any] = {"epochs": 80, "patience": 20, "ensemble": 3, "graph_hidden": 16, "hidden": (32, 32)}
KOS = ["b1852", "b0728", "b3916", "b1723", "b4025", "b2975", "b0356", "b2296", "b1241", "b0903"]
EFFECT = dict(zip(KOS, np.random.default_rng(3).normal(0.0, 1.0, len(KOS)), strict=True))


def _data(n: int, kos: list[str], seed: int) -> tuple[list[Design], np.ndarray]:
    """Up to two knockouts and a glucose uptake per design; growth and PGI a known function of them."""
    rng = np.random.default_rng(seed)
    designs, rows = [], []
    for _ in range(n):
        ko = sorted(rng.choice(kos, size=int(rng.integers(0, 3)), replace=False).tolist())
        glc = float(rng.uniform(5, 10))
        designs.append(Design(knockouts=ko, medium={"EX_glc__D_e": glc}))
        effect = sum(EFFECT[k] for k in ko)
        rows.append([0.08 * glc - 0.05 * effect ** 2 + rng.normal(0, 0.01), glc + effect + rng.normal(0, 0.05)])
    return designs, np.array(rows)


@pytest.fixture(scope="module")
def trained() -> DeepModel:
    designs, y = _data(200, KOS[:7], seed=0)
    model = DeepModel("gnn", "textbook", seed=0, **FAST)
    model.train(designs, y, names=["growth", "PGI"])
    return model


def test_graph_is_bipartite_with_stoichiometric_weights(core_organism: Any) -> None:
    g = build_graph(core_organism)
    S = core_organism.S.tocoo()
    assert g.n_reactions == len(core_organism.reaction_ids) and g.n_metabolites == len(core_organism.metabolite_ids)
    assert g.edge_index.shape == (2, 2 * S.nnz)
    src, dst = g.edge_index
    assert ((src < g.n_reactions) != (dst < g.n_reactions)).all()  # every edge joins a reaction and a metabolite
    # the sign of each weight is that of the coefficient: consumed < 0 < produced
    pgi = core_organism.reaction_index("PGI")
    g6p = g.n_reactions + core_organism.metabolite_ids.index("g6p_c")
    f6p = g.n_reactions + core_organism.metabolite_ids.index("f6p_c")
    w = {(int(a), int(b)): float(x) for a, b, x in zip(src, dst, g.edge_weight, strict=True)}
    assert w[(pgi, g6p)] < 0 < w[(pgi, f6p)] and w[(g6p, pgi)] == w[(pgi, g6p)]
    assert np.isfinite(g.node_x).all() and g.node_x.shape[0] == g.n_nodes


def test_node_features_follow_the_gpr_rules(trained: DeepModel, core_organism: Any) -> None:
    designs = [Design(knockouts=["b1852"]),             # zwf: G6PDH2r's only gene, blocks it
               Design(knockouts=["b4025"]),             # pgi
               Design(knockouts=["b1676"]),             # pykF: one of two isozymes of PYK, blocks nothing
               Design(knockouts=["PFL"]),               # a reaction id
               Design(expression={"b3916": 4.0}),       # pfkA (OR pfkB): PFK capacity (4 + 1) / 2
               Design(medium={"EX_glc__D_e": 5.0})]     # default uptake 10
    values, index = node_channels(trained, designs, None)
    n = len(core_organism.reaction_ids) + len(core_organism.metabolite_ids)
    dense = [np.zeros((len(designs), n)) for _ in CHANNELS]
    for d, v, i in zip(dense, values, index, strict=False):
        d[:, i.numpy()] = v.numpy()
    blocked, level, uptake = dense
    ix = core_organism.reaction_index
    assert blocked[0, ix("G6PDH2r")] == 1 and blocked[0].sum() == 1
    assert blocked[1, ix("PGI")] == 1
    assert blocked[2].sum() == 0 and level[2, ix("PYK")] == pytest.approx(-1.0)
    assert blocked[3, ix("PFL")] == 1
    assert level[4, ix("PFK")] == pytest.approx(np.log2(2.5))
    assert uptake[5, ix("EX_glc__D_e")] == pytest.approx(-0.5) and uptake[5].sum() == pytest.approx(-0.5)


def test_gnn_fits_and_predicts_mass_balanced_fluxes(trained: DeepModel) -> None:
    designs, y = _data(120, KOS[:7], seed=1)
    report = trained.evaluate(designs, y)
    assert report["r2:growth"] > 0.7 and report["r2:PGI"] > 0.7
    assert report["mass_balance_violation"] < 1e-3
    flux = trained.full_flux(designs[:4])
    assert flux.shape == (4, len(trained.organism.reaction_ids))
    pred = trained.predict(designs[:4])
    np.testing.assert_allclose(flux[:, trained.organism.reaction_index("PGI")], pred.mean[:, 1], rtol=1e-4, atol=1e-4)
    assert (pred.sd > 0).all()


def test_gnn_survives_save_and_load(trained: DeepModel, tmp_path: Any) -> None:
    path = tmp_path / "gnn.pt"
    trained.save(path)
    again = DeepModel.load(path)
    designs = _data(10, KOS, seed=2)[0] + [Design(knockouts=["b2276"])]
    a, b = trained.predict(designs), again.predict(designs)
    np.testing.assert_array_equal(a.mean, b.mean)
    np.testing.assert_array_equal(a.sd, b.sd)
    assert again.config.kind == "gnn"


def test_unseen_knockouts_are_predicted_through_the_graph(trained: DeepModel) -> None:
    """Knockouts no training design had are answered, not marked unseen, and told apart by the graph."""
    new = [Design(knockouts=[k], medium={"EX_glc__D_e": 8.0}) for k in [*KOS[7:], "b2276", "b0720"]]
    pred = trained.predict(new)
    assert pred.unseen == [[] for _ in new]
    assert np.isfinite(pred.mean).all() and (pred.sd > 0).all()
    assert np.unique(np.round(pred.mean[:, 1], 6)).size == len(new)  # each knockout gets its own answer


def test_gnn_needs_an_organism_and_designs() -> None:
    with pytest.raises(PredictorError, match="organism"):
        DeepModel("gnn", None)
    model = DeepModel("gnn", "textbook", **FAST)
    with pytest.raises(PredictorError, match="designs"):
        model.train(np.zeros((5, 2)), np.zeros((5, 1)))
    with pytest.raises(PredictorError) as err:
        model.train([Design(knockouts=["b9999"])] * 5, np.zeros((5, 1)), names=["growth"])
    assert "knockouts[0]" in err.value.field and "b9999" in str(err.value)


def _csv(path: Any, designs: list[Design], y: np.ndarray, kos: list[str]) -> Any:
    lines = [",".join([f"ko:{k}" for k in kos] + ["medium:EX_glc__D_e", "y:growth", "y:PGI"])]
    for d, row in zip(designs, y, strict=True):
        cells = ["1" if k in d.knockouts else "0" for k in kos]
        lines.append(",".join([*cells, f"{d.medium['EX_glc__D_e']:.3f}", f"{row[0]:.4f}", f"{row[1]:.4f}"]))
    path.write_text("\n".join(lines) + "\n")
    return path


def test_cli_fits_predicts_and_evaluates_a_gnn_on_files_with_new_knockouts(tmp_path: Any) -> None:
    import json

    from typer.testing import CliRunner

    from services.predictor.cli import app

    train, test = _data(120, KOS[:7], seed=4), _data(40, KOS[7:], seed=5)
    a = _csv(tmp_path / "a.csv", *train, KOS[:7])
    b = _csv(tmp_path / "b.csv", *test, KOS[7:])
    runner = CliRunner()
    model = tmp_path / "gnn.pt"
    fit = runner.invoke(app, ["fit", "--data", str(a), "--model", "gnn", "--ensemble", "2", "--out", str(model),
                              "--json"])
    assert fit.exit_code == 0, fit.output
    assert json.loads(fit.stdout)["organism"] == "textbook"
    pred = runner.invoke(app, ["predict", "--model", str(model), "--data", str(b), "--out", str(tmp_path / "p.csv"),
                               "--json"])
    assert pred.exit_code == 0, pred.output
    assert json.loads(pred.stdout)["unseen_rows"] == 0  # the graph knows the new knockouts
    ev = runner.invoke(app, ["evaluate", "--model", str(model), "--data", str(b), "--json"])
    assert ev.exit_code == 0 and json.loads(ev.stdout)["n_rows"] == 40
    cv = runner.invoke(app, ["cv", "--data", str(a), "--model", "gnn", "--folds", "2", "--ensemble", "2", "--json"])
    assert cv.exit_code == 0, cv.output
    assert json.loads(cv.stdout)["model"] == "gnn" and json.loads(cv.stdout)["unseen_rows"] == 0
