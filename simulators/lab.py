"""The simulated wet lab: runs a design on the true cell (or a black-box function) and
measures it the way a real lab would, with noise, batches, dropouts, outliers and failures.

What a cell run reports (units):

* fluxes: central carbon fluxes as 13C-MFA would give them (mmol/gDW/h), each with sd;
  none when the culture did not grow (no labelling data without growth);
* growth_rate (1/h) with sd;
* products: secretion rates of fermentation products (exchange flux, mmol/gDW/h);
* titers (g/L) of secreted products: q x MW x X x t / 1000, with q the secretion rate
  (mmol/gDW/h), MW (g/mol), X the culture density (Culture.biomass_gdw_per_l) and t
  the culture time (Culture.hours) — a constant-biomass approximation;
* omics: "transcriptomics" log2 fold change per gene (designed level x hidden regulation,
  knocked-out genes at NOT_DETECTED_LOG2), "metabolomics" mM for a few metabolites (a
  seeded smooth function of the flux change).

Noise: value x batch offset x (1 + cv z) + abs_sd z'; a batch changes every
`batch_every` runs and shares one multiplicative offset. Same seed + same inputs (in the
same run order, for batches) -> identical measurement; the id is derived from them.
"""

from __future__ import annotations

import hashlib
import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

import numpy as np

from schemas.campaign import CampaignSpec, SimulatorSpec
from schemas.design import Design
from schemas.measurement import Measurement, Value
from schemas.timecourse import TimeCourseRequest
from schemas.work import RunFailed, WorkOrder
from simulators.functions import FunctionSimulator

if TYPE_CHECKING:  # the true cell needs COBRApy: imported only by labs that run one (function labs start fast)
    from simulators.batch_runs import BatchRuns
    from simulators.truecell import CellState, TrueCell

PRODUCT_EXCHANGES = (
    "EX_ac_e", "EX_succ_e", "EX_etoh_e", "EX_lac__D_e", "EX_for_e", "EX_akg_e", "EX_pyr_e", "EX_fum_e",
    "EX_mal__L_e", "EX_acald_e", "EX_glu__L_e",
)
MFA_REACTIONS = (
    "GLCpts", "PGI", "PFK", "FBA", "TPI", "GAPD", "PGK", "PGM", "ENO", "PYK", "PDH", "G6PDH2r", "GND", "RPI",
    "RPE", "TKT1", "TKT2", "TALA", "CS", "ACONTa", "ICDHyr", "AKGDH", "SUCOAS", "SUCDi", "FUM", "MDH", "ICL",
    "MALS", "PPC", "PPCK", "ME1", "ME2", "PTAr", "ACKr", "PFL", "LDH_D", "EX_glc__D_e", "EX_o2_e",
)
"""Central carbon fluxes resolved by 13C-MFA (ids of the E. coli core model; '<id>pp' is tried too)."""

FAILURE_REASONS = (
    "contamination detected in well {well}",
    "liquid handler aspiration error at {well}",
    "plate {plate} dropped by the gripper",
    "no growth in preculture (inoculum not viable)",
    "LC-MS sample lost: injection failure",
)


@dataclass(frozen=True)
class NoiseConfig:
    """How measurements deviate from the truth."""

    cv: float = 0.05
    abs_sd: float = 0.01
    batch_cv: float = 0.03
    batch_every: int = 8
    dropout_rate: float = 0.0
    outlier_rate: float = 0.0
    outlier_factor: tuple[float, float] = (3.0, 8.0)
    failure_rate: float = 0.0
    transcript_sd: float = 0.2
    metabolite_cv: float = 0.1
    duration_s: float = 0.0


@dataclass(frozen=True)
class Culture:
    """Culture assumptions behind titers."""

    biomass_gdw_per_l: float = 1.0
    hours: float = 24.0


@dataclass(frozen=True)
class RunFailure:
    """A run that produced no measurement, and why."""

    campaign_id: str
    run_id: str
    reason: str

    def to_message(self, station: str | None = None) -> RunFailed:
        """The wire event for this failure."""
        return RunFailed(campaign_id=self.campaign_id, run_id=self.run_id, reason=self.reason, station=station)


def _seed_of(*parts: object) -> list[int]:
    digest = hashlib.sha256("\x1f".join(map(str, parts)).encode()).digest()
    return [int.from_bytes(digest[i : i + 4], "little") for i in range(0, 16, 4)]


@dataclass
class _Slot:
    run_index: int
    batch_id: str
    plate_id: str
    well: str
    extra_flags: list[str] = field(default_factory=list)


