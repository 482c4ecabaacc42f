"""The hybrid's GP fitted ahead: while the predictor trains on a round's measurements, the GP already can.

The GP's designs depend only on the measurements, failures, pending and excluded designs, the batch size
and a seed, not on the predictor's model (`bo.designs`). When a round's last measurement is in and the
optimizer waits for the model that covers it, `GPAhead.start` fits the GP in a worker thread; the plan
made once the model arrives takes that fit through `GPAhead.source` if the fingerprint of what it would fit
is the same, and fits its own otherwise (a run failed or a review arrived in between). Either way the batch
is the one the plan would have made; only the seconds of the fit move out of the round's critical path.
"""

from __future__ import annotations

import hashlib
from concurrent.futures import Future, ThreadPoolExecutor, wait

from schemas import Design
from services.optimizer import bo
from services.optimizer.context import Context
from services.optimizer.hybrid import GPSource, fit_gp


def fingerprint(n: int, ctx: Context, seed: int) -> str:
    """Everything `bo.designs` reads: batch size, seed, sense, the space, the history (in order) and exclusions."""
    h = ctx.history
    parts = (n, seed, ctx.sign, ctx.space.dim, [(g.name, g.low, g.high) for g in ctx.space.genes],
             [(d.key(), float(v)) for d, v in h.measured], [d.key() for d in h.failed],
             [d.key() for d in h.pending], sorted(ctx.excluded))
    return hashlib.sha256(repr(parts).encode()).hexdigest()


class GPAhead:
    """GP fits started before the plan that needs them, one per campaign, handed over when nothing changed."""

    def __init__(self) -> None:
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="fluxlab-gp-ahead")
        self._ahead: dict[str, tuple[str, Future[list[Design]]]] = {}
        self.handed_over = 0
        """Plans that took a fit started ahead."""
        self.refitted = 0
        """Plans whose request differed from the fit started ahead (it was dropped)."""

    def start(self, campaign_id: str, n: int, ctx: Context, seed: int) -> bool:
        """Fit the GP for this request in the background, unless the same fit is already there; True if started.

        Nothing starts while Ax is not imported yet (the plan would then go without its GP slots).
        """
        if len(ctx.history.measured) < bo.MIN_OBSERVATIONS or not bo.ax_ready(load_in_background=False):
            return False
        key = fingerprint(n, ctx, seed)
        current = self._ahead.get(campaign_id)
        if current is not None and current[0] == key:
            return False
        if current is not None:
            current[1].cancel()
        self._ahead[campaign_id] = (key, self._executor.submit(bo.designs, n, ctx, False))
        return True

    def source(self, campaign_id: str) -> GPSource:
        """The `GPSource` of the campaign's next plan: the fit started ahead if it answers the same request."""

        def designs(n: int, ctx: Context, seed: int, wait_for_import: bool) -> list[Design]:
            entry = self._ahead.pop(campaign_id, None)
            if entry is not None and entry[0] == fingerprint(n, ctx, seed):
                self.handed_over += 1
                return entry[1].result()
            if entry is not None:
                # a fit that already runs finishes first: Ax seeds torch's global generator, so two fits at
                # once would not be reproducible
                if not entry[1].cancel():
                    wait([entry[1]])
                self.refitted += 1
            return fit_gp(n, ctx, seed, wait_for_import)

        return designs

    def forget(self, campaign_id: str) -> None:
        """Drop the campaign's fit (it completed or stopped)."""
        entry = self._ahead.pop(campaign_id, None)
        if entry is not None:
            entry[1].cancel()

    def shutdown(self) -> None:
        """Stop the worker (a running fit finishes; queued ones are cancelled)."""
        self._executor.shutdown(wait=False, cancel_futures=True)
