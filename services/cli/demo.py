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
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from schemas import CampaignSpec, Design, ReviewMode, ReviewSpec
from services.cli import UserError
from services.runtime.campaign_client import CampaignClient
from services.runtime.local_stack import temporary_stack
from services.runtime.settings import Settings
from services.runtime.status import connect

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
    from simulators.examples import succinate_core_spec

    if review not in ("auto", "human"):
        raise UserError(f"review: '{review}' is not auto or human")
    if budget < 1 or batch < 1:
        raise UserError("budget/batch: must be at least 1")
    spec = succinate_core_spec(seed=seed, budget=budget, batch_size=batch)
    spec = spec.model_copy(update={"id": f"demo-{seed}-{int(time.time())}",
                                   "review": ReviewSpec(mode=ReviewMode(review))})
    truth: dict[str, Any] = {}
    oracle = threading.Thread(target=_ground_truth, args=(spec, truth), daemon=True)
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
        summary, records = asyncio.run(_campaign(ready, spec, quiet=json_out))
    oracle.join()
    from services.report.build import write_report

    full = write_report(out, spec, records, summary, truth.get("optimum"), truth.get("reference"),
                        truth.get("threshold", 0.05))
    full.update(_true_value_of_best(spec, full, truth))
    full["elapsed_s"] = round(time.perf_counter() - started, 1)
    (out / "summary.json").write_text(json.dumps(full, indent=2) + "\n")
    if json_out:
        print(json.dumps(full))
        return
    console.print(final_line(spec, full, out / "report.html"))
    console.print(f"demo finished in {full['elapsed_s']} s; its data stays in {settings.data_dir}")


def final_line(spec: CampaignSpec, full: dict[str, Any], report: Path) -> str:
    """'best reading 3.793 mmol/gDW/h, true value 3.68, true optimum 4.065 (ΔsdhA (b0723) …); report: …'."""
    from services.report.envelope import unit_of
    from services.review.names import describe

    unit = unit_of(spec, spec.objective.target)
    best = full.get("best_design")
    design = describe(Design.model_validate(best), None if spec.is_function else spec.organism.model) \
        if best is not None else "no design measured"
    value = "–" if full.get("best_value") is None else f"{full['best_value']:.4g} {unit}"
    true_text = "" if full.get("best_true_value") is None else f", true value {full['best_true_value']:.4g}"
    optimum = "" if full.get("true_optimum") is None else f", true optimum {full['true_optimum']:.4g}"
    return f"best reading {value}{true_text}{optimum} ({design}); report: {report}"


def _true_value_of_best(spec: CampaignSpec, full: dict[str, Any], truth: dict[str, Any]) -> dict[str, Any]:
    """The noise-free value of the best-read design (a reading can exceed the optimum; the design cannot)."""
    cell, best = truth.get("cell"), full.get("best_design")
    if cell is None or best is None:
        return {}
    value = cell.respond(Design.model_validate(best)).flux(spec.objective.target)
    optimum = truth.get("optimum")
    return {"best_true_value": value,
            "best_true_fraction_of_optimum": value / optimum if optimum else None}


def _ground_truth(spec: CampaignSpec, truth: dict[str, Any]) -> None:
    """True optimum and wild-type value on the noise-free simulated cell (runs beside the campaign)."""
    from simulators.cells import make_cell
    from simulators.ground_truth import true_optimum

    profile = spec.simulator.profile if spec.simulator else "default"
    cell = make_cell(spec.organism.model, profile)
    reference = cell.respond(Design()).flux(spec.objective.target)
    gt = true_optimum(spec)
    truth.update(optimum=gt.value, reference=reference, threshold=max(0.1 * abs(reference), 0.05), cell=cell)


async def _campaign(settings: Settings, spec: CampaignSpec, quiet: bool) -> tuple[dict[str, Any], Any]:
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
        summary = await client.summary(spec)
        return summary, await client.records(spec.id)
    finally:
        await bus.close()
