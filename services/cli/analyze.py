"""`fluxlab analyze`: cleaning and batch-stratified statistics of a campaign or an imported CSV."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError

from schemas import Measurement, describe_validation_error
from services.cli import UserError
from services.cli.options import Config, DataDir, Json, Namespace, NatsUrl, settings_from
from services.tracker.csvio import CsvRowError, load_measurements

# statsmodels, scipy and pandas (several seconds to import) load when the command runs: every `fluxlab`
# invocation, `fluxlab serve` of a restarted service included, would pay for them otherwise


def register(app: typer.Typer) -> None:
    """Add the analyze command."""
    app.command("analyze")(analyze_command)


def analyze_command(
    campaign: Annotated[str | None, typer.Argument(help="Campaign id (measurements from the running tracker).")] = None,
    data: Annotated[Path | None, typer.Option("--data", help="Measurement CSV (the import format) instead.")] = None,
    by: Annotated[str, typer.Option("--by", help="Stratum: batch_id or plate_id.")] = "batch_id",
    threshold: Annotated[float | None, typer.Option("--threshold", help="Hit threshold (normalised scale).")] = None,
    margin: Annotated[float, typer.Option("--margin", help="Default threshold: reference x (1 + margin).")] = 0.1,
    readout: Annotated[str | None, typer.Option("--readout", help="Readout to analyse (e.g. EX_succ_e).")] = None,
    missing: Annotated[str, typer.Option("--missing", help="Missing readout: exclude or non_hit.")] = "exclude",
    normalise_by: Annotated[str, typer.Option("--normalise-by", help="Controls' group: batch_id or plate_id.")
                            ] = "batch_id",
    no_normalise: Annotated[bool, typer.Option("--no-normalise", help="Skip on-plate normalisation.")] = False,
    keep_outliers: Annotated[bool, typer.Option("--keep-outliers", help="Flag outliers but keep them.")] = False,
    as_json: Json = False,
    data_dir: DataDir = None, nats_url: NatsUrl = None, namespace: Namespace = None, config: Config = None,
) -> None:
    """Per-intervention crude and Mantel–Haenszel effects on hits, GLMs and cross-validated hit classifier."""
    from services.analysis.analyze import AnalysisOptions, analyze, render_text
    from services.analysis.cleaning import CleaningPolicy
    from services.analysis.frame import AnalysisError, observations

    if (campaign is None) == (data is None):
        raise UserError("campaign: give a campaign id or --data FILE.csv (one of them)")
    if missing not in ("exclude", "non_hit"):
        raise UserError(f"missing: '{missing}' is not a policy (use exclude or non_hit)")
    measurements = _from_csv(data) if data is not None else _from_campaign(
        campaign or "", data_dir, nats_url, namespace, config)
    if normalise_by not in ("batch_id", "plate_id"):
        raise UserError(f"normalise-by: '{normalise_by}' is not a stratum column (use batch_id or plate_id)")
    policy = CleaningPolicy(by=normalise_by, normalise=not no_normalise, exclude_outliers=not keep_outliers,
                            missing=missing)  # type: ignore[arg-type]
    options = AnalysisOptions(by=by, threshold=threshold, margin=margin, cleaning=policy)
    try:
        result = analyze(observations(measurements, readout), options)
    except AnalysisError as exc:
        raise UserError(str(exc)) from None
    if as_json:
        print(json.dumps(result.to_json(), ensure_ascii=False))
    else:
        print(render_text(result))


def _from_csv(path: Path) -> list[Measurement]:
    if not path.is_file():
        raise UserError(f"data: '{path}' does not exist")
    try:
        return load_measurements(path, "imported")
    except CsvRowError as exc:
        raise UserError(str(exc)) from None


def _from_campaign(campaign: str, data_dir: Path | None, nats_url: str | None, namespace: str | None,
                   config: Path | None) -> list[Measurement]:
    from services.cli.data import _fetch

    settings = settings_from(data_dir, nats_url, None, namespace, config)
    records = asyncio.run(_fetch(settings, campaign))
    try:
        return [Measurement.model_validate(r) for r in records]
    except ValidationError as exc:
        field, reason = describe_validation_error(exc)
        raise UserError(f"measurement {field}: {reason}") from None
