"""One way into contracts: `exchange/contracts` knows nothing of where deals come from."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import exchange.contracts

CONTRACTS = Path(exchange.contracts.__file__).parent
SOURCES_OF_DEALS = ("exchange.orders", "exchange.negotiation")


def _imported(path: Path) -> set[str]:
    """Every module an `import` or `from ... import` in the file names (also inside functions)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names |= {f"{node.module}.{alias.name}" for alias in node.names}
    return names


def _is_source(name: str) -> bool:
    return any(name == banned or name.startswith(banned + ".") for banned in SOURCES_OF_DEALS)


def test_no_contracts_module_imports_a_source_of_deals() -> None:
    modules = sorted(CONTRACTS.glob("*.py"))
    offending = {
        path.name: sorted(name for name in _imported(path) if _is_source(name)) for path in modules
    }

    assert {"deal.py", "issue.py", "verify.py", "lifecycle.py"} <= {p.name for p in modules}
    assert {name: found for name, found in offending.items() if found} == {}


def test_loading_contracts_loads_no_source_of_deals_either() -> None:
    # in a fresh interpreter: what the contracts modules pull in, directly or not
    modules = [f"exchange.contracts.{path.stem}" for path in sorted(CONTRACTS.glob("*.py"))]
    script = (
        "import importlib, sys\n"
        f"for name in {modules!r}: importlib.import_module(name)\n"
        "print('\\n'.join(sorted(sys.modules)))\n"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=60
    ).stdout.split()

    assert "exchange.contracts.issue" in loaded
    assert [name for name in loaded if _is_source(name)] == []
