"""Modality dropout for omics inputs: every row with omics also trains once with them marked absent.

Omics exist only after a run, so the designs the optimizer asks about never carry them. A model trained
only on rows with omics has never seen the omics presence flags off and predicts such designs from inputs
it was not fitted on; the absent copies teach it both cases (docs/predictor.md, "Omics in the loop").
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass

import numpy as np

from schemas.design import Design
from services.predictor.errors import PredictorError
from services.predictor.features import OmicsList


@dataclass
class Augmented:
    """Training inputs with the absent copies appended after the original rows."""

    designs: list[Design]
    omics: OmicsList
    source: np.ndarray
    """Original row of every augmented row (an absent copy points at the row it copies)."""
    train: np.ndarray
    """Augmented rows of the training part: the training rows and their absent copies."""
    val: np.ndarray
    """Augmented rows of the held-out part: the held-out rows and their absent copies (early stopping)."""
    val_absent: np.ndarray
    """The held-out rows as a proposal looks, one per held-out row: its absent copy where it has omics, else
    the row itself (the calibration: the published sd is for designs without omics)."""


def absent_copies(designs: Sequence[Design] | None, omics: OmicsList | None, blocks: Collection[str],
                  tr_idx: np.ndarray, val_idx: np.ndarray) -> Augmented | None:
    """The training rows with their omics-absent copies, counting only the omics ``blocks`` the model's feature
    space holds; None where there are no designs or no row carries such a block."""
    if designs is None or omics is None or not blocks:
        return None
    held = set(blocks)
    kept = [{b: v for b, v in s.items() if b in held} or None if s else None for s in omics]
    if not any(kept):
        return None
    return with_absent_copies(designs, kept, tr_idx, val_idx)


def with_absent_copies(designs: Sequence[Design], omics: OmicsList, tr_idx: np.ndarray,
                       val_idx: np.ndarray) -> Augmented:
    """Append, for every row with at least one omics block, a copy of it without omics."""
    n = len(designs)
    has = np.asarray([bool(sample) for sample in omics], dtype=bool)
    if len(has) != n:
        raise PredictorError("omics", f"{len(has)} omics entries for {n} designs")
    copied = np.flatnonzero(has)
    copies = [designs[int(i)] for i in copied]
    copy_of = np.full(n, -1, dtype=int)
    copy_of[copied] = n + np.arange(len(copied))
    tr_idx, val_idx = np.asarray(tr_idx, dtype=int), np.asarray(val_idx, dtype=int)
    train = np.concatenate([tr_idx, copy_of[tr_idx][has[tr_idx]]])
    val = np.concatenate([val_idx, copy_of[val_idx][has[val_idx]]])
    val_absent = np.where(has[val_idx], copy_of[val_idx], val_idx)
    return Augmented(designs=[*designs, *copies], omics=[*omics, *([None] * len(copied))],
                     source=np.concatenate([np.arange(n), copied]), train=train, val=val, val_absent=val_absent)
