#!/usr/bin/env python3
"""The import contract: the runtime (assistant/) sits below the desktop app (gui/) and
training (training/) and never imports them, not even lazily or through importlib; gui/
never imports training/. Exit 1 naming each breach (file:line), 0 when the layers hold.

Run by `make lint` and by tests/test_layers.py.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

# package -> packages it must not import
FORBIDDEN = {
    "assistant": ("gui", "training"),
    "gui": ("training",),
}
_DYNAMIC = ("import_module", "find_spec", "__import__")


def _top(name: str) -> str:
    return name.split(".", 1)[0]


def breaches(repo: Path = REPO) -> list[str]:
    """Every import that breaks the contract, as ``path:line: what``."""
    found: list[str] = []
    for package, banned in FORBIDDEN.items():
        for path in sorted((repo / package).rglob("*.py")):
            tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
            for node in ast.walk(tree):
                names: list[str] = []
                if isinstance(node, ast.Import):
                    names = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    names = [node.module]
                elif (
                    isinstance(node, ast.Call)
                    and getattr(node.func, "attr", getattr(node.func, "id", None)) in _DYNAMIC
                    and node.args
                    and isinstance(node.args[0], ast.Constant)
                    and isinstance(node.args[0].value, str)
                ):
                    names = [node.args[0].value]
                for name in names:
                    if _top(name) in banned:
                        where = path.relative_to(repo)
                        found.append(f"{where}:{node.lineno}: {package} imports {name}")
    return found


def main() -> int:
    found = breaches()
    for line in found:
        print(line, file=sys.stderr)
    if found:
        print(f"error: {len(found)} import(s) break the layers (assistant < gui, training); "
              "plug the feature in through an entry point (assistant/plugins.py)",
              file=sys.stderr)  # fmt: skip
        return 1
    print("import contract: assistant imports neither gui nor training; gui not training")
    return 0


if __name__ == "__main__":
    sys.exit(main())
