"""Fuzz the live HTTP API against its OpenAPI document with schemathesis.

    python .ci/api_contract.py --backend sqlite|postgresql [--max-examples N]

Builds a throw-away database (migrated, a small demo company, an admin), serves it with
gunicorn on a free loopback port, and runs schemathesis on /api/v1/openapi.json, signed in
as the admin (.ci/schemathesis_hooks.py: the login is the auth flow, redone on a 401).
Fails on any server error (5xx), any answer that breaks the document's schema, status code
or content type; then checks that /metrics, in multiprocess mode, counted the run.
Exits with schemathesis' status; always stops the server and drops the database.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.databases import postgres_database  # noqa: E402

BIN = Path(sys.executable).parent
ADMIN_EMAIL, ADMIN_PASSWORD = "fuzz.admin@example.test", "fuzz-admin-password"
CHECKS = ("not_a_server_error,response_schema_conformance,status_code_conformance,"
          "content_type_conformance")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--max-examples", type=int, default=50)
    parser.add_argument("--seed", type=int, default=None)
    args = parser.parse_args()
    with database(args.backend) as url, tempfile.TemporaryDirectory() as metrics_dir:
        env = server_env(url)
        prepare(env)
        env["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir
        with served(env) as base:
            sign_in(base)  # fail early, and clearly, if the admin cannot sign in
            status = fuzz(base, args.max_examples, args.seed)
            return status or check_metrics(base)


@contextlib.contextmanager
def database(backend: str) -> Iterator[str]:
    if backend == "postgresql":
        with postgres_database("fieldsync_contract") as url:
            yield url
    else:
        with tempfile.TemporaryDirectory(prefix="fieldsync-contract-") as folder:
            yield f"sqlite:///{folder}/fieldsync.sqlite"


def server_env(url: str) -> dict[str, str]:
    return {**os.environ, "FIELDSYNC_ENV": "production", "DATABASE_URL": url,
            "SECRET_KEY": secrets.token_urlsafe(48), "ACCESS_TOKEN_TTL_SECONDS": "3600",
            "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000", "LOG_LEVEL": "WARNING",
            # The fuzzer's failed logins all come from 127.0.0.1: without these the address
            # limit would refuse the admin's own sign-in after 50 of them.
            "LOGIN_LIMIT_PER_ADDRESS": "1000000", "LOGIN_LIMIT_PER_USER": "1000000"}


def prepare(env: dict[str, str]) -> None:
    """Migrate, seed a small demo company, add the admin the fuzzer signs in as."""
    fieldsync = str(BIN / "fieldsync")
    for command in (["db", "upgrade"], ["seed-demo", "--accounts", "20"]):
        subprocess.run([fieldsync, *command], env=env, check=True, timeout=600,
                       stdout=subprocess.DEVNULL)
    subprocess.run([fieldsync, "create-user", "--email", ADMIN_EMAIL, "--name", "Fuzz Admin",
                    "--role", "admin", "--password-stdin"], env=env, check=True, timeout=120,
                   input=ADMIN_PASSWORD + "\n", text=True, stdout=subprocess.DEVNULL)


@contextlib.contextmanager
def served(env: dict[str, str]) -> Iterator[str]:
    port = free_port()
    server = subprocess.Popen(
        # No request-line limit: the fuzzer's long query strings must reach the app, not
        # gunicorn's own 414 page (a limit of the deployment, not of the API under test).
        [str(BIN / "gunicorn"), "-w", "2", "--threads", "2", "-b", f"127.0.0.1:{port}",
         "--limit-request-line", "0",
         "-c", "python:server.gunicorn_conf", "server:create_app()"],
        env=env, cwd=ROOT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_ready(base, server)
        yield base
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait(timeout=30)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_ready(base: str, server: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"gunicorn exited with {server.returncode}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{base}/api/v1/health/ready", timeout=2).status_code == 200:
                return
        time.sleep(0.25)
    raise RuntimeError(f"{base} was not ready within {timeout} s")


def sign_in(base: str) -> str:
    answer = httpx.post(f"{base}/api/v1/auth/login", timeout=30, json={
        "email": ADMIN_EMAIL, "password": ADMIN_PASSWORD, "device_name": "schemathesis"})
    answer.raise_for_status()
    return answer.json()["access_token"]


def fuzz(base: str, max_examples: int, seed: int | None) -> int:
    command = [str(BIN / "schemathesis"), "run", f"{base}/api/v1/openapi.json",
               "--checks", CHECKS, "--max-examples", str(max_examples), "--workers", "2",
               # The coverage phase trips a SystemError inside hypothesis on Python 3.11.7
               # (describing a lambda); the other phases cover the same operations.
               "--phases", "examples,fuzzing,stateful",
               "--generation-database", "none", "--request-timeout", "30", "--no-color",
               # The token is the run's own: schemathesis must keep sending it as is.
               "--generation-with-security-parameters", "false"]
    if seed is not None:
        command += ["--seed", str(seed)]
    env = {**os.environ, "SCHEMATHESIS_HOOKS": "schemathesis_hooks",
           "PYTHONPATH": os.pathsep.join([str(ROOT / ".ci"), os.environ.get("PYTHONPATH", "")]),
           "FUZZ_BASE_URL": base, "FUZZ_EMAIL": ADMIN_EMAIL, "FUZZ_PASSWORD": ADMIN_PASSWORD}
    # schemathesis keeps a cache of what it found in its working directory: not in the clone.
    with tempfile.TemporaryDirectory(prefix="fieldsync-schemathesis-") as scratch:
        return subprocess.run(command, env=env, cwd=scratch, timeout=900).returncode


def check_metrics(base: str) -> int:
    """Both gunicorn workers served the fuzzer: their summed counters must show it."""
    answer = httpx.get(f"{base}/metrics", timeout=30)
    served_requests = sum(
        float(line.rsplit(" ", 1)[1]) for line in answer.text.splitlines()
        if line.startswith("fieldsync_requests_total{"))
    print(f"/metrics under gunicorn (multiprocess): {answer.status_code}, "
          f"{served_requests:.0f} requests counted")
    return 0 if answer.status_code == 200 and served_requests > 0 else 1


if __name__ == "__main__":
    sys.exit(main())
