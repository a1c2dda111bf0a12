"""The engine stays a core without a web framework: nothing in sync/ imports the server side."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import sync

FORBIDDEN = ("flask", "werkzeug", "flask_sqlalchemy", "marshmallow", "jwt", "apscheduler",
             "server")
SYNC_DIR = Path(sync.__file__).parent
MODULES = sorted(SYNC_DIR.rglob("*.py"))


def imported_modules(path: Path) -> set[str]:
    """Top-level names of every module `path` imports, wherever the import statement is."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
    return names


def test_the_walk_finds_the_engine_modules():
    found = {path.stem for path in MODULES}
    assert {"merge", "policies", "apply", "push", "pull", "engine", "hlc"} <= found


def test_the_walk_sees_imports_nested_inside_functions(tmp_path):
    module = tmp_path / "sample.py"
    module.write_text("def f():\n    from flask import g\n    import jwt.api_jwt\n")
    assert imported_modules(module) == {"flask", "jwt.api_jwt"}


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(SYNC_DIR)))
def test_no_engine_module_imports_the_web_side(path):
    offending = {name for name in imported_modules(path)
                 if name.split(".")[0] in FORBIDDEN}
    assert not offending, f"{path.name} imports {sorted(offending)}"
