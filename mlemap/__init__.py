"""mlemap: exact MLE/MAP derivations, proved by independent numerics, written up as a handout.

    from mlemap import Model, derive, verify, estimate
    d = derive(MODEL)                 # exact log-likelihood, score, Hessian, closed-form answers
    verify(d)                         # torch autograd, finite differences, optimizers, scipy peers
    estimate(d, {"x": [...]}).summary()

One import name: the layers live in the project's top-level folders derivations/, numerics/ and reports/ and
are installed as mlemap.derivations, mlemap.numerics and mlemap.reports, so nothing installed shadows a
course's own `sheets`, `reports` or `tests`. Names load on first use: `import mlemap` stays light. torch is
the extra mlemap[torch]: without it everything works but the checks and study parts that are torch's own
(autograd, torch.optim), which SKIP saying so.
"""

from __future__ import annotations

import importlib
from pathlib import Path

_SOURCE_TREE = Path(__file__).resolve().parent.parent
if not (Path(__file__).parent / "derivations").is_dir() and (_SOURCE_TREE / "derivations" / "__init__.py").is_file():
    # run from a source tree (a clone, an editable install): the layers are the top-level folders beside mlemap/
    __path__.append(str(_SOURCE_TREE))

_PUBLIC = {
    "Model": "mlemap.derivations.model",
    "Parameter": "mlemap.derivations.model",
    "InputError": "mlemap.derivations.model",
    "Beta": "mlemap.derivations.distributions",
    "Gamma": "mlemap.derivations.distributions",
    "Normal": "mlemap.derivations.distributions",
    "Prior": "mlemap.derivations.distributions",
    "Derivation": "mlemap.derivations.engine",
    "NoClosedForm": "mlemap.derivations.engine",
    "derive": "mlemap.derivations.engine",
    "n_obs": "mlemap.derivations.engine",
    "Sheet": "mlemap.derivations.sheet",
    "Estimate": "mlemap.derivations.sheet",
    "PlugIn": "mlemap.derivations.sheet",
    "Posterior": "mlemap.derivations.sheet",
    "PosteriorPredictive": "mlemap.derivations.sheet",
    "Probability": "mlemap.derivations.sheet",
    "OptimizerStudy": "mlemap.derivations.sheet",
    "LogTheory": "mlemap.derivations.sheet",
    "Bias": "mlemap.derivations.sheet",
    "Precision": "mlemap.derivations.sheet",
    "PriorStrength": "mlemap.derivations.sheet",
    "answers": "mlemap.derivations.sheet",
    "load_sheet": "mlemap.derivations.sheet",
    "verify": "mlemap.numerics.verify",
    "verify_sheet": "mlemap.numerics.verify",
    "estimate": "mlemap.numerics.estimate",
    "check": "mlemap.numerics.check",
    "build_report": "mlemap.reports",
}


def __getattr__(name: str):
    if name not in _PUBLIC:
        raise AttributeError(f"module 'mlemap' has no attribute {name!r}")
    value = getattr(importlib.import_module(_PUBLIC[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_PUBLIC])


__all__ = sorted(_PUBLIC)
