"""Every `--json` command writes exactly one JSON document to stdout, whatever its libraries print.

The commands run as a user runs them, in a subprocess, so text that native code (a solver's banner,
a C library's log) writes straight to file descriptor 1 lands in the captured stdout and fails
`json.loads`. `fluxlab demo --json` is covered the same way by tests/e2e/test_loop.py.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from schemas import CampaignSpec
from services.registry import service_names
from services.runtime.local_stack import executor_args
from services.runtime.settings import Settings
from services.runtime.specfile import load_spec
from services.runtime.supervisor import Stack

ROOT = Path(__file__).resolve().parents[2]


@contextmanager
def running_stack(tmp_path: Path, namespace: str, spec: CampaignSpec) -> Iterator[tuple[dict[str, str], list[str]]]:
    """Every service and the spec's simulator under `tmp_path/stack`; yields the CLI's env and `--data-dir` args."""
    settings = Settings(data_dir=tmp_path / "stack", namespace=namespace, http_port=0, grace_s=2.0)
    executor, args = executor_args(spec)
    stack = Stack(settings, [*service_names(), executor], extra_args={executor: args}).start()
    try:
        yield {"FLUXLAB_NAMESPACE": namespace}, ["--data-dir", str(settings.data_dir)]
    finally:
        stack.stop()


def fluxlab_json(*args: str, timeout: float = 600, env: dict[str, str] | None = None) -> Any:
    """Run `fluxlab ARGS`, require exit 0 and parse the whole of stdout as one JSON document."""
    result = subprocess.run([sys.executable, "-m", "services.cli", *args], capture_output=True, text=True,
                            timeout=timeout, env={**os.environ, **(env or {})})
    assert result.returncode == 0, result.stderr[-3000:]
    try:
        return json.loads(result.stdout)
    except json.JSONDecodeError as exc:
        pytest.fail(f"stdout of `fluxlab {' '.join(args)}` is not one JSON document ({exc}); "
                    f"it starts {result.stdout[:300]!r}")


def test_native_writes_to_stdout_inside_the_quiet_block_are_logged_not_printed() -> None:
    code = textwrap.dedent("""
        import ctypes, logging, sys
        from services.runtime.quiet import stdout_to_log
        libc = ctypes.CDLL(None)
        with stdout_to_log("test"):
            libc.puts(b"native chatter")
            print("python chatter")
        print('{"ok": true}')
        logging.basicConfig(level=logging.DEBUG)
        with stdout_to_log("test"):
            libc.puts(b"logged chatter")
    """)
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {"ok": True}
    assert "native chatter" not in result.stderr  # logging not configured: quiet everywhere
    assert "DEBUG:fluxlab.native:test: logged chatter" in result.stderr


def test_first_highs_solver_of_a_process_prints_nothing_on_stdout() -> None:
    code = textwrap.dedent("""
        import ctypes
        import numpy as np, scipy.sparse as sp
        from services.domain.organism.lp import HighsLP
        lp = HighsLP(sp.csc_matrix(np.ones((1, 2))), np.ones(2), np.zeros(2), np.ones(2), np.zeros(1), np.ones(1),
                     maximize=True)
        solution = lp.solve()
        ctypes.CDLL(None).fflush(None)
        print(round(solution.objective, 6))
    """)
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "1.0\n"
    assert "HiGHS" not in result.stderr  # highspy 1.16's banner is logged at DEBUG, not shown on the terminal


BENCHES = [
    ("ingest", ["--quick"]),
    ("simulator", ["--quick"]),
    ("predictor", ["--quick"]),
    ("soak", ["--quick"]),
    ("stats", ["--quick"]),
    # a cell (HiGHS, cobra, torch, Ax via 'bo') and a function; plain Ax runs in test_loop_peers
    pytest.param("loop", ["--quick", "--landscapes", "succinate_core,sin_cos", "--strategies", "hybrid,bo,insilico"],
                 marks=pytest.mark.slow),
    pytest.param("predictor-real", ["--quick"], marks=pytest.mark.slow),
    pytest.param("dynamic", ["--quick"], marks=pytest.mark.slow),
    pytest.param("latency", ["--quick"], marks=pytest.mark.slow),  # a whole stack, a 16-experiment campaign
    ("faults", ["--quick", "--only", "poison,hostile,sigterm"]),
    pytest.param("faults", ["--quick"], marks=pytest.mark.slow, id="faults-all-scenarios"),
]


@pytest.mark.parametrize(("name", "args"), BENCHES)
def test_bench_json_is_the_whole_stdout(name: str, args: list[str]) -> None:
    result = fluxlab_json("bench", name, *args, "--json")
    assert isinstance(result, dict) and result


def _dataset(path: Path) -> Path:
    """A small knockout/medium data set on E. coli core ids, so the hybrid model solves LPs."""
    rows = ["id,ko:b1852,ko:b0723,medium:EX_glc__D_e,y:growth"]
    for i in range(24):
        zwf, sdh, glc = i % 2, (i // 2) % 2, 1 if i % 3 else 0
        rows.append(f"r{i},{zwf},{sdh},{glc},{0.3 + 0.5 * glc - 0.05 * zwf - 0.1 * sdh + 0.01 * (i % 5):.4f}")
    path.write_text("\n".join(rows) + "\n")
    return path


@pytest.mark.parametrize("model", ["hybrid", "mlp"])
def test_predictor_cv_json_is_the_whole_stdout(tmp_path: Path, model: str) -> None:
    data = _dataset(tmp_path / "d.csv")
    result = fluxlab_json("predictor", "cv", "--data", str(data), "--folds", "3", "--model", model,
                          "--ensemble", "2", "--json")
    assert result["n_rows"] == 24


@pytest.mark.timeout(900)
def test_grouped_cv_with_baselines_json_is_the_whole_stdout(tmp_path: Path) -> None:
    data = _dataset(tmp_path / "d.csv")
    cv = fluxlab_json("predictor", "cv", "--data", str(data), "--folds", "2", "--model", "mlp", "--ensemble", "2",
                      "--group-by", "medium", "--baselines", "--json")
    assert cv["group_by"] == "medium" and set(cv["baselines"]) == {"gbm", "gbm_media_only"}
    # Two media cannot fill three folds: one line on stderr, exit 2, nothing on stdout.
    bad = subprocess.run([sys.executable, "-m", "services.cli", "predictor", "cv", "--data", str(data), "--folds",
                          "3", "--model", "mlp", "--group-by", "medium", "--json"], capture_output=True, text=True,
                         timeout=300)
    assert bad.returncode == 2 and bad.stdout == "" and "2 groups cannot fill 3 folds" in bad.stderr


@pytest.mark.timeout(900)
def test_fit_evaluate_predict_json_is_the_whole_stdout(tmp_path: Path) -> None:
    data = _dataset(tmp_path / "d.csv")
    model = tmp_path / "m.pt"
    fit = fluxlab_json("predictor", "fit", "--data", str(data), "--model", "hybrid", "--ensemble", "2",
                       "--out", str(model), "--json")
    assert fit["n_rows"] == 24 and model.is_file()
    new = tmp_path / "new.csv"
    new.write_text("id,ko:b1852,ko:b0351,medium:EX_glc__D_e,y:growth\nn1,1,1,1,0.7\nn2,0,0,1,0.8\nn3,0,1,0,0.3\n")
    evaluated = fluxlab_json("predictor", "evaluate", "--model", str(model), "--data", str(new), "--json")
    assert evaluated["n_rows"] == 3 and evaluated["unseen_rows"] == 2 / 3
    predicted = fluxlab_json("predictor", "predict", "--model", str(model), "--data", str(new), "--out",
                             str(tmp_path / "p.csv"), "--json")
    assert predicted["unseen_rows"] == 2


def test_campaign_run_json_is_the_whole_stdout_with_its_own_stack(tmp_path: Path) -> None:
    summary = fluxlab_json("campaign", "run", str(ROOT / "examples" / "sin_cos.toml"), "--data-dir",
                           str(tmp_path / "stack"), "--json")
    assert summary["n_measurements"] + summary["n_failed"] == load_spec(ROOT / "examples" / "sin_cos.toml").budget


def test_status_and_review_json_against_a_running_stack(tmp_path: Path, namespace: str) -> None:
    spec = load_spec(ROOT / "examples" / "sin_cos.toml").model_copy(update={"id": "json-out", "budget": 5,
                                                                           "batch_size": 5})
    spec_file = tmp_path / "spec.json"
    spec_file.write_text(spec.model_dump_json())
    with running_stack(tmp_path, namespace, spec) as (env, where):
        summary = fluxlab_json("campaign", "run", str(spec_file), *where, "--json", env=env)
        assert summary["campaign_id"] == "json-out"
        status = fluxlab_json("status", *where, "--json", env=env)
        assert any(c["campaign_id"] == "json-out" for c in status["campaigns"])
        listed = fluxlab_json("review", "list", "--campaign", "json-out", "--status", "all", *where, "--json",
                              env=env)
        assert len(listed["proposals"]) == 5
