"""`nox -s bench`: speed and memory, each measured side by side in one run; writes build/bench.json.

Nothing here asserts a time: the numbers are reported against their goals. The baselines are the exercise
sheet's own helpers (its L and its heatmap), written out here as the sheet gives them.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from mlemap.derivations.designs import gaussian_mean
from mlemap.derivations.engine import derive
from mlemap.numerics import quadratic as qd
from mlemap.numerics.exact_study import draw

SIGMA = ((5, 0), (0, 5))
GRID = (-5.0, 5.0)


def praxis(n: int) -> qd.Sample:
    d = derive(gaussian_mean("praxis_bench", SIGMA, (1, 1)))
    return qd.sample(d, draw(d, n, 0), 0)


def sheet_L(X: torch.Tensor, mu: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
    """The exercise sheet's L, verbatim: it drops the constant."""
    diff = X - mu
    return (-0.5 * diff @ sigma.inverse() * diff).sum()


def sheet_heatmap(X: torch.Tensor, sigma: torch.Tensor, resolution: int = 100) -> np.ndarray:
    """The sheet's vizualize() grid: np.vectorize over one torch call per grid point."""
    point = lambda a, b: float(sheet_L(X, torch.tensor([a, b], dtype=torch.float64), sigma))  # noqa: E731
    space = np.linspace(*GRID, resolution)
    x, y = np.meshgrid(space, space)
    return np.array(np.vectorize(point)(np.ravel(x), np.ravel(y))).reshape(x.shape)


def constant(s: qd.Sample) -> float:
    """What the sheet's L drops: n (-log 2 pi - log det Sigma / 2)."""
    return s.n * (-np.log(2 * np.pi) - 0.5 * np.log(np.linalg.det(np.linalg.inv(s.curvature))))


GOALS = {
    "heatmap_speedup": (">=", 1e4),
    "suffstat_grad_speedup": (">=", 100),
    "n1e8_peak_rss_gib": ("<=", 2.0),
    "report_vs_import_floor": ("<=", 5.0),
    "derive_seconds_max": ("<=", 5.0),
    "check_median_ms": ("<=", 50.0),
    "check_cold_seconds": ("<=", 2.0),
    "grade_class_seconds": ("<=", 60.0),
}
DERIVE_CHILD = """
import json, os, time
os.environ["MLEMAP_NO_CACHE"] = "1"
from mlemap.derivations import derive
from mlemap.catalogue import MODELS
from tests.textbook_catalogue import CASES  # the textbook catalogue (issue 16): each model derives in < 5 s
MODELS = {**MODELS, **{case.model.name: case.model for case in CASES}}
seconds = {}
for name, model in sorted(MODELS.items()):
    start = time.perf_counter()
    derive(model)
    seconds[name] = time.perf_counter() - start
print(json.dumps(seconds))
"""


def derive_seconds() -> dict:
    """Each catalogue model derived afresh (no disk cache), in a fresh process; the slowest is the goal's."""
    out = subprocess.run([sys.executable, "-c", DERIVE_CHILD], check=True, capture_output=True, text=True)
    seconds = json.loads(out.stdout)
    return {"derive_seconds_max": max(seconds.values()), "derive_seconds": seconds}


IMPORT_FLOOR = "import torch, sympy, scipy, matplotlib.pyplot"

STREAM_CHILD = """
import json, resource, sys, time
import numpy as np
from tests.bench import praxis
from mlemap.numerics import quadratic as qd
p = praxis(10)
p.stats  # derive and lambdify before the clock starts
cov = np.linalg.inv(p.curvature)
def draws(rng, size):
    x = rng.multivariate_normal([1.0, 1.0], cov, size)
    return {"x1": x[:, 0], "x2": x[:, 1]}
start = time.perf_counter()
stats = qd.streamed_statistics(p, draws, int(sys.argv[1]), chunk=1_000_000, seed=0)
elapsed = time.perf_counter() - start
print(json.dumps({"seconds": elapsed, "peak_rss_gib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20, "mean_x1": stats["S_x1"] / stats["n"]}))
"""


