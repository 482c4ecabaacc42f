"""Failpoints: named places where a fault test can make a process die on purpose.

`FLUXLAB_FAILPOINTS="tracker.after_commit=0.2,other=1"` makes `failpoint("tracker.after_commit")` SIGKILL the
process with probability 0.2. Unset (the default, and always in production) every failpoint is a no-op.
"""

from __future__ import annotations

import os
import random
import signal
from functools import lru_cache


@lru_cache(maxsize=1)
def _configured(spec: str) -> dict[str, float]:
    points: dict[str, float] = {}
    for item in filter(None, (part.strip() for part in spec.split(","))):
        name, _, probability = item.partition("=")
        points[name] = float(probability or 1.0)
    return points


def failpoint(name: str) -> None:
    """Die here (SIGKILL, no cleanup) when this failpoint is armed and the dice say so."""
    spec = os.environ.get("FLUXLAB_FAILPOINTS", "")
    if not spec:
        return
    probability = _configured(spec).get(name, 0.0)
    if probability > 0 and random.random() < probability:
        os.kill(os.getpid(), signal.SIGKILL)
