"""Designs (+ omics) -> feature matrices; measurements -> target matrices; standardisation."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from schemas.campaign import SearchSpace
from schemas.design import Design
from schemas.measurement import Measurement
from services.predictor.errors import PredictorError
from services.predictor.outside import without_outside

OmicsBlocks = dict[str, dict[str, float]]
"""One sample's omics: block ('transcriptomics', ...) -> feature -> value."""

OmicsList = Sequence[OmicsBlocks | None]

INTERVENTIONS = "interventions"
MEDIUM = "medium"


class OrganismLike(Protocol):
    """The part of `services.domain.organism.Organism` the predictor relies on."""

    reaction_ids: list[str]
    gene_ids: list[str]
    exchange_ids: list[str]
    lb: np.ndarray
    ub: np.ndarray
    biomass_index: int

    def reaction_index(self, rid: str) -> int: ...

    def validate_design(self, design: Design) -> None: ...

    def design_bounds(self, design: Design, base_medium: Any = None) -> tuple[np.ndarray, np.ndarray]: ...


@dataclass
class FeatureSpace:
    """Which input columns exist; fitted once per model and saved with it.

    Columns: `ko:<id>` (0/1), `expr:<gene>` (log2 fold change), `param:<name>` (black-box parameter
    value), `medium:<exchange>` (uptake bound, mmol/gDW/h), `omics.<block>:<feature>` and, for a plain
    feature matrix, `x<i>`.
    """

    knockouts: list[str] = field(default_factory=list)
    expression: list[str] = field(default_factory=list)
    medium: list[str] = field(default_factory=list)
    medium_default: list[float] = field(default_factory=list)
    omics: dict[str, list[str]] = field(default_factory=dict)
    raw: int = 0
    parameters: list[str] = field(default_factory=list)
    pools: dict[str, list[str]] = field(default_factory=dict)
    """Kind ('ko', 'expr', 'medium') -> the ids the training designs actually varied (stand-ins for unseen ids)."""
    outside: list[str] = field(default_factory=list)
    """Ids outside the organism model (`ko:<id>`, `expr:<gene>`, `medium:<exchange>`) kept as plain inputs
    (`outside_ids="raw"`): exempt from the organism check, never mapped into the network prior."""

    @classmethod
    def fit(
        cls,
        designs: Sequence[Design],
        omics: OmicsList | None = None,
        search_space: SearchSpace | None = None,
        organism: OrganismLike | None = None,
        outside: Sequence[str] = (),
    ) -> FeatureSpace:
        """Columns = every id seen in the designs, the search space and the omics blocks.

        `outside`: ids the organism model lacks that stay plain columns (see `outside_ids`).
        """
        kos: set[str] = set()
        expr: set[str] = set()
        med: set[str] = set()
        params: set[str] = set()
        for d in designs:
            kos.update(d.knockouts)
            expr.update(d.expression)
            med.update(d.medium)
            params.update(d.parameters)
        if search_space is not None:
            params.update(p.name for p in search_space.parameters)
            kos.update(search_space.knockout_candidates)
            expr.update(p.gene for p in search_space.expression)
            med.update(p.exchange for p in search_space.medium)
        blocks: dict[str, set[str]] = {}
        for sample in omics or []:
            for block, feats in (sample or {}).items():
                blocks.setdefault(block, set()).update(feats)
        medium = sorted(med)
        return cls(
            knockouts=sorted(kos), expression=sorted(expr), medium=medium,
            medium_default=[_default_uptake(organism, ex) for ex in medium],
            omics={b: sorted(f) for b, f in sorted(blocks.items())}, parameters=sorted(params),
            pools=_pools(designs), outside=sorted(outside),
        )

    @classmethod
    def for_matrix(cls, n_columns: int) -> FeatureSpace:
        """A feature space for a plain numeric matrix (all columns are one 'interventions' modality)."""
        return cls(raw=n_columns)

    @property
    def columns(self) -> list[str]:
        """Column names in matrix order."""
        if self.raw:
            return [f"x{i}" for i in range(self.raw)]
        cols = [f"ko:{k}" for k in self.knockouts] + [f"expr:{g}" for g in self.expression]
        cols += [f"param:{p}" for p in self.parameters] + [f"medium:{m}" for m in self.medium]
        for block, feats in self.omics.items():
            cols += [f"omics.{block}:{f}" for f in feats]
        return cols

    @property
    def n_columns(self) -> int:
        """Width of the feature matrix."""
        return len(self.columns)

    def modality_slices(self) -> dict[str, slice]:
        """Modality name -> column slice; empty modalities are left out."""
        if self.raw:
            return {INTERVENTIONS: slice(0, self.raw)}
        out: dict[str, slice] = {}
        start = 0
        n_int = len(self.knockouts) + len(self.expression) + len(self.parameters)
        for name, width in [(INTERVENTIONS, n_int), (MEDIUM, len(self.medium))]:
            if width:
                out[name] = slice(start, start + width)
            start += width
        for block, feats in self.omics.items():
            out[f"omics.{block}"] = slice(start, start + len(feats))
            start += len(feats)
        return out

    def encode(
        self, designs: Sequence[Design], omics: OmicsList | None = None, organism: OrganismLike | None = None,
        unseen: list[list[str]] | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Feature matrix (NaN where an omics value is absent) and omics presence mask (n x blocks).

        An id outside the feature space is an error, unless `unseen` is a list: then each row's such ids
        (`ko:<id>`, `expr:<gene>`, `medium:<exchange>`; valid for `organism` when one is given) are
        appended to it, one list per row, and left out of the matrix.
        """
        if self.raw:
            raise PredictorError("X", f"this model was trained on a {self.raw}-column feature matrix, not designs")
        if omics is not None and len(omics) != len(designs):
            raise PredictorError("omics", f"{len(omics)} omics entries for {len(designs)} designs")
        if unseen is not None:
            unseen.extend([] for _ in designs)
        ko_ix = {k: i for i, k in enumerate(self.knockouts)}
        ex_ix = {g: i for i, g in enumerate(self.expression)}
        md_ix = {m: i for i, m in enumerate(self.medium)}
        pa_ix = {p: i for i, p in enumerate(self.parameters)}
        n_ko, n_md = len(ko_ix), len(md_ix)
        n_ex = len(ex_ix) + len(pa_ix)  # expression and parameter columns sit between knockouts and medium
        X = np.zeros((len(designs), self.n_columns))
        X[:, n_ko + n_ex:n_ko + n_ex + n_md] = np.asarray(self.medium_default, dtype=float)
        if unseen is not None:  # a column the training designs never varied carries no learned weight either
            ko_ix, ex_ix, md_ix = (self._varied("ko", ko_ix), self._varied("expr", ex_ix),
                                   self._varied("medium", md_ix))
        for row, design in enumerate(designs):
            _validate(without_outside(design, self.outside), row, organism)
            new = unseen[row] if unseen is not None else None
            for j, ko in enumerate(design.knockouts):
                if _known(ko_ix, ko, new, "ko", f"designs[{row}].knockouts[{j}]",
                          f"unknown gene or reaction '{ko}'" + _not_a_feature(organism, ko)):
                    X[row, ko_ix[ko]] = 1.0
            for gene, fold in design.expression.items():
                if abs(fold - 1.0) <= 1e-12 and gene not in ex_ix:
                    continue
                if _known(ex_ix, gene, new, "expr", f"designs[{row}].expression.{gene}",
                          f"unknown gene '{gene}'" + _not_a_feature(organism, gene)):
                    X[row, n_ko + ex_ix[gene]] = math.log2(fold)
            self._encode_parameters(X[row, n_ko + len(ex_ix):n_ko + n_ex], design, row, pa_ix)
            for ex, uptake in design.medium.items():
                if _known(md_ix, ex, new, "medium", f"designs[{row}].medium.{ex}",
                          f"unknown exchange reaction '{ex}'" + _not_a_feature(organism, ex)):
                    X[row, n_ko + n_ex + md_ix[ex]] = uptake
        mask = self._encode_omics(X, omics, n_ko + n_ex + n_md)
        return X, mask

    def _varied(self, kind: str, index: dict[str, int]) -> dict[str, int]:
        """`index` restricted to the ids the training designs varied (all of it for models saved without)."""
        if kind not in self.pools:
            return index
        varied = set(self.pools[kind])
        return {k: i for k, i in index.items() if k in varied}

    @staticmethod
    def _encode_parameters(out: np.ndarray, design: Design, row: int, index: dict[str, int]) -> None:
        for name, value in design.parameters.items():
            if name not in index:
                raise PredictorError(f"designs[{row}].parameters.{name}", f"unknown parameter '{name}'")
            out[index[name]] = value
        missing = [p for p in index if p not in design.parameters]
        if missing:
            raise PredictorError(f"designs[{row}].parameters", f"missing parameter '{missing[0]}'")

    def _encode_omics(self, X: np.ndarray, omics: OmicsList | None, start: int) -> np.ndarray:
        mask = np.zeros((X.shape[0], len(self.omics)), dtype=bool)
        X[:, start:] = np.nan
        offset = start
        for b, (block, feats) in enumerate(self.omics.items()):
            f_ix = {f: i for i, f in enumerate(feats)}
            for row, sample in enumerate(omics or []):
                values = (sample or {}).get(block)
                if values is None:
                    continue
                mask[row, b] = True
                for feat, value in values.items():
                    if not math.isfinite(value):
                        raise PredictorError(f"omics[{row}].{block}.{feat}", "must be a finite number")
                    if feat in f_ix:  # features unseen in training carry no learned weight: ignored
                        X[row, offset + f_ix[feat]] = value
            offset += len(feats)
        return mask

    def encode_matrix(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Validate a plain feature matrix (shape, finiteness)."""
        X = np.asarray(X, dtype=float)
        if X.ndim != 2 or X.shape[1] != self.raw:
            raise PredictorError("X", f"expected a matrix with {self.raw} columns, got shape {X.shape}")
        bad = np.argwhere(~np.isfinite(X))
        if bad.size:
            r, c = bad[0]
            raise PredictorError(f"X[{r}, {c}]", "must be a finite number (NaN/inf in a feature)")
        return X, np.zeros((X.shape[0], 0), dtype=bool)

    def to_dict(self) -> dict[str, Any]:
        """Plain-data form, saved with the model."""
        return {"knockouts": self.knockouts, "expression": self.expression, "medium": self.medium,
                "medium_default": self.medium_default, "omics": self.omics, "raw": self.raw,
                "parameters": self.parameters, "pools": self.pools, "outside": self.outside}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FeatureSpace:
        """Inverse of `to_dict`."""
        return cls(**data)


def _known(index: dict[str, int], ident: str, unseen: list[str] | None, kind: str, field_name: str,
           reason: str) -> bool:
    """Whether `ident` is a column; if not, record it as unseen (when allowed) or raise naming the field."""
    if ident in index:
        return True
    if unseen is None:
        raise PredictorError(field_name, reason)
    unseen.append(f"{kind}:{ident}")
    return False


def _pools(designs: Sequence[Design]) -> dict[str, list[str]]:
    """The ids the designs vary: knocked out, expressed at a fold other than 1, set in the medium."""
    kos = {k for d in designs for k in d.knockouts}
    expr = {g for d in designs for g, f in d.expression.items() if abs(f - 1.0) > 1e-12}
    med = {m for d in designs for m in d.medium}
    return {"ko": sorted(kos), "expr": sorted(expr), "medium": sorted(med)}


def _default_uptake(organism: OrganismLike | None, exchange: str) -> float:
    if organism is None or exchange not in organism.reaction_ids:
        return 0.0
    return float(max(0.0, -organism.lb[organism.reaction_index(exchange)]))


def _validate(design: Design, row: int, organism: OrganismLike | None) -> None:
    if organism is None:
        return
    try:
        organism.validate_design(design)
    except Exception as exc:  # OrganismError(field, reason); rename the field to the batch position
        field_name = getattr(exc, "field", None)
        reason = getattr(exc, "reason", None) or str(exc)
        raise PredictorError(f"designs[{row}]" + (f".{field_name}" if field_name else ""), reason) from exc


_ID_SETS: dict[int, tuple[Any, frozenset[str]]] = {}


def _not_a_feature(organism: OrganismLike | None, ident: str) -> str:
    if organism is None:
        return ""
    held = _ID_SETS.get(id(organism))
    if held is None or held[0] is not organism:  # a set per organism: list lookups cost minutes at genome scale
        held = (organism, frozenset(organism.gene_ids) | frozenset(organism.reaction_ids))
        _ID_SETS[id(organism)] = held
    if ident in held[1]:
        return " (known to the organism model, but not among this predictor's features: retrain with it)"
    return ""


@dataclass
class Standardizer:
    """Per-column mean/sd, fitted on training data (NaN-aware); constant columns get sd 1."""

    mean: np.ndarray
    sd: np.ndarray

    @classmethod
    def fit(cls, values: np.ndarray) -> Standardizer:
        """Fit on a matrix whose NaNs are ignored."""
        values = np.asarray(values, dtype=float)
        if values.shape[0] == 0:
            return cls(np.zeros(values.shape[1]), np.ones(values.shape[1]))
        finite = np.isfinite(values)
        counts = finite.sum(axis=0)
        filled = np.where(finite, values, 0.0)
        mean = filled.sum(axis=0) / np.maximum(counts, 1)
        var = (np.where(finite, values - mean, 0.0) ** 2).sum(axis=0) / np.maximum(counts, 1)
        sd = np.sqrt(var)
        sd = np.where(sd > 1e-8, sd, 1.0)
        return cls(mean, sd)

    def transform(self, values: np.ndarray) -> np.ndarray:
        """(x - mean) / sd, NaNs kept."""
        return (values - self.mean) / self.sd

    def inverse(self, values: np.ndarray) -> np.ndarray:
        """Back to original units."""
        return values * self.sd + self.mean

    def to_dict(self) -> dict[str, list[float]]:
        """Plain-data form."""
        return {"mean": self.mean.tolist(), "sd": self.sd.tolist()}

    @classmethod
    def from_dict(cls, data: dict[str, list[float]]) -> Standardizer:
        """Inverse of `to_dict`."""
        return cls(np.asarray(data["mean"], dtype=float), np.asarray(data["sd"], dtype=float))


@dataclass
class TargetTable:
    """Targets (NaN where not measured) with their measurement sds (NaN where unknown)."""

    y: np.ndarray
    sd: np.ndarray
    names: list[str]


def _readouts(m: Measurement) -> Iterable[tuple[str, float, float]]:
    if m.growth_rate is not None:
        yield "growth", m.growth_rate.value, m.growth_rate.sd
    # Same precedence as Measurement.readout: values, products, fluxes, titers.
    for table in (m.titers, m.fluxes, m.products, m.values):
        for name, v in table.items():
            yield name, v.value, v.sd


def targets_from_measurements(measurements: Sequence[Measurement], names: Sequence[str] | None = None) -> TargetTable:
    """Target matrix over readout names ('growth', flux/product/titer/value ids), NaN where not measured."""
    if names is None:
        seen: dict[str, None] = {}
        for m in measurements:
            for name, _, _ in _readouts(m):
                seen.setdefault(name, None)
        names = ["growth"] * ("growth" in seen) + sorted(n for n in seen if n != "growth")
    index = {n: i for i, n in enumerate(names)}
    y = np.full((len(measurements), len(names)), np.nan)
    sd = np.full_like(y, np.nan)
    for row, m in enumerate(measurements):
        for name, value, s in _readouts(m):
            if name in index:
                y[row, index[name]] = value
                sd[row, index[name]] = s
    return TargetTable(y=y, sd=sd, names=list(names))


def omics_from_measurements(measurements: Sequence[Measurement]) -> list[OmicsBlocks | None]:
    """The omics blocks measured with each run (None where none were)."""
    return [dict(m.omics) if m.omics else None for m in measurements]