def best_of(fn, repeat: int = 5) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def heatmap_speedup(resolution: int = 100) -> dict:
    p = praxis(10_000)
    X, S = torch.tensor(p.data), torch.tensor(np.linalg.inv(p.curvature))

    def ours():
        p.__dict__.pop("stats", None)  # the statistics are part of the measured cost
        return qd.heatmap(p, resolution, GRID)[2]

    fast = best_of(ours, repeat=50)  # a tenth of a millisecond: the minimum of many runs is the stable figure
    start = time.perf_counter()
    slow_values = sheet_heatmap(X, S, resolution)
    slow = time.perf_counter() - start
    rel = float(np.max(np.abs(ours() - constant(p) - slow_values) / np.abs(slow_values)))
    return {
        "heatmap_speedup": slow / fast,
        "heatmap_seconds": {"sheet_helper": slow, "sufficient_statistics": fast},
        "heatmap_max_rel_diff": rel,
    }


def suffstat_grad_speedup(n: int = 1_000_000) -> dict:
    """Autograd of L over the raw data (the sheet's own L, and our lambdified per-observation sum) against
    autograd through the sufficient statistics (the derived quadratic form theta^T A theta + b^T theta + c)."""
    p = praxis(n)
    X, S = torch.tensor(p.data), torch.tensor(np.linalg.inv(p.curvature))
    A, b, c = p.compiled.quadratic_form(p.stats)
    mu = torch.tensor([0.3, -0.2], dtype=torch.float64, requires_grad=True)
    columns = {k: torch.as_tensor(v) for k, v in p.columns().items()}

    def sheet():
        return torch.autograd.grad(sheet_L(X, mu, S), mu)[0]

    def lambdified():
        return torch.autograd.grad(p.compiled.objective_torch({"mu1": mu[0], "mu2": mu[1]}, columns), mu)[0]

    def statistics():
        return torch.autograd.grad(mu @ A @ mu + b @ mu + c, mu)[0]

    rel = max(float(torch.max(torch.abs(f() - statistics()) / torch.abs(statistics()))) for f in (sheet, lambdified))
    t_sheet, t_lambdified, t_stats = best_of(sheet), best_of(lambdified), best_of(statistics, 200)
    return {
        "suffstat_grad_speedup": t_sheet / t_stats,
        "suffstat_grad_speedup_vs_lambdified_raw": t_lambdified / t_stats,
        "suffstat_grad_seconds": {"raw_sheet_L": t_sheet, "raw_lambdified": t_lambdified, "statistics": t_stats},
        "suffstat_grad_max_rel_diff": rel,
    }


def scaling(ns=(10**4, 10**5, 10**6, 10**7, 10**8)) -> dict:
    rows = []
    for n in ns:
        out = subprocess.run([sys.executable, "-c", STREAM_CHILD, str(n)], capture_output=True, text=True, check=True)
        rows.append({"n": n, **json.loads(out.stdout)})
    per_point = [r["seconds"] / r["n"] for r in rows if r["n"] >= 10**6]
    return {
        "n1e8_peak_rss_gib": rows[-1]["peak_rss_gib"] if rows[-1]["n"] == 10**8 else None,
        "scaling": rows,
        "seconds_per_point_spread": max(per_point) / min(per_point) if per_point else None,
    }


def wall(cmd: list[str], ok=(0,)) -> float:
    start = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True)
    if done.returncode not in ok:
        raise RuntimeError(f"{' '.join(cmd[:4])} exited {done.returncode}: {done.stderr.decode()[-300:]}")
    return time.perf_counter() - start


def report_vs_import_floor() -> dict:
    floor = min(wall([sys.executable, "-c", IMPORT_FLOOR]) for _ in range(3))
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [sys.executable, "-m", "mlemap.reports", "--out", str(Path(tmp) / "report")]
        wall(cmd)  # cold: fills OS caches and matplotlib's font cache
        warm = wall(cmd)
    return {"report_vs_import_floor": warm / floor, "report_seconds": warm, "import_floor_seconds": floor}


