"""docs/protocol.md is a contract: keep it in step with the code that enforces it."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from server.domain.describe import entity_reference_markdown, workflow_markdown
from server.errors import STATUS
from sync.errors import ErrorCode

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


def _documented() -> dict[str, str]:
    """§11's table: code -> its HTTP column."""
    table = DOC.split("## 11.")[1].split("## 12.")[0]
    return dict(re.findall(r"^\| `([a-z_]+)` \| ([^|]+?) \|", table, re.M))


def _literal_codes() -> set[str]:
    """Error codes written as string literals in the server, the engine and the SDK: a
    `code = "..."` attribute, or the code argument of a call that takes one."""
    codes = set()
    for path in [*ROOT.joinpath("sync").rglob("*.py"), *ROOT.joinpath("server").rglob("*.py"),
                 *ROOT.joinpath("client_sdk").rglob("*.py")]:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Assign) and any(
                    isinstance(t, ast.Name | ast.Attribute) and getattr(t, "id", getattr(
                        t, "attr", "")) == "code" for t in node.targets):
                codes |= _strings([node.value])
            position = CODE_TAKERS.get(_name(node.func)) if isinstance(node, ast.Call) else None
            if position is not None:
                codes |= _strings(node.args[position:position + 1])
    return codes


# callables taking an error code, by the position of that argument
CODE_TAKERS = {"reject": 0, "ApiError": 0, "ErrorInfo": 0, "_coded": 0, "MutationRejected": 0,
               "_rejected": 1, "_respond": 1, "ServerError": 1}


def _name(func: ast.expr) -> str:
    return getattr(func, "id", getattr(func, "attr", ""))


def _strings(nodes: list[ast.expr]) -> set[str]:
    return {n.value for n in nodes if isinstance(n, ast.Constant) and isinstance(n.value, str)
            and re.fullmatch(r"[a-z_]+", n.value)}


def test_every_error_code_the_code_can_answer_is_documented():
    missing = {code.value for code in ErrorCode} - set(_documented())
    assert not missing, f"document these error codes in docs/protocol.md §11: {missing}"


def test_every_documented_error_code_exists_in_the_code():
    unknown = set(_documented()) - {code.value for code in ErrorCode}
    assert not unknown, f"docs/protocol.md §11 lists codes the code never uses: {unknown}"


def test_every_error_code_written_as_text_is_an_error_code():
    unknown = _literal_codes() - {code.value for code in ErrorCode}
    assert not unknown, f"make these codes ErrorCode members (sync/errors.py): {unknown}"


def test_the_documented_status_of_every_code_is_the_one_the_server_answers():
    """server.errors.STATUS is the one code -> status table; §11 shows it. A code without a
    status there (a push result's, or Werkzeug's other statuses) shows none."""
    documented = _documented()
    wrong = {code.value: (documented.get(code), STATUS.get(code)) for code in ErrorCode
             if _differs(code, documented.get(code))}
    assert not wrong, f"§11 status (documented, answered) differs: {wrong}"


def _differs(code: ErrorCode, cell: str | None) -> bool:
    if code in STATUS:
        return cell != str(STATUS[code])
    return cell is None or cell[0].isdigit()
