"""Prospective yes/no calls, scored only where they can say something.

"Beats the reference" scores 1.0 / 1.0 / 1.0 when the wild type makes no product: every design beats it. The
call that matters to a campaign is whether a proposed design beats the *incumbent* (the best value measured
before its round) by more than the measurement noise. Each round's call is judged against that round's bar;
precision, recall, F1 and ROC-AUC (of the predicted probability of clearing the bar) are reported only where
both outcomes occur often enough, per round and pooled over rounds; elsewhere the report says why not.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from schemas import Measurement, Sense
from services.report.prospective import Pair
from services.report.replicates import ReplicateGroup, pooled_sd

MIN_PER_CLASS_ROUND = 2
"""A round's call is scored when at least this many designs cleared the bar and this many did not."""
MIN_PER_CLASS_POOLED = 3
"""The same for the call pooled over rounds."""
RELATIVE_MARGIN = 0.05
"""Without replicates to measure the noise: the margin is this fraction of the incumbent."""


@dataclass(frozen=True)
class Margin:
    """How far past the incumbent a design must land to count as beating it (objective units, or relative)."""

    absolute: float | None
    relative: float
    source: str

    def of(self, incumbent: float) -> float:
        """The margin at this incumbent."""
        return self.absolute if self.absolute is not None else self.relative * abs(incumbent)


def choose_margin(groups: list[ReplicateGroup], given: float | None = None) -> Margin:
    """The margin given on the command line; else the pooled replicate sd; else 5 % of the incumbent."""
    if given is not None:
        return Margin(given, 0.0, "given")
    sd, dof = pooled_sd(groups)
    if sd is not None and dof >= 2:
        return Margin(sd, 0.0, f"measured noise: replicate sd pooled over {len(groups)} repeated design(s), "
                               f"{dof} degrees of freedom")
    return Margin(None, RELATIVE_MARGIN, f"no replicates to measure the noise: {RELATIVE_MARGIN:.0%} of the incumbent")


def incumbents(sense: Sense, target: str, measurements: list[Measurement], round_of_run: dict[str, int],
               rounds: Sequence[int]) -> dict[int, float]:
    """Round -> the best value measured in earlier rounds (runs without a round count as known from the start)."""
    pick = max if sense == Sense.MAXIMIZE else min
    out: dict[int, float] = {}
    for r in rounds:
        earlier = [v for m in measurements if round_of_run.get(m.run_id, -1) < r
                   and (v := m.readout(target)) is not None]
        if earlier:
            out[r] = pick(earlier)
    return out


def _auc(positive: np.ndarray, score: np.ndarray) -> float:
    """ROC-AUC by Mann–Whitney (ties count one half)."""
    pos, neg = score[positive], score[~positive]
    greater = (pos[:, None] > neg[None, :]).sum() + 0.5 * (pos[:, None] == neg[None, :]).sum()
    return float(greater) / (len(pos) * len(neg))


def _probability(gap: float, sd: float) -> float:
    """P(reading past the bar) under the prediction's normal distribution, gap = mean - bar in the call's sense."""
    if sd > 0:
        return 0.5 * (1.0 + math.erf(gap / (sd * math.sqrt(2.0))))
    return 1.0 if gap > 0 else 0.0


