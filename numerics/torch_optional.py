"""torch is the extra mlemap[torch], imported on first use: the derivations, the SymPy- and scipy-based checks
and the MD/HTML reports run without it. A check that needs it then SKIPs with TORCH_MISSING as its reason, and
a part of a study that is torch itself (torch.optim) is left out with the same reason."""

from __future__ import annotations

import functools
from types import ModuleType

TORCH_MISSING = "torch is not installed"  # a SKIP's reason, as a handout prints it
# what the commands add for whoever runs them: the CPU build, for a plain install resolves the CUDA one and its
# nvidia-* packages, gigabytes nothing here uses
INSTALL_TORCH = "pip install --extra-index-url https://download.pytorch.org/whl/cpu 'mlemap[torch]'"


def is_torch_missing(exc: ModuleNotFoundError) -> bool:
    return (exc.name or "").partition(".")[0] == "torch"


@functools.cache
def has_torch() -> bool:
    try:
        import torch  # noqa: F401 - importable is the question
    except ModuleNotFoundError as exc:
        if not is_torch_missing(exc):
            raise
        return False
    return True


def torch_module() -> ModuleType:
    """torch itself; ModuleNotFoundError (name 'torch') without it, which the commands turn into one line."""
    import torch

    return torch
