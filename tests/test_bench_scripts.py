"""The benchmark scripts stay runnable: each one imports (its own imports resolve) and has a main."""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "bench"


@pytest.mark.parametrize("script", sorted(p.name for p in BENCH.glob("*.py") if p.name != "common.py"))
def test_bench_script_imports(script: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(BENCH))
    spec = importlib.util.spec_from_file_location(f"bench_{script[:-3]}", BENCH / script)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, module)
    spec.loader.exec_module(module)
    assert callable(getattr(module, "main", None))


def test_gpu_script_parses_and_names_only_existing_scripts() -> None:
    """bench/gpu.sh runs once, on a lent GPU machine: it must at least parse and call scripts that exist."""
    script = BENCH / "gpu.sh"
    assert subprocess.run(["bash", "-n", str(script)], capture_output=True).returncode == 0
    called = set(re.findall(r"bench/(\w+\.py)", script.read_text()))
    assert called and all((BENCH / name).is_file() for name in called)
