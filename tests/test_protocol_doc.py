"""docs/protocol.md is a contract: keep it in step with the code that enforces it."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from server.domain.describe import entity_reference_markdown, workflow_markdown

ROOT = Path(__file__).resolve().parent.parent
DOC = (ROOT / "docs" / "protocol.md").read_text()


def test_the_entity_reference_in_the_protocol_matches_the_code():
    embedded = DOC.split("<!-- entities:begin -->\n")[1].split("<!-- entities:end -->")[0]
    assert embedded == entity_reference_markdown(), (
        "regenerate the block with: python -m server.domain.describe")


def test_the_workflow_tables_in_the_protocol_match_the_code():
    embedded = DOC.split("<!-- workflows:begin -->\n")[1].split("<!-- workflows:end -->")[0]
    assert embedded == workflow_markdown(), (
        "regenerate the block with: python -m server.domain.describe workflows")


def _codes_in_code() -> set[str]:
    """Every error code string the server and engine can answer with."""
    codes = set()
    for path in [*ROOT.joinpath("sync").rglob("*.py"), *ROOT.joinpath("server").rglob("*.py")]:
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            is_code = isinstance(node, ast.Assign) and any(
                isinstance(t, ast.Name) and t.id == "code" for t in node.targets)
            if is_code and isinstance(node.value, ast.Constant):
                codes.add(node.value.value)
            if isinstance(node, ast.Call) and getattr(node.func, "id", "") in {
                    "reject", "ApiError", "ErrorInfo", "_rejected", "_respond"}:
                for arg in node.args:
                    if isinstance(arg, ast.Constant) and isinstance(arg.value, str) \
                            and re.fullmatch(r"[a-z_]+", arg.value):
                        codes.add(arg.value)
    from server.errors import HTTP_CODES

    codes.update(HTTP_CODES.values())
    return codes - {"sync_error", "rejected", "http_error"}


def test_every_error_code_the_code_can_answer_is_documented():
    documented = set(re.findall(r"^\| `([a-z_]+)` \|", DOC.split("## 11.")[1], re.M))
    missing = _codes_in_code() - documented
    assert not missing, f"document these error codes in docs/protocol.md §11: {missing}"


def test_every_documented_error_code_exists_in_the_code():
    documented = set(re.findall(r"^\| `([a-z_]+)` \|", DOC.split("## 11.")[1].split("## 12.")[0],
                                re.M))
    unknown = documented - _codes_in_code()
    assert not unknown, f"docs/protocol.md §11 lists codes the code never uses: {unknown}"
