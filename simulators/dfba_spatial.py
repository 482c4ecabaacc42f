"""The true cell in an unmixed environment: a colony on agar, dFBA at every grid point (the approach of COMETS).

The same hidden cell as the batch culture (simulators/dfba.py: saturating, substrate-specific uptake
inhibited by acetate, the oxygen-transfer cap, lag, death, FBA on the organism model at each step) grows on
a 1-D grid (an axisymmetric disc around the inoculum centre, or a planar strip). Method of lines, operator
split per step of dt: at every grid point the local concentrations set the uptake bounds, FBA gives growth
and exchange fluxes, the local mass balances move; then every metabolite diffuses (its own D, mm²/h) and
biomass spreads by a slow diffusion, both by backward-Euler steps of the finite-volume Laplacian
(services/domain/diffusion.py). Grid points whose rounded uptake bounds agree share one LP solve (FastFBA,
warm-started), so the far field of uniform medium costs one LP per step.

Sampled profiles: OD-equivalent biomass density (gDW/L of agar / gDW_per_OD) and concentrations vs
position at chosen times, with the batch culture's lab noise, published as one TimeCourse per readout and
position (`position_mm` set).

How this departs from what the predictor is told: as in batch, it is not told Vmax, Km, the acetate
inhibition, the oxygen cap, the lag, death or the OD conversion, nor that the cell runs FBA. It is told the
physical set-up: the grid, the diffusion coefficients, the inoculum profile and the initial medium. Oxygen
is not a diffusing species here: every grid point keeps the batch culture's oxygen-transfer cap (a thin
film under air), whereas the predictor's implicit base-medium resource diffuses like a small solute.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from schemas import Design, Measurement, MeasurementSource
from schemas.timecourse import TimeCourseUnit
from services.domain.diffusion import Grid
from simulators.dfba import BatchCulture, LabNoise

DEFAULT_DIFFUSIVITY = 2.0
"""Diffusion coefficient (mm²/h) of a small solute in agar (about 0.55e-9 m²/s) when none is listed."""


@dataclass(frozen=True)
class AgarPlate:
    """Physical set-up of the spatial culture (told to the predictor)."""

    grid: Grid = field(default_factory=Grid)
    diffusivity: Mapping[str, float] = field(default_factory=lambda: {
        "glc__D_e": 2.4, "fru_e": 2.4, "xyl__D_e": 2.6, "succ_e": 2.8, "ac_e": 4.3, "pyr_e": 3.6,
        "mal__L_e": 2.9, "lac__D_e": 3.6, "akg_e": 2.5, "glu__L_e": 2.7, "gln__L_e": 2.7})
    biomass_diffusivity: float = 0.01
    """Slow spreading of the colony (mm²/h)."""
    inoculum_peak_gdw: float = 0.05
    """Biomass density (gDW/L) at the centre of the spotted inoculum."""
    inoculum_radius_mm: float = 1.0
    dt_h: float = 0.1

    def diffusivity_of(self, met: str) -> float:
        """D (mm²/h) of one metabolite."""
        return float(self.diffusivity.get(met, DEFAULT_DIFFUSIVITY))

    def inoculum(self) -> np.ndarray:
        """Initial biomass density (gDW/L) per cell: a Gaussian spot at the centre."""
        r = self.grid.positions_mm
        return self.inoculum_peak_gdw * np.exp(-((r / self.inoculum_radius_mm) ** 2))


@dataclass
class SpatialProfiles:
    """Noise-free profiles: times (h), positions (mm), biomass (T x cells, gDW/L), concentrations (mM)."""

    times: np.ndarray
    positions_mm: np.ndarray
    biomass: np.ndarray
    concentrations: dict[str, np.ndarray]

    def od(self, gdw_per_od: float) -> np.ndarray:
        """OD-equivalent biomass density."""
        return self.biomass / gdw_per_od


class SpatialCulture:
    """dFBA of the batch culture's cell on an unmixed agar plate."""

    ROUND = 4
    """Decimals of the uptake bounds (mmol/gDW/h) at which grid points share one LP solution."""

    def __init__(self, culture: BatchCulture | None = None, plate: AgarPlate | None = None) -> None:
        self.culture = culture or BatchCulture()
        self.plate = plate or AgarPlate()
        self.lp_solves = 0

    def _uptake(self, mets: list[str], s: np.ndarray, x: np.ndarray, dt: float) -> np.ndarray:
        """Lower bounds of the tracked exchanges per grid point (cells x mets)."""
        k = self.culture.kinetics
        vmax = np.array([k.vmax.get(m, 2.0) for m in mets])
        km = np.array([k.km.get(m, k.default_km) for m in mets])
        ac = s[:, mets.index("ac_e")] if "ac_e" in mets else np.zeros(len(s))
        rate = vmax * s / (km + s) / (1.0 + ac / k.ki_acetate)[:, None]
        return -np.minimum(rate, s / np.maximum(x * dt, 1e-12)[:, None])

    def _fluxes(self, base_lb: np.ndarray, ub: np.ndarray, idx: np.ndarray, bounds: np.ndarray,
                cache: dict[tuple[float, ...], tuple[float, np.ndarray]]) -> tuple[np.ndarray, np.ndarray]:
        """Growth (cells) and tracked exchange fluxes (cells x mets); points with equal bounds share a solve."""
        rounded = np.round(bounds, self.ROUND)
        unique, inverse = np.unique(rounded, axis=0, return_inverse=True)
        growth, fluxes = np.zeros(len(unique)), np.zeros(unique.shape)
        for u, row in enumerate(unique):
            key = tuple(row.tolist())
            if key not in cache:
                lb = base_lb.copy()
                lb[idx] = np.minimum(row, 0.0)
                result = self.culture.fba.optimize(lb, ub)
                self.lp_solves += 1
                cache[key] = (result.growth, result.fluxes[idx].copy()) if result.ok else (0.0, np.zeros(len(idx)))
            growth[u], fluxes[u] = cache[key]
        inverse = np.asarray(inverse).reshape(-1)
        return growth[inverse], fluxes[inverse]

    def simulate(self, init: Mapping[str, float], times: np.ndarray, design: Design | None = None
                 ) -> SpatialProfiles:
        """Noise-free profiles sampled at `times` (h) from a uniform initial medium (mM)."""
        culture, plate, k = self.culture, self.plate, self.culture.kinetics
        mets = culture.tracked(init)
        base_lb, ub = culture.organism.design_bounds(design or Design())
        base_lb = base_lb.copy()
        culture._uptake_bounds(base_lb, dict.fromkeys(mets, 0.0), 1.0, plate.dt_h)  # closes the rest, caps O2
        idx = np.array([culture._exchange_index[m] for m in mets])
        steps = {m: plate.grid.implicit_step(plate.diffusivity_of(m), plate.dt_h) for m in mets}
        spread = plate.grid.implicit_step(plate.biomass_diffusivity, plate.dt_h)
        s = np.tile([float(init.get(m, 0.0)) for m in mets], (plate.grid.cells, 1))
        x = plate.inoculum()
        cache: dict[tuple[float, ...], tuple[float, np.ndarray]] = {}
        out_x, out_s, t = [], [], 0.0
        for target in np.asarray(times, dtype=float):
            while t < target - 1e-9:
                dt = min(plate.dt_h, target - t)
                if abs(dt - plate.dt_h) > 1e-12:
                    steps = {m: plate.grid.implicit_step(plate.diffusivity_of(m), dt) for m in mets}
                    spread = plate.grid.implicit_step(plate.biomass_diffusivity, dt)
                growth, fluxes = self._fluxes(base_lb, ub, idx, self._uptake(mets, s, x, dt), cache)
                active = 1.0 - np.exp(-(t + dt) / k.lag_h) if k.lag_h > 0 else 1.0
                s = np.maximum(0.0, s + active * fluxes * (x * dt)[:, None])
                x = x * np.exp((active * growth - k.death) * dt)
                s = np.column_stack([steps[m] @ s[:, j] for j, m in enumerate(mets)])
                x = spread @ x
                t += dt
            out_x.append(x.copy())
            out_s.append(s.copy())
        stacked = np.array(out_s)
        return SpatialProfiles(np.asarray(times, dtype=float), plate.grid.positions_mm, np.array(out_x),
                               {m: stacked[:, :, j] for j, m in enumerate(mets)})

    def sample(self, profiles: SpatialProfiles, rng: np.random.Generator, noise: LabNoise | None = None
               ) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """Noisy OD-equivalent density and concentrations (T x cells), the batch culture's lab noise."""
        noise = noise or LabNoise()
        return noise.apply(profiles.od(self.culture.kinetics.gdw_per_od), profiles.concentrations, rng)

    def measure(self, campaign_id: str, run_id: str, init: Mapping[str, float], times: np.ndarray,
                rng: np.random.Generator, design: Design | None = None) -> Measurement:
        """A Measurement with one course per readout and grid point: `od[i]`, `<met>[i]`, position_mm set."""
        profiles = self.simulate(init, times, design)
        od, conc = self.sample(profiles, rng)
        readouts = {"od": (TimeCourseUnit.OD, od), **{m: (TimeCourseUnit.MM, v) for m, v in conc.items()}}
        courses = {}
        for name, (unit, values) in readouts.items():
            for i, pos in enumerate(profiles.positions_mm):
                courses[f"{name}[{i}]"] = {
                    "unit": unit.value, "position_mm": float(pos),
                    "points": [{"time_h": float(t), "value": float(v)} for t, v in zip(times, values[:, i],
                                                                                     strict=True)]}
        return Measurement.model_validate({
            "campaign_id": campaign_id, "run_id": run_id, "design": (design or Design()).model_dump(),
            "initial_concentrations": {m: float(v) for m, v in init.items()}, "time_courses": courses,
            "source": MeasurementSource.ROBOT.value,
        })


def profile_arrays(measurement: Measurement, readout: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Positions (mm), times (h) and values (T x positions) of one readout's profile in a Measurement."""
    courses = sorted(((c.position_mm, c) for name, c in measurement.time_courses.items()
                      if name.startswith(f"{readout}[") and c.position_mm is not None), key=lambda pc: pc[0])
    if not courses:
        raise ValueError(f"time_courses: no spatial profile of readout {readout!r}")
    times = np.array(courses[0][1].times)
    values = np.array([c.values for _, c in courses]).T
    return np.array([p for p, _ in courses]), times, values
