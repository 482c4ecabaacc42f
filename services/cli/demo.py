"""`fluxlab demo`: a complete simulated campaign on the embedded stack, with a report.

The demo drives the simulators (the true cell stands in for the lab, and gives the true optimum for the
report); the services themselves never import `simulators`.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from schemas import CampaignSpec, Design, ReviewMode, ReviewSpec
from services.cli import UserError
from services.report.records import CampaignRecords, from_tracker
from services.runtime.campaign_client import CampaignClient
from services.runtime.local_stack import temporary_stack
from services.runtime.settings import Settings
from services.runtime.status import connect

if TYPE_CHECKING:
    from services.report.build import Truth

console = Console(stderr=True)


def register(app: typer.Typer) -> None:
    """Add the demo command."""
    app.command()(demo)


def demo(
    budget: Annotated[int, typer.Option(help="Experiments in the campaign.")] = 48,
    batch: Annotated[int, typer.Option(help="Designs per round.")] = 8,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
    out: Annotated[Path, typer.Option(help="Report folder.")] = Path("demo-out"),
    review: Annotated[str, typer.Option(help="auto, or human (approve on the web page).")] = "auto",
    http_port: Annotated[int, typer.Option(help="Review page port.")] = 8700,
    json_out: Annotated[bool, typer.Option("--json", help="Print only the summary JSON.")] = False,
    data_dir: Annotated[Path | None, typer.Option("--data-dir", help="The stack's data (default OUT/stack).")] = None,
) -> None:
    """Run a simulated closed-loop campaign (succinate in E. coli core) and write a report to OUT."""
    from services.cli.truth import simulated_truth
    from services.report.build import build_report
    from simulators.examples import succinate_core_spec

    if review not in ("auto", "human"):
        raise UserError(f"review: '{review}' is not auto or human")
    if budget < 1 or batch < 1:
        raise UserError("budget/batch: must be at least 1")
    spec = succinate_core_spec(seed=seed, budget=budget, batch_size=batch)
    spec = spec.model_copy(update={"id": f"demo-{seed}-{int(time.time())}",
                                   "review": ReviewSpec(mode=ReviewMode(review))})
    truth: dict[str, Truth | None] = {}
    oracle = threading.Thread(target=lambda: truth.update(found=simulated_truth(spec)), daemon=True)
    oracle.start()
    settings = Settings(data_dir=data_dir or out / "stack", http_port=http_port, grace_s=3.0)
    console.print(f"demo data in {settings.data_dir} (while it runs, `fluxlab status` and `fluxlab review list` "
                  f"find this stack by themselves; with several stacks pass `--data-dir {settings.data_dir}`)")
    if review == "human":
        from services.cli.stack import announce_reviewer

        announce_reviewer(settings)
    started = time.perf_counter()
    with temporary_stack(settings, spec) as ready:
        if review == "human":
            url_file = settings.data_dir / "review.url"
            url = url_file.read_text().strip() if url_file.is_file() else f"http://127.0.0.1:{http_port}"
            console.print(f"review the proposals at {url}/ as user 'reviewer' (or with `fluxlab review`)")
        records = asyncio.run(_campaign(ready, spec, quiet=json_out))
    oracle.join()
    full = build_report(out, records, truth.get("found"))
    full["elapsed_s"] = round(time.perf_counter() - started, 1)
    (out / "summary.json").write_text(json.dumps(full, indent=2) + "\n")
    if json_out:
        print(json.dumps(full))
        return
    console.print(final_line(spec, full, out / "report.html"))
    console.print(f"demo finished in {full['elapsed_s']} s; its data stays in {settings.data_dir}")


def final_line(spec: CampaignSpec, full: dict[str, Any], report: Path) -> str:
    """'best (posterior) 3.75 mmol/gDW/h (95 % 3.6 to 3.9, 3 reading(s)), true value 3.68, true optimum 4.065
    (ΔsdhA (b0723) …); report: …'."""
    from services.report.envelope import unit_of
    from services.review.names import describe

    unit = unit_of(spec, spec.objective.target)
    best = full.get("best_design")
    design = describe(Design.model_validate(best), None if spec.is_function else spec.organism.model) \
        if best is not None else "no design measured"
    value = "–" if full.get("best_value") is None else f"{full['best_value']:.4g} {unit}"
    interval = full.get("best_interval95")
    if interval is not None and full.get("best_value") is not None:
        value += f" (95 % {interval[0]:.4g} to {interval[1]:.4g}, {full['best_posterior']['n_readings']} reading(s))"
    true_text = "" if full.get("best_true_value") is None else f", true value {full['best_true_value']:.4g}"
    optimum = "" if full.get("true_optimum") is None else f", true optimum {full['true_optimum']:.4g}"
    return f"best (posterior) {value}{true_text}{optimum} ({design}); report: {report}"


async def _campaign(settings: Settings, spec: CampaignSpec, quiet: bool) -> CampaignRecords:
    bus = await connect(settings, "fluxlab-demo", ensure=True)
    client = CampaignClient(bus)
    try:
        await client.start(spec)
        with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                      console=console, disable=quiet) as progress:
            task = progress.add_task("round 1, best so far -", total=spec.budget)

            def show(done: int, total: int, best: float | None) -> None:
                round_ = min(done // spec.batch_size + 1, -(-total // spec.batch_size))
                best_text = "-" if best is None else f"{best:.3f}"
                progress.update(task, completed=done, description=f"round {round_}, best so far {best_text}")

            await client.wait_completed(spec, timeout_s=1500, progress=show)
            progress.update(task, completed=spec.budget)
        await client.settled(spec.id)
        return await from_tracker(bus, spec.id, spec)
    finally:
        await bus.close()