class Lab:
    """A simulated lab station. Calls are cheap; not thread-safe (one per thread/task)."""

    def __init__(self, cell: TrueCell | FunctionSimulator, noise: NoiseConfig | None = None, seed: int = 0,
                 station: str = "sim1", culture: Culture | None = None) -> None:
        self.cell = cell
        self.noise = noise or NoiseConfig()
        self.seed = seed
        self.station = station
        self.culture = culture or Culture()
        self._runs = 0
        self._batch: BatchRuns | None = None
        if not isinstance(cell, FunctionSimulator):
            org = cell.organism
            self._mfa = [r for r in (_present(org.has_reaction, rid) for rid in MFA_REACTIONS) if r]
            self._products = [ex for ex in PRODUCT_EXCHANGES if ex in set(org.exchange_ids)]
            self._mw = {ex: _molar_mass(cell, ex) for ex in self._products}

    @classmethod
    def for_campaign(cls, spec: CampaignSpec, seed: int | None = None, station: str = "sim1") -> Lab:
        """The lab a campaign's SimulatorSpec describes (true cell or function; noise CV and failure rate)."""
        sim = spec.simulator or SimulatorSpec()
        noise = NoiseConfig(cv=sim.noise, failure_rate=sim.failure_rate)
        if sim.kind == "function":
            if not sim.expression:
                raise ValueError("simulator.expression: a function campaign needs an expression")
            names = [p.name for p in spec.search_space.parameters]
            return cls(FunctionSimulator(sim.expression, names, output=spec.objective.target), noise,
                       spec.seed if seed is None else seed, station)
        from simulators.cells import make_cell

        cell = make_cell(spec.organism.model, sim.profile)
        return cls(cell, noise, spec.seed if seed is None else seed, station)

    def _next_slot(self) -> _Slot:
        i = self._runs
        self._runs += 1
        well = f"{'ABCDEFGH'[(i % 96) // 12]}{i % 12 + 1:02d}"
        return _Slot(i, f"{self.station}-b{i // max(1, self.noise.batch_every):04d}", f"{self.station}-p{i // 96:04d}",
                     well)

    def run(self, design: Design, campaign_id: str, run_id: str, *, readouts: Sequence[str] = (),
            base_medium: Mapping[str, float] | None = None, measured_at: datetime | None = None,
            message_id: str | None = None, wait: bool = True,
            time_course: TimeCourseRequest | None = None) -> Measurement | RunFailure:
        """Build and measure one design; a RunFailure names why nothing was measured.

        With `time_course` (cell labs only) the design is also grown in batch culture and sampled over time.
        """
        slot = self._next_slot()
        rng = np.random.default_rng(_seed_of(self.seed, campaign_id, run_id, design.key()))
        if wait and self.noise.duration_s > 0:
            time.sleep(self.noise.duration_s)
        if rng.random() < self.noise.failure_rate:
            reason = str(rng.choice(FAILURE_REASONS)).format(well=slot.well, plate=slot.plate_id)
            return RunFailure(campaign_id, run_id, reason)
        fields: dict[str, object] = {
            "id": message_id or hashlib.sha256(str(_seed_of(self.seed, campaign_id, run_id, design.key(),
                                                            slot.run_index)).encode()).hexdigest()[:32],
            "campaign_id": campaign_id, "run_id": run_id, "design": design, "batch_id": slot.batch_id,
            "plate_id": slot.plate_id, "well": slot.well, "station": self.station,
        }
        if measured_at is not None:
            fields["measured_at"] = measured_at
        batch = np.random.default_rng(_seed_of(self.seed, slot.batch_id))
        offset = float(np.exp(batch.normal(0.0, self.noise.batch_cv)))
        try:
            if isinstance(self.cell, FunctionSimulator):
                fields.update(self._measure_function(design, rng, offset))
            else:
                fields.update(self._measure_cell(design, readouts, base_medium, rng, offset))
                if time_course is not None:
                    fields.update(self._time_course(design, time_course, campaign_id, run_id))
        except ValueError as exc:  # OrganismError included
            return RunFailure(campaign_id, run_id, f"design rejected: {exc}")
        return Measurement.model_validate(fields)

    def run_order(self, order: WorkOrder, measured_at: datetime | None = None) -> Measurement | RunFailure:
        """Run a work order (its campaign, run id, design and requested readouts)."""
        return self.run(order.design, order.campaign_id, order.run_id, readouts=order.readouts,
                        measured_at=measured_at, time_course=order.time_course)

    def _time_course(self, design: Design, request: TimeCourseRequest, campaign_id: str, run_id: str
                     ) -> dict[str, object]:
        """The batch culture's sampled courses (own random stream: the end-point readouts stay as without)."""
        assert not isinstance(self.cell, FunctionSimulator)
        if self._batch is None:
            from simulators.batch_runs import BatchRuns

            self._batch = BatchRuns(self.cell)
        rng = np.random.default_rng(_seed_of(self.seed, campaign_id, run_id, design.key(), "time_course"))
        return self._batch.fields(design, request, rng)

    def _noisy(self, truth: float, rng: np.random.Generator, offset: float) -> Value:
        cfg = self.noise
        measured = truth * offset * (1.0 + cfg.cv * rng.normal()) + cfg.abs_sd * rng.normal()
        if rng.random() < cfg.outlier_rate:
            factor = rng.uniform(*cfg.outlier_factor)
            measured = measured * factor if rng.random() < 0.5 else measured / factor
        return Value(value=measured, sd=math.hypot(cfg.cv * measured, cfg.abs_sd))

    def _table(self, truths: Mapping[str, float], rng: np.random.Generator, offset: float) -> dict[str, Value]:
        out = {}
        for key, truth in truths.items():
            value = self._noisy(truth, rng, offset)  # drawn before the dropout test keeps streams aligned
            if rng.random() >= self.noise.dropout_rate:
                out[key] = value
        return out

    def _measure_function(self, design: Design, rng: np.random.Generator, offset: float) -> dict[str, object]:
        assert isinstance(self.cell, FunctionSimulator)
        y = self.cell.evaluate(design.parameters)
        sd = self.noise.cv * max(abs(y), 1.0)
        measured = y + sd * rng.normal()
        return {"values": {self.cell.output: Value(value=measured, sd=sd)}}

    def _measure_cell(self, design: Design, readouts: Sequence[str], base_medium: Mapping[str, float] | None,
                      rng: np.random.Generator, offset: float) -> dict[str, object]:
        assert not isinstance(self.cell, FunctionSimulator)
        state = self.cell.respond(design, base_medium)
        org = self.cell.organism
        unknown = [r for r in readouts if r != "growth" and not org.has_reaction(r)]
        if unknown:
            raise ValueError(f"readouts: unknown reaction {unknown[0]!r} in model {org.name!r}")
        growth = self._noisy(state.growth, rng, offset)
        growth = Value(value=max(0.0, growth.value), sd=growth.sd)
        alive = state.status == "ok"
        products = {ex: state.exchange[ex] if alive else 0.0 for ex in self._products}
        flux_ids = list(dict.fromkeys([*self._mfa, *(r for r in readouts if r != "growth")]))
        fluxes = {rid: state.flux(rid) for rid in flux_ids} if alive else {}
        measured_products = self._table(products, rng, offset)
        titers = {ex.removeprefix("EX_"): self._titer(ex, v.value, v.sd) for ex, v in measured_products.items()
                  if v.value > 0 and ex in self._mw}
        return {
            "growth_rate": growth, "fluxes": self._table(fluxes, rng, offset), "products": measured_products,
            "titers": titers, "omics": self._omics(state, rng), "qc_flags": [] if alive else ["no_growth"],
        }

    def _titer(self, exchange: str, rate: float, sd: float) -> Value:
        scale = self._mw[exchange] * self.culture.biomass_gdw_per_l * self.culture.hours / 1000.0
        return Value(value=rate * scale, sd=sd * scale)

    def _omics(self, state: CellState, rng: np.random.Generator) -> dict[str, dict[str, float]]:
        from simulators.omics import metabolomics, transcriptomics

        assert not isinstance(self.cell, FunctionSimulator)
        blocks = {
            "transcriptomics": transcriptomics(self.cell, state, rng, self.noise.transcript_sd),
            "metabolomics": metabolomics(self.cell, state, rng, self.noise.metabolite_cv),
        }
        rate = self.noise.dropout_rate
        return {name: {k: v for k, v in block.items() if rng.random() >= rate} for name, block in blocks.items()}


def _present(has_reaction: object, rid: str) -> str | None:
    assert callable(has_reaction)
    for candidate in (rid, rid + "pp"):
        if has_reaction(candidate):
            return candidate
    return None


def _molar_mass(cell: TrueCell, exchange: str) -> float:
    reaction = cell.organism.cobra_model.reactions.get_by_id(exchange)
    metabolite = next(iter(reaction.metabolites))
    return float(metabolite.formula_weight or 0.0)
