"""Services restart fast after a kill: importing one loads no heavy library it does not need to start.

torch, pandas, cobra, Ax and friends load on first use (training, a best-design query, a planning round),
so a restarted tracker or robot consumes again within a second or two, also on a busy machine.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

HEAVY = ("torch", "pandas", "cobra", "ax", "botorch", "sklearn", "statsmodels", "scipy")


@pytest.mark.parametrize("module", [
    "services.tracker.service", "services.predictor.service", "services.optimizer.service",
    "services.review.service", "simulators.executors",
])
def test_service_modules_load_no_heavy_library(module: str) -> None:
    code = (f"import sys, {module}\n"
            f"print(','.join(m for m in {HEAVY!r} if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "", f"{module} loads {out.stdout.strip()} at import"


def test_the_supervisor_entry_point_skips_the_command_line_app() -> None:
    """Restarted services start through `services.runtime.serve`, not the typer app and its every command."""
    code = ("import sys, services.runtime.serve\n"
            "print(','.join(m for m in ('typer', 'rich', 'services.cli') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "", f"services.runtime.serve loads {out.stdout.strip()}"


def test_serve_refuses_an_unknown_service_in_one_line() -> None:
    out = subprocess.run([sys.executable, "-m", "services.runtime.serve", "nosuch"], capture_output=True, text=True)
    assert out.returncode == 2
    assert "unknown service 'nosuch'" in out.stderr and "Traceback" not in out.stderr
