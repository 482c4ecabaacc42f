"""Bayesian optimisation (Ax ``Client``) over the measured objective.

Every call rebuilds an Ax experiment from the campaign history, so the optimizer keeps no state
between batches and survives restarts: measured designs become completed trials, failed runs
failed trials and pending work running trials (so the batch is aware of it).

Encoding: one Ax float ``RangeParameter`` per gene of :class:`DesignSpace` (``g0``, ``g1``, ...).
Knockouts are relaxed to [0, 1]: a design knocks out the candidates whose value exceeds 0.5, the
``max_knockouts`` largest if more do, and the repair operator enforces forbidden combinations.
Discrete expression levels are level indices rounded to the nearest level. This keeps the
acquisition optimiser continuous (fast) at the price of proposals that decode onto designs already
tried; those are dropped and the batch topped up.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import math
import threading
import warnings
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from schemas import Design
from services.optimizer.context import Candidate, Context
from services.optimizer.space import DesignSpace

STRATEGY = "bo"
METRIC = "objective"
MIN_OBSERVATIONS = 3
"""Below this many measurements the batch is a scrambled Sobol sample instead of a GP's choice."""
OPTIMIZER_KWARGS: dict[str, Any] = {"num_restarts": 2, "raw_samples": 64, "options": {"maxiter": 50}}
"""Fewer restarts and raw samples than Ax's defaults keep a batch within seconds on two cores."""
MAX_ROUNDS = 2
FIT_OPTIONS: dict[str, Any] = {"options": {"maxiter": 60}}
"""GP hyper-parameter fit limit (L-BFGS-B iterations). No wall-clock limit: a fit cut short by time ends
wherever a loaded machine left it, and the same campaign then gets another batch on a busier machine (the
one-second cap made `test_opt_speculation` fail under load and the pareto benchmark's default vary)."""


_ax_loaded = threading.Event()
_ax_loading_lock = threading.Lock()
_ax_loader: threading.Thread | None = None


def _import_ax() -> None:
    try:
        import ax  # noqa: F401  (with torch, BoTorch and GPyTorch: many seconds on a busy machine)
        import botorch.models  # noqa: F401
    except Exception:
        logging.getLogger(__name__).exception("cannot import Ax: the hybrid plans without its GP slots")
        return
    _ax_loaded.set()


def ax_ready(load_in_background: bool = True) -> bool:
    """True once Ax is imported; otherwise False, after starting its import in a worker thread if asked.

    A long-running optimizer asks this before each batch so a (re)started process does not hold its first
    batch back for the import: the hybrid strategy plans that batch without its GP slots.
    """
    global _ax_loader
    if _ax_loaded.is_set():
        return True
    with _ax_loading_lock:
        if load_in_background and _ax_loader is None:
            _ax_loader = threading.Thread(target=_import_ax, name="fluxlab-import-ax", daemon=True)
            _ax_loader.start()
    return _ax_loaded.is_set()


def _parameter_name(index: int) -> str:
    return f"g{index}"


def to_parameters(space: DesignSpace, design: Design) -> dict[str, Any]:
    """Design -> Ax parameterization."""
    return {_parameter_name(i): float(v) for i, v in enumerate(space.encode(design))}


def from_parameters(space: DesignSpace, parameters: dict[str, Any], rng: np.random.Generator) -> Design:
    """Ax parameterization -> valid design (knockouts: the largest relaxed values above 0.5)."""
    x = np.array([float(parameters[_parameter_name(i)]) for i in range(space.dim)])
    ko = [i for i, g in enumerate(space.genes) if g.kind == "knockout"]
    if ko:
        ranked = sorted(ko, key=lambda i: -x[i])
        keep = set(ranked[: space.search.max_knockouts])
        for i in ko:
            x[i] = 1.0 if (i in keep and x[i] > 0.5) else 0.0
    return space.repair(space.decode(x), rng)


def _client(space: DesignSpace, ctx: Context) -> Any:
    from ax import Client, RangeParameterConfig
    from ax.adapter.registry import Generators
    from ax.generation_strategy.generation_strategy import GenerationNode, GenerationStrategy
    from ax.generation_strategy.generator_spec import GeneratorSpec
    from ax.utils.common.logger import set_stderr_log_level

    set_stderr_log_level(logging.ERROR)
    client = Client(random_seed=int(ctx.rng.integers(2**31)))
    client.configure_experiment(
        parameters=[
            RangeParameterConfig(name=_parameter_name(i), bounds=(g.low, g.high), parameter_type="float")
            for i, g in enumerate(space.genes)
        ],
        name="fluxlab",
    )
    client.configure_optimization(objective=METRIC if ctx.sign > 0 else f"-{METRIC}")
    from ax.generators.torch.botorch_modular.surrogate import ModelConfig, SurrogateSpec

    spec = GeneratorSpec(
        generator_enum=Generators.BOTORCH_MODULAR,
        generator_kwargs={"surrogate_spec": SurrogateSpec(model_configs=[ModelConfig(
            botorch_model_class=_quick_fit_gp_class(), name="quick-fit GP")])},
        generator_gen_kwargs={"model_gen_options": {"optimizer_kwargs": dict(OPTIMIZER_KWARGS)}},
    )
    node = GenerationNode(name="MBM", generator_specs=[spec], should_deduplicate=True)
    client.set_generation_strategy(GenerationStrategy(name="fluxlab-mbm", nodes=[node]))
    return client


