"""The few lines of torch a student writes for each part of an optimizer study, with the study's own numbers
(the start, a rate as a fraction of the derived bound, an optimizer's settings, a batch size and its bound),
numbers to 4 significant digits as everywhere in the handout.
The code uses torch and two names the sheet's helper code provides in its own way, as CONTRACT tells the
reader: X, the data, and loglik(theta, X). tests/test_reference_code.py runs each snippet and checks that it
lands on the estimate."""

from __future__ import annotations

from collections.abc import Iterable

CONTRACT = (
    "In torch, with $X$ the data as a tensor of doubles, a row per observation, and loglik(theta, X) the "
    "log-likelihood of those rows at theta"
)


def _start(start: Iterable[float]) -> str:
    values = ", ".join(f"{float(v):g}" for v in start)
    return f"theta = torch.tensor([{values}], dtype=torch.float64, requires_grad=True)"


def ascent_code(start: Iterable[float], bound: float, fraction: float, steps: int) -> str:
    """Gradient ascent on the log-likelihood with autograd's gradient, at fraction x the stability bound."""
    return f"""{_start(start)}
lr = {fraction:g} * {bound:.4g}  # {fraction:g} x the stability bound, 2 / (largest eigenvalue of -H)
for step in range({steps}):
    (grad,) = torch.autograd.grad(loglik(theta, X), theta)
    with torch.no_grad():
        theta += lr * grad"""


def optimizer_code(start: Iterable[float], name: str, settings: dict) -> str:
    """One torch.optim optimizer (not LBFGS, which needs a closure) on the mean negative log-likelihood:
    optimizers minimise."""
    arguments = ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v!r}" for k, v in settings.items())
    return f"""{_start(start)}
opt = torch.optim.{name}([theta], {arguments})
for step in range(3000):
    opt.zero_grad()
    (-loglik(theta, X) / len(X)).backward()  # minimised: the mean negative log-likelihood
    opt.step()"""


def batch_code(start: Iterable[float], k: int, rate: float, steps: int, seed: int) -> str:
    """Mini-batch SGD: each step ascends the log-likelihood of k rows drawn without replacement, at rate."""
    return f"""{_start(start)}
generator = torch.Generator().manual_seed({seed})
for step in range({steps}):
    rows = torch.randperm(len(X), generator=generator)[:{k}]  # {k} points, without replacement
    (grad,) = torch.autograd.grad(loglik(theta, X[rows]), theta)
    with torch.no_grad():
        theta += {rate:.4g} * grad"""