def _scores(pairs: list[Pair], bars: dict[int, float], sense: Sense) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(measured cleared the bar, predicted mean cleared it, predicted probability of clearing it)."""
    sign = 1.0 if sense == Sense.MAXIMIZE else -1.0
    truth = np.array([sign * (p.measured - bars[p.round]) > 0 for p in pairs], dtype=bool)
    called = np.array([sign * (p.predicted - bars[p.round]) > 0 for p in pairs], dtype=bool)
    prob = np.array([_probability(sign * (p.predicted - bars[p.round]), p.sd) for p in pairs])
    return truth, called, prob


def score(pairs: list[Pair], bars: dict[int, float], sense: Sense, what: str, min_per_class: int) -> dict[str, Any]:
    """Precision / recall / F1 / ROC-AUC of the call, or `why_not` in words when it cannot say anything."""
    scored = [p for p in pairs if p.round in bars]
    out: dict[str, Any] = {"n": len(scored), "n_positive": 0, "informative": False,
                           "precision": None, "recall": None, "f1": None, "roc_auc": None, "why_not": None}
    if not scored:
        out["why_not"] = "no design was predicted before its experiment with an incumbent to beat"
        return out
    truth, called, prob = _scores(scored, bars, sense)
    n_pos, n_neg = int(truth.sum()), int((~truth).sum())
    out["n_positive"] = n_pos
    if n_pos < min_per_class:
        count = f"none of the {len(scored)} designs" if n_pos == 0 else f"only {n_pos} of {len(scored)} designs"
        out["why_not"] = f"{count} {what}: too few to judge the call (needs {min_per_class})"
        return out
    if n_neg < min_per_class:
        out["why_not"] = (f"{n_pos} of {len(scored)} designs {what}: with (almost) every design a positive any call "
                          "scores well, so the figures would say nothing")
        return out
    tp = int((truth & called).sum())
    precision = tp / int(called.sum()) if called.any() else 0.0
    recall = tp / n_pos
    f1 = 2 * precision * recall / (precision + recall) if precision + recall > 0 else 0.0
    out.update(informative=True, precision=round(precision, 4), recall=round(recall, 4), f1=round(f1, 4),
               roc_auc=round(_auc(truth, prob), 4))
    return out


def beats_incumbent(pairs: list[Pair], incumbent: dict[int, float], margin: Margin, sense: Sense,
                    unit: str) -> dict[str, Any]:
    """The call 'beats the incumbent by the margin', per round and pooled over rounds."""
    sign = 1.0 if sense == Sense.MAXIMIZE else -1.0
    bars = {r: v + sign * margin.of(v) for r, v in incumbent.items()}
    what = "beat the incumbent by the margin" if sense == Sense.MAXIMIZE else "undercut the incumbent by the margin"
    rounds = []
    for r in sorted({p.round for p in pairs}):
        in_round = [p for p in pairs if p.round == r]
        entry: dict[str, Any] = {"round": r, "incumbent": incumbent.get(r), "bar": bars.get(r)}
        if r not in bars:
            entry.update(n=len(in_round), n_positive=0, informative=False,
                         why_not="nothing was measured before this round: no incumbent to beat")
        else:
            entry.update(score(in_round, bars, sense, what, MIN_PER_CLASS_ROUND))
        rounds.append(entry)
    label = (f"beats the incumbent by {_margin_words(margin, unit)}" if sense == Sense.MAXIMIZE else
             f"undercuts the incumbent by {_margin_words(margin, unit)}")
    return {"call": label, "margin": margin.absolute, "margin_relative": margin.relative or None,
            "margin_source": margin.source, **score(pairs, bars, sense, what, MIN_PER_CLASS_POOLED),
            "rounds": rounds}


def hits_above(pairs: list[Pair], threshold: float, sense: Sense, unit: str) -> dict[str, Any]:
    """The call 'is a hit' (past a fixed campaign threshold), pooled over rounds."""
    word = "≥" if sense == Sense.MAXIMIZE else "≤"
    bars = {p.round: threshold for p in pairs}
    what = f"were hits ({word} {threshold:.4g} {unit})"
    return {"call": f"hit: {word} {threshold:.4g} {unit}", "threshold": threshold,
            **score(pairs, bars, sense, what, MIN_PER_CLASS_POOLED)}


def _margin_words(margin: Margin, unit: str) -> str:
    if margin.absolute is not None:
        return f"{margin.absolute:.2g} {unit}"
    return f"{margin.relative:.0%}"


def sentence(call: dict[str, Any]) -> str:
    """The call in one line: its figures, or why there are none."""
    if not call.get("informative"):
        return f"'{call['call']}': not informative: {call.get('why_not')}."
    return (f"'{call['call']}' (n = {call['n']}, {call['n_positive']} positive): precision {call['precision']:.2f}, "
            f"recall {call['recall']:.2f}, F1 {call['f1']:.2f}, ROC-AUC {call['roc_auc']:.2f}")
