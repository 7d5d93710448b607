"""Shared benchmark plumbing: timing with CUDA events (triton's do_bench, median), environment record."""

from __future__ import annotations

import datetime as _dt
import json
import platform
from pathlib import Path
from typing import Any, Callable

RESULTS = Path(__file__).resolve().parent / "results"


def median_ms(fn: Callable[[], Any], warmup_ms: float = 50, rep_ms: float = 300) -> float:
    """Median device time of fn() in milliseconds (CUDA events, L2 flushed between runs by do_bench)."""
    import triton.testing

    return float(triton.testing.do_bench(fn, warmup=warmup_ms, rep=rep_ms, return_mode="median"))


def graph_median_ms(fn: Callable[[], Any], rep_ms: float = 300) -> float:
    """Median device time of fn() in milliseconds, replayed from a CUDA graph: host-side launch overhead
    (Python, argument checks) drops out, as it does in a TensorRT engine."""
    import triton.testing

    return float(triton.testing.do_bench_cudagraph(fn, rep=rep_ms, return_mode="median"))


def environment() -> dict[str, Any]:
    import torch

    env: dict[str, Any] = {
        "date": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
    }
    if torch.cuda.is_available():
        p = torch.cuda.get_device_properties(0)
        env.update(device=p.name, sm_count=p.multi_processor_count, capability=f"{p.major}.{p.minor}")
        try:
            import subprocess

            env["driver"] = subprocess.run(
                ["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"],
                capture_output=True,
                text=True,
                timeout=20,
            ).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            pass
    for mod in ("torchvision", "triton"):
        try:
            env[mod] = __import__(mod).__version__
        except ImportError:
            pass
    return env


def save(name: str, env: dict[str, Any], rows: list[dict[str, Any]], table: str) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    stem = f"{name}-{env.get('device', 'cpu').replace(' ', '_')}-{env['date'][:10]}"
    (RESULTS / f"{stem}.json").write_text(json.dumps({"environment": env, "rows": rows}, indent=2) + "\n")
    (RESULTS / f"{stem}.md").write_text(table + "\n")
    return RESULTS / f"{stem}.json"


def markdown(rows: list[dict[str, Any]], cols: list[str]) -> str:
    def fmt(v: Any) -> str:
        return f"{v:.4g}" if isinstance(v, float) else str(v)

    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    lines += ["| " + " | ".join(fmt(r.get(c, "")) for c in cols) + " |" for r in rows]
    return "\n".join(lines)
