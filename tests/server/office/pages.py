"""Helpers of the office tests: CSRF tokens, signing in, posting forms."""

from __future__ import annotations

import re


def csrf_of(page: bytes) -> str:
    return re.search(rb'name="csrf_token" value="([^"]+)"', page).group(1).decode()


def office_sign_in(client, email: str, password: str):
    token = csrf_of(client.get("/office/sign-in").data)
    return client.post("/office/sign-in", data={
        "email": email, "password": password, "csrf_token": token})


def post_form(client, url: str, data: dict | None = None, page: str | None = None):
    """POST a form with the CSRF token of `page` (default: the same URL)."""
    token = csrf_of(client.get(page or url).data)
    return client.post(url, data={**(data or {}), "csrf_token": token})