@functools.cache
def _quick_fit_gp_class() -> type:
    """Ax's default GP, fitted with capped L-BFGS iterations, one attempt and no retries on warnings.

    With ~30 dimensions the default fit (up to five restarts to convergence) takes many seconds;
    a slightly under-fitted GP proposes nearly as well within a batch's time budget.
    """
    from ax.generators.torch.botorch_modular.utils import fit_botorch_model
    from botorch.fit import fit_gpytorch_mll
    from botorch.models import SingleTaskGP

    class QuickFitGP(SingleTaskGP):
        """SingleTaskGP whose hyper-parameter fit is capped (see ``FIT_OPTIONS``)."""

    @fit_botorch_model.register(QuickFitGP)
    def _fit(model: QuickFitGP, mll_class: type, mll_options: dict[str, Any] | None = None) -> None:
        mll = mll_class(likelihood=model.likelihood, model=model, **(mll_options or {}))
        fit_gpytorch_mll(mll, optimizer_kwargs=dict(FIT_OPTIONS), max_attempts=1, warning_handler=lambda _: True)

    return QuickFitGP


def _attach_history(client: Any, space: DesignSpace, ctx: Context) -> None:
    for design, value in ctx.history.measured:
        index = client.attach_trial(to_parameters(space, design))
        client.attach_data(index, {METRIC: float(value)})
        # Client.complete_trial re-reads the whole experiment's data per trial (quadratic in history);
        # the data is attached above, so marking the trial completed is all that is left to do.
        client._experiment.trials[index].mark_completed()
    for design in ctx.history.failed:
        client.mark_trial_failed(client.attach_trial(to_parameters(space, design)), failed_reason="run failed")
    for design in ctx.history.pending:
        client.attach_trial(to_parameters(space, design))


def sobol_designs(space: DesignSpace, n: int, rng: np.random.Generator) -> list[Design]:
    """``n`` designs from a scrambled Sobol sequence over the encoded space (repaired)."""
    if space.dim == 0 or n <= 0:
        return []
    from scipy.stats import qmc  # scipy.stats takes seconds to import: only when a batch is sampled

    sampler = qmc.Sobol(d=space.dim, scramble=True, rng=rng)
    unit = sampler.random_base2(m=max(0, math.ceil(math.log2(n))))[:n]
    points = qmc.scale(unit, space.lows, np.maximum(space.highs, space.lows + 1e-12))
    return [space.repair(space.decode(p), rng) for p in points]


def propose(n: int, ctx: Context, wait_for_import: bool = True) -> list[Candidate]:
    """Up to ``n`` new designs from Ax (Sobol before ``MIN_OBSERVATIONS`` measurements), best guess first.

    With ``wait_for_import`` False, none while Ax is not imported yet (`ax_ready`: the optimizer service starts
    that import after a batch went out, since importing torch stalls every thread of the process for seconds).
    """
    return ctx.scored(designs(n, ctx, wait_for_import), STRATEGY)


def designs(n: int, ctx: Context, wait_for_import: bool = True) -> list[Design]:
    """`propose`'s designs, not yet scored: they need only the measurements (no surrogate), so the hybrid
    may fit the GP while the GA searches the surrogate."""
    space = ctx.space
    if len(ctx.history.measured) < MIN_OBSERVATIONS:
        return _fresh(sobol_designs(space, 2 * n, ctx.rng), ctx, n)
    if not wait_for_import and not ax_ready(load_in_background=False):
        return []
    with warnings.catch_warnings(), _torch_threads(1):
        # GP fitting warns about jitter and restarts on small data; the result is still usable.
        warnings.simplefilter("ignore")
        return _ax_designs(space, ctx, n)


@contextlib.contextmanager
def _torch_threads(count: int) -> Iterator[None]:
    # The GP and its acquisition are small tensors: extra threads only contend (10x slower on a busy host).
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _ax_designs(space: DesignSpace, ctx: Context, n: int) -> list[Design]:
    client = _client(space, ctx)
    _attach_history(client, space, ctx)
    designs: list[Design] = []
    for _ in range(MAX_ROUNDS):
        trials = client.get_next_trials(max_trials=n - len(designs))
        proposed = [from_parameters(space, params, ctx.rng) for params in trials.values()]
        designs += _fresh(proposed, ctx, n - len(designs), already=designs)
        if len(designs) >= n or not trials:
            break
    return designs


def _fresh(designs: Sequence[Design], ctx: Context, n: int, already: Sequence[Design] = ()) -> list[Design]:
    seen = set(ctx.excluded) | {d.key() for d in already}
    out: list[Design] = []
    for design in designs:
        key = design.key()
        if key not in seen and len(out) < n:
            seen.add(key)
            out.append(design)
    return out
