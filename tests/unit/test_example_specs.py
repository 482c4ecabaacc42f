"""The example specs load, and the SBML one names a model file that the organism core reads."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.runtime.organism import FastFBA, load_organism
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
