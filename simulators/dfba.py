"""The true cell in batch culture: dynamic FBA (static optimisation, Mahadevan et al. 2002) over time.

At each step (h) the cell's uptake bounds come from hidden kinetics, FBA on the organism model (FastFBA,
warm-started HiGHS) gives the growth rate and every exchange flux, and the mass balances move:

    uptake_i <= Vmax_i * S_i / (Km_i + S_i) / (1 + P_ac / Ki_ac)     saturating, substrate-specific, inhibited
                                                                       by the acetate it secretes
    O2 uptake <= oxygen_transfer                                       overflow: with glucose in excess the
                                                                       respiratory limit makes FBA secrete acetate
    mu(t)  = a(t) * mu_FBA - kd ;  a(t) = 1 - exp(-t / lag)            lag phase, death
    dX/dt  = mu X ; dS_j/dt = v_j X  (v_j exchange flux, mmol/gDW/h; X gDW/L; S mM)

Maintenance is the model's ATPM lower bound. Sampling adds lab noise: OD = X / gDW_per_OD with a
multiplicative cv and an additive floor; concentrations with a cv and a detection floor.

How this departs from what the predictor is told: the predictor sees only sampled OD (or ln OD),
concentrations and the initial medium. It is not told Vmax, Km, the acetate inhibition, the oxygen-transfer
limit, the lag, the death rate or the OD conversion; it does not know the cell follows FBA at each step.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import numpy as np

from schemas import Design, Measurement, MeasurementSource
from schemas.timecourse import TimeCourseUnit
from services.domain.organism import FastFBA, Organism, load_organism

FREE_INORGANIC = frozenset({"h2o_e", "h_e", "pi_e", "nh4_e", "co2_e", "so4_e", "k_e", "na1_e", "mg2_e", "fe2_e"})
"""Base-medium (M9) components taken up without limit (with every other carbon-free exchange of the model, such as
the trace metals of iJO1366); every other exchange is closed unless in the medium."""

REPRESSION_MM = 0.5
"""A growth-coupled product is not re-consumed while a carbon source of the medium is above this (mM)."""


def carbon_free(organism: Organism) -> frozenset[str]:
    """Exchanged metabolites without carbon (salts, metals, gases) of a model: free in the base medium."""
    out = set()
    for ex in organism.exchange_ids:
        if not ex.startswith("EX_"):
            continue
        try:
            met = organism.cobra_model.metabolites.get_by_id(ex[3:])
        except KeyError:
            continue
        if met.formula and "C" not in met.elements:
            out.add(ex[3:])
    return frozenset(out)


@dataclass(frozen=True)
class BatchKinetics:
    """Hidden parameters of the batch culture (never shown to the predictor)."""

    vmax: Mapping[str, float] = field(default_factory=lambda: {
        "glc__D_e": 10.0, "xyl__D_e": 6.0, "succ_e": 8.0, "fru_e": 9.0, "ac_e": 3.0, "lac__D_e": 5.0,
        "glu__L_e": 4.0, "gln__L_e": 3.0, "akg_e": 4.0, "mal__L_e": 5.0, "pyr_e": 6.0})
    km: Mapping[str, float] = field(default_factory=lambda: {"glc__D_e": 0.015, "ac_e": 0.5})
    default_km: float = 0.2
    ki_acetate: float = 40.0
    """Acetate (mM) that halves every uptake."""
    oxygen_transfer: float = 12.0
    lag_h: float = 1.5
    death: float = 0.01
    gdw_per_od: float = 0.37
    inoculum_gdw: float = 0.01
    dt_h: float = 0.1


@dataclass(frozen=True)
class LabNoise:
    """Noise of the plate reader and the metabolite assay."""

    od_cv: float = 0.03
    od_floor: float = 0.002
    conc_cv: float = 0.04
    conc_floor: float = 0.05

    def apply(self, od: np.ndarray, concentrations: dict[str, np.ndarray], rng: np.random.Generator,
              od_min: float = 0.0) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """Readings of true OD and concentrations: multiplicative and additive errors, clipped at `od_min` / 0."""
        noisy_od = np.maximum(od * (1 + self.od_cv * rng.standard_normal(od.shape))
                              + self.od_floor * rng.standard_normal(od.shape), od_min)
        conc = {m: np.maximum(v * (1 + self.conc_cv * rng.standard_normal(v.shape))
                              + self.conc_floor * rng.standard_normal(v.shape), 0.0)
                for m, v in concentrations.items()}
        return noisy_od, conc


@dataclass
class BatchCurve:
    """Noise-free trajectory: times (h), biomass (gDW/L), concentrations (mM) per metabolite."""

    times: np.ndarray
    biomass: np.ndarray
    concentrations: dict[str, np.ndarray]
    growth: np.ndarray

    def od(self, kinetics: BatchKinetics) -> np.ndarray:
        """OD600 implied by the biomass."""
        return self.biomass / kinetics.gdw_per_od


class BatchCulture:
    """dFBA of one organism in a well-mixed batch culture."""

    def __init__(self, organism: Organism | str = "textbook", kinetics: BatchKinetics | None = None) -> None:
        self.organism = load_organism(organism) if isinstance(organism, str) else organism
        self.kinetics = kinetics or BatchKinetics()
        self.fba = FastFBA(self.organism, reuse_reference=False)
        self._exchange = {ex[3:]: ex for ex in self.organism.exchange_ids if ex.startswith("EX_")}
        self._exchange_index = {met: self.organism.reaction_index(ex) for met, ex in self._exchange.items()}
        self._free = FREE_INORGANIC | carbon_free(self.organism)

    def tracked(self, init: Mapping[str, float], extra: Iterable[str] = ()) -> list[str]:
        """Metabolites followed: the medium's, acetate (the overflow product) and `extra` (e.g. a product)."""
        extra = set(extra)
        unknown = sorted((set(init) | extra) - set(self._exchange))
        if unknown:
            raise ValueError(f"init: the organism has no exchange for {', '.join(unknown)}")
        return sorted(set(init) | extra | {"ac_e"} & set(self._exchange))

    def _uptake_bounds(self, lb: np.ndarray, s: Mapping[str, float], x: float, dt: float,
                       repressed: frozenset[str] = frozenset(), carbon: frozenset[str] = frozenset()) -> None:
        k = self.kinetics
        inhibition = 1.0 / (1.0 + s.get("ac_e", 0.0) / k.ki_acetate)
        on_sugar = any(s.get(c, 0.0) > REPRESSION_MM for c in carbon)
        for met, i in self._exchange_index.items():
            if met == "o2_e":  # a design's tighter oxygen bound (an aeration design) holds
                lb[i] = max(lb[i], -k.oxygen_transfer)
            elif met in repressed and on_sugar:  # catabolite repression: a product is not re-consumed yet
                lb[i] = max(lb[i], 0.0)
            elif met in s:
                conc = s[met]
                rate = k.vmax.get(met, 2.0) * conc / (k.km.get(met, k.default_km) + conc) * inhibition
                lb[i] = -min(rate, conc / max(x * dt, 1e-12))
            elif met not in self._free:
                lb[i] = max(lb[i], 0.0)

    def _step_fluxes(self, base: tuple[np.ndarray, np.ndarray], s: Mapping[str, float], x: float,
                     dt: float, repressed: frozenset[str] = frozenset(), carbon: frozenset[str] = frozenset()
                     ) -> tuple[float, np.ndarray]:
        lb, ub = base[0].copy(), base[1].copy()
        self._uptake_bounds(lb, s, x, dt, repressed, carbon)
        result = self.fba.optimize(lb, ub)
        if not result.ok:
            return 0.0, np.zeros(len(lb))
        return result.growth, result.fluxes

    def simulate(self, init: Mapping[str, float], times: np.ndarray, design: Design | None = None,
                 coupled: Mapping[str, float] | None = None) -> BatchCurve:
        """Noise-free trajectory sampled at `times` (h) from initial concentrations (mM).

        `coupled`: product -> secretion per unit of the medium's carbon sources taken up (mol/mol) on top of
        FBA's exchange flux, the true cell's own ratio (`simulators/batch_runs.py`); such a product is followed
        and is not taken up while a carbon source of the initial medium is above `REPRESSION_MM`.
        """
        k = self.kinetics
        coupled = dict(coupled or {})
        base = self.organism.design_bounds(design or Design())
        mets = self.tracked(init, coupled)
        repressed = frozenset(coupled)
        carbon = frozenset(m for m, v in init.items() if v > 0 and m not in self._free and m not in repressed)
        s = {m: float(init.get(m, 0.0)) for m in mets}
        x, t = k.inoculum_gdw, 0.0
        out_x: list[float] = []
        out_mu: list[float] = []
        out_s: dict[str, list[float]] = {m: [] for m in mets}
        for target in np.asarray(times, dtype=float):
            mu = 0.0
            while t < target - 1e-9:
                dt = min(k.dt_h, target - t)
                growth, fluxes = self._step_fluxes(base, s, x, dt, repressed, carbon)
                active = 1.0 - np.exp(-(t + dt) / k.lag_h) if k.lag_h > 0 else 1.0
                mu = active * growth - k.death
                uptake = sum(max(0.0, -float(fluxes[self._exchange_index[c]])) for c in carbon) if coupled else 0.0
                for m in mets:
                    rate = fluxes[self._exchange_index[m]] + coupled.get(m, 0.0) * uptake
                    s[m] = max(0.0, s[m] + active * rate * x * dt)
                x *= float(np.exp(mu * dt))
                t += dt
            out_x.append(x)
            out_mu.append(mu)
            for m in mets:
                out_s[m].append(s[m])
        return BatchCurve(np.asarray(times, dtype=float), np.array(out_x),
                          {m: np.array(v) for m, v in out_s.items()}, np.array(out_mu))

    def sample(self, curve: BatchCurve, rng: np.random.Generator, noise: LabNoise | None = None
               ) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """Noisy OD and concentrations of a trajectory."""
        noise = noise or LabNoise()
        return noise.apply(curve.od(self.kinetics), curve.concentrations, rng, od_min=noise.od_floor)

    def measure(self, campaign_id: str, run_id: str, init: Mapping[str, float], times: np.ndarray,
                rng: np.random.Generator, design: Design | None = None,
                coupled: Mapping[str, float] | None = None) -> Measurement:
        """A Measurement carrying sampled ln OD and concentration time courses of one culture."""
        curve = self.simulate(init, times, design, coupled)
        od, conc = self.sample(curve, rng)
        courses = {"ln_od": {"unit": TimeCourseUnit.LN_OD.value,
                             "points": [{"time_h": float(t), "value": float(np.log(v))} for t, v in zip(times, od,
                                                                                                      strict=True)]}}
        for m, values in conc.items():
            courses[m] = {"unit": TimeCourseUnit.MM.value,
                          "points": [{"time_h": float(t), "value": float(v)} for t, v in zip(times, values,
                                                                                           strict=True)]}
        return Measurement.model_validate({
            "campaign_id": campaign_id, "run_id": run_id, "design": (design or Design()).model_dump(),
            "initial_concentrations": {m: float(v) for m, v in init.items()}, "time_courses": courses,
            "source": MeasurementSource.ROBOT.value,
        })