def check_speed() -> dict:
    """One answer checked warm (the median over every answer of Exercise 3 in two notations), and a fresh
    `mlemap check` process with a warm disk cache."""
    from mlemap.derivations.sheet import answers
    from mlemap.numerics.check import check
    from mlemap.sheets.exercise3 import SHEET

    found = answers(SHEET)
    texts = [(a.key, f"{float(a.value):.6g}" if a.value is not None else "xbar") for a in found]
    for key, text in texts:
        check(SHEET, key, text)  # warm: every model derived
    times = []
    for key, text in texts * 3:
        start = time.perf_counter()
        check(SHEET, key, text)
        times.append(time.perf_counter() - start)
    cold = min(
        wall(
            [sys.executable, "-m", "mlemap.numerics.check", "task1.sigma2_mle", r"\frac{1}{n-1}\sum_i (x_i-\bar x)^2"],
            ok=(1,),
        )
        for _ in range(3)
    )
    return {"check_median_ms": 1000 * float(np.median(times)), "check_cold_seconds": cold}


def grade_class_seconds(students: int = 200) -> dict:
    """200 students x every answer of Exercise 3: right answers, typical mistakes and random wrong ones."""
    import csv
    import io
    import random

    from mlemap.derivations.sheet import answers
    from mlemap.sheets.exercise3 import SHEET

    rng = random.Random(0)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["student", "question", "answer"])
    for k in range(students):
        for a in answers(SHEET):
            right = f"{float(a.value):.6g}" if a.value is not None else None
            choices = [right or "xbar", "sum(x_i)/(n-1)", f"{rng.randint(1, 99)}/{rng.randint(100, 200)}"]
            writer.writerow([f"s{k:03d}", a.key, rng.choice(choices)])
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "class.csv"
        path.write_text(out.getvalue())
        seconds = wall([sys.executable, "-m", "mlemap.reports.grade", str(path), "--out", str(Path(tmp) / "g")])
    return {"grade_class_seconds": seconds}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.bench", description=__doc__)
    parser.add_argument("--json", type=Path, default=Path("build/bench.json"))
    parser.add_argument("--max-n", type=float, default=1e8, help="largest n of the scaling table (default 1e8)")
    parser.add_argument("--skip-report", action="store_true", help="leave out report_vs_import_floor")
    args = parser.parse_args(argv)
    result: dict = {}
    for name, fn in (
        ("heatmap", heatmap_speedup),
        ("gradient", suffstat_grad_speedup),
        ("scaling", lambda: scaling(tuple(n for n in (10**4, 10**5, 10**6, 10**7, 10**8) if n <= args.max_n))),
        ("derive", derive_seconds),
        ("check", check_speed),
        ("grade", grade_class_seconds),
        ("report", None if args.skip_report else report_vs_import_floor),
    ):
        if fn is None:
            continue
        start = time.perf_counter()
        result.update(fn())
        print(f"[{name:<8}] {time.perf_counter() - start:6.1f} s", flush=True)
    result["goals"] = {}
    for key, (op, goal) in GOALS.items():
        value = result.get(key)
        met = None if value is None else (value >= goal if op == ">=" else value <= goal)
        result["goals"][key] = {"value": value, "goal": f"{op} {goal:g}", "met": met}
        print(
            f"{key:<24} {'n/a' if value is None else f'{value:.4g}':>10}  goal {op} {goal:g}  {'met' if met else 'NOT met' if met is not None else ''}"
        )
    for row in result.get("scaling", []):
        print(f"  n = {row['n']:>11,}  {row['seconds']:8.3f} s  peak RSS {row['peak_rss_gib']:.3f} GiB")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(result, indent=2, sort_keys=True) + "\n")
    print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
