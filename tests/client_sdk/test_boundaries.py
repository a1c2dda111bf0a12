"""The field SDK runs on a laptop without the server's stack: importing it loads no web
framework, no ORM, no token or scheduling library, and of the server package only the
domain's declarations it shares (vocabulary, workflows, merge policies, bounds)."""

from __future__ import annotations

import json
import subprocess
import sys

SERVER_STACK = ("flask", "werkzeug", "flask_sqlalchemy", "flask_migrate", "marshmallow",
                "jwt", "apscheduler", "sqlalchemy", "alembic", "prometheus_client")
SHARED = {"server", "server.domain", "server.domain.vocabulary", "server.domain.workflows",
          "server.domain.policies", "server.domain.bounds"}


def loaded_after_importing_the_sdk() -> list[str]:
    code = ("import json, sys; import client_sdk, client_sdk.cli, client_sdk.field; "
            "print(json.dumps(sorted(sys.modules)))")
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True,
                         text=True).stdout
    return json.loads(out)


def test_importing_the_sdk_loads_nothing_of_the_server_stack():
    loaded = loaded_after_importing_the_sdk()
    stack = sorted({m.split(".")[0] for m in loaded} & set(SERVER_STACK))
    assert stack == []
    assert {m for m in loaded if m == "server" or m.startswith("server.")} <= SHARED
