"""The layers import one way: derivations (SymPy) -> numerics -> reports. derivations never imports torch, and
neither do the sheets' models; every layer is imported under the one name mlemap."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LAYERS = ("derivations", "numerics", "reports")


def test_the_derivation_layer_and_the_catalogue_never_import_torch():
    code = (
        "import sys, mlemap, mlemap.derivations.engine, mlemap.derivations.sheet, mlemap.derivations.proof, "
        "mlemap.derivations.fisher, mlemap.derivations.show, mlemap.catalogue, mlemap.sheets.exercise3, "
        "mlemap.sheets.exercise4; print(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('torch', 'matplotlib', 'derivations', 'numerics', 'reports', 'sheets') "
        "or m.startswith(('mlemap.numerics', 'mlemap.reports'))))"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def imported_layers(path: Path) -> set[str]:
    """The mlemap layers a module imports, and any layer imported under its bare folder name."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
        for name in names:
            parts = name.split(".")
            if parts[0] in (*LAYERS, "sheets"):
                found.add(f"bare {parts[0]}")
            elif parts[0] == "mlemap" and len(parts) > 1 and parts[1] in LAYERS:
                found.add(parts[1])
    return found


@pytest.mark.parametrize("layer", LAYERS)
def test_each_layer_imports_only_the_layers_below_it(layer):
    below = set(LAYERS[: LAYERS.index(layer) + 1])
    wrong = {
        str(path.relative_to(ROOT)): sorted(imported_layers(path) - below)
        for path in sorted((ROOT / layer).rglob("*.py"))
        if imported_layers(path) - below
    }
    assert wrong == {}


def test_a_layer_that_imports_upwards_is_found(tmp_path):
    module = tmp_path / "m.py"
    module.write_text("from mlemap.reports.build import build\nimport numerics.verify\n")
    assert imported_layers(module) == {"reports", "bare numerics"}


def test_without_torch_every_public_name_works_and_the_checks_that_need_it_skip():
    """torch is the extra mlemap[torch]: with it unimportable, every public name imports, derive and estimate
    work, and verify SKIPs exactly the checks that need torch, each saying so; none FAILs."""
    code = (
        "import sys, importlib.abc\n"
        "class Block(importlib.abc.MetaPathFinder):\n"
        "    def find_spec(self, name, path, target=None):\n"
        "        if name.partition('.')[0] == 'torch':\n"
        "            raise ModuleNotFoundError(\"No module named 'torch'\", name='torch')\n"
        "sys.meta_path.insert(0, Block())\n"
        "import mlemap\n"
        "from mlemap import derive, estimate, verify\n"
        "from mlemap.catalogue import POISSON\n"
        "missing = [name for name in mlemap.__all__ if getattr(mlemap, name, None) is None]\n"
        "d = derive(POISSON)\n"
        "print(d.estimate, missing, estimate(d, {'x': [1, 2, 6]}).values)\n"
        "v = verify(d)\n"
        "print(v.passed, sorted((c.check, c.detail) for c in v.checks if c.status == 'SKIP'))\n"
        "print('torch' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    first, second, third = out.stdout.strip().splitlines()
    assert first == "{lambda: S_x/n} [] {'lambda': 3.0}"
    from mlemap.numerics.torch_optional import TORCH_MISSING

    reason = f"skipped: {TORCH_MISSING}"
    assert second == f"True {sorted((c, reason) for c in ('autograd', 'hessian_autograd', 'torch_optim'))}"
    assert third == "False"
