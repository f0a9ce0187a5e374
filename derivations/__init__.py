"""Exact SymPy derivations of log-likelihoods, scores, Hessians and MLE/MAP answers.

This package never imports torch: numerics/ and reports/ build on it, not the other way round.
"""

from mlemap.derivations.engine import Derivation, NoClosedForm, derive
from mlemap.derivations.model import InputError, Model, Parameter

__all__ = ["Derivation", "InputError", "Model", "NoClosedForm", "Parameter", "derive"]
