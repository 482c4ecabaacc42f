"""The example specs load, and the SBML one names a model file that the organism core reads."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.domain.organism import FastFBA, load_organism
from services.runtime.specfile import SpecFileError, load_spec

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


@pytest.mark.parametrize("name", ["succinate_core.toml", "sin_cos.toml", "sbml_core.yaml"])
def test_example_specs_validate(name: str) -> None:
    spec = load_spec(EXAMPLES / name)
    assert spec.budget > 0 and spec.batch_size > 0


def test_sbml_spec_model_grows_like_the_bundled_one() -> None:
    spec = load_spec(EXAMPLES / "sbml_core.yaml")
    assert Path(spec.organism.model).is_absolute() and Path(spec.organism.model).is_file()
    organism = load_organism(spec.organism.model)
    growth = FastFBA(organism).optimize(organism.lb, organism.ub).growth
    assert growth == pytest.approx(0.8739, abs=1e-3)


def test_unreadable_spec_is_one_clear_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("budget = [")
    with pytest.raises(SpecFileError, match=r"cannot parse bad\.toml"):
        load_spec(bad)


@pytest.mark.parametrize(("old", "new", "field"), [
    ('"b1380", "b1241"', '"b1380", "b9999"',
     r"search_space\.knockout_candidates\[1\]: unknown gene or reaction 'b9999'"),
    ('gene = "b0720"', 'gene = "b0000"', r"search_space\.expression\[1\]\.gene: unknown gene 'b0000'"),
])
def test_spec_naming_what_its_organism_lacks_is_one_clear_error(tmp_path: Path, old: str, new: str,
                                                                 field: str) -> None:
    text = (EXAMPLES / "succinate_core.toml").read_text()
    assert old in text
    bad = tmp_path / "bad.toml"
    bad.write_text(text.replace(old, new, 1))
    with pytest.raises(SpecFileError, match=field):
        load_spec(bad)


def test_example_comments_name_the_genes_as_the_model_does() -> None:
    import re

    from services.domain.organism import load_organism

    names = {g.id: g.name for g in load_organism("textbook").cobra_model.genes}
    text = (EXAMPLES / "succinate_core.toml").read_text()
    pairs = re.findall(r"\b(b\d{4})=(\w+)", text)
    assert len(pairs) >= 25 and ("b1602", "pntB") in pairs
    assert [(gid, name) for gid, name in pairs if names[gid] != name] == []


def test_spec_accepts_gene_names_and_suggests_on_a_miss(tmp_path: Path) -> None:
    text = (EXAMPLES / "succinate_core.toml").read_text()
    named = tmp_path / "named.toml"
    named.write_text(text.replace('"b1380", "b1241"', '"ldhA", "adhE"', 1).replace('gene = "b3956"', 'gene = "ppc"'))
    spec = load_spec(named)
    assert spec.search_space.knockout_candidates[:2] == ["b1380", "b1241"]
    assert spec.search_space.expression[0].gene == "b3956"
    typo = tmp_path / "typo.toml"
    typo.write_text(text.replace('"b1380", "b1241"', '"ldhX", "b1241"', 1))
    with pytest.raises(SpecFileError, match=r"knockout_candidates\[0\]: unknown gene or reaction 'ldhX'.*"
                                            r"did you mean b1380 \(ldhA\)\?"):
        load_spec(typo)


@pytest.mark.parametrize(("old", "new", "field"), [
    ('target = "EX_succ_e"', 'target = "EX_foo_e"',
     r"objective\.target: unknown readout 'EX_foo_e': neither 'growth' nor a reaction of model 'textbook'"),
    ('target = "EX_succ_e"', 'target = "EX_succ_e"\nsecond_target = "EX_sucq_e"', r"objective\.second_target"),
    ('target = "EX_succ_e"', 'target = "EX_sucx_e"', r"did you mean EX_succ_e\?"),
])
def test_unknown_objective_target_is_caught_at_spec_load(tmp_path: Path, old: str, new: str, field: str) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text((EXAMPLES / "succinate_core.toml").read_text().replace(old, new, 1))
    with pytest.raises(SpecFileError, match=field):
        load_spec(bad)


def test_starter_spec_loads_and_the_reference_covers_every_field(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from schemas.export import drift
    from schemas.specdoc import NESTED, SECTIONS
    from services.cli.campaign import app

    path = tmp_path / "mine.toml"
    result = CliRunner().invoke(app, ["init", str(path)])
    assert result.exit_code == 0, result.output
    spec = load_spec(path)
    assert spec.search_space.knockout_candidates == ["b1380", "b1241", "b2297", "b0903"]  # names became ids
    assert "# Highest fold change" in path.read_text()
    again = CliRunner().invoke(app, ["init", str(path)])
    assert again.exit_code != 0 and "exists" in str(again.exception)
    reference = (Path(__file__).resolve().parents[2] / "docs" / "campaign-spec.md").read_text()
    for prefix, model, _ in SECTIONS:
        assert f"## `[{prefix}]`" in reference or not prefix
        for name in model.model_fields:
            assert f"`{name}`" in reference or name in NESTED, name
    assert "[[search_space.medium]]" in reference and "mmol/gDW/h" in reference
    assert not [p for p in drift() if p.name == "campaign-spec.md"]
