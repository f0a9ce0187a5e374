"""Exercise sheets as input files, and the model catalogue they draw on.

A sheet is one Python file that defines SHEET, a mlemap.Sheet: its title and its questions, each a
question kind (Estimate, PlugIn, Posterior, PosteriorPredictive, ...) applied to a declared model.
`python -m mlemap.numerics.verify --sheet PATH` checks any sheet; exercise3.py is the default.
"""

from pathlib import Path

DEFAULT_SHEET = Path(__file__).parent / "exercise3.py"  # the default of every command
