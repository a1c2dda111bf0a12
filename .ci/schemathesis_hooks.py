"""schemathesis hooks for .ci/api_contract.py: the fieldsync sign-in as its auth flow.

Every request carries a bearer token from POST /api/v1/auth/login, as the admin named by
FUZZ_BASE_URL, FUZZ_EMAIL and FUZZ_PASSWORD. The fuzzer may legitimately sign that admin
out (revoke its device): a 401 then signs in again, on a new device, and retries.
"""

from __future__ import annotations

import os
import uuid

import httpx
import schemathesis


@schemathesis.auth(refresh_interval=120, retry_on=[401])
class FieldsyncSignIn:
    def get(self, case, ctx):
        answer = httpx.post(f"{os.environ['FUZZ_BASE_URL']}/api/v1/auth/login", timeout=30,
                            json={"email": os.environ["FUZZ_EMAIL"],
                                  "password": os.environ["FUZZ_PASSWORD"],
                                  # a new device each time: the fuzzer may revoke the last
                                  "device_name": f"schemathesis-{uuid.uuid4().hex[:12]}"})
        if answer.status_code != 200:
            raise RuntimeError(f"sign-in failed: {answer.status_code} {answer.text}")
        return answer.json()["access_token"]

    def set(self, case, data, ctx):
        case.headers = {**(case.headers or {}), "Authorization": f"Bearer {data}"}
