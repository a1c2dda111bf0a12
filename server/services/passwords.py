"""The password rule: long enough, not common, not the account's own email.

A password is refused when it is shorter than MIN_LENGTH characters or longer than
MAX_LENGTH, when it has fewer than MIN_DISTINCT different characters (twelve spaces,
"abababababab"), when its lower-cased form is in the common-password list shipped with the
package (common_passwords.txt) or is such an entry followed by digits or symbols
("Password2026!"), and when it contains the email or the email's local part. The rule
follows NIST SP 800-63B: length and a blocklist, no composition rules.
"""

from __future__ import annotations

from functools import lru_cache
from importlib import resources
from typing import NamedTuple

MIN_LENGTH = 12
MAX_LENGTH = 1024
MIN_DISTINCT = 5
# A local part this short ("jo") is too likely to occur in any long password by chance.
MIN_EMAIL_PART = 3
# What people append to a common password to pass a composition rule.
APPENDAGES = "0123456789!@#$%^&*.,;:?_-+= "


class PasswordProblem(NamedTuple):
    """Why a password is refused: a stable `code`, what is wrong, and advice for the person
    choosing it."""

    code: str
    summary: str
    advice: str


def password_problem(password: str, *, email: str | None = None) -> PasswordProblem | None:
    """The first rule `password` breaks for an account with `email`, or None if it is fine."""
    if len(password) < MIN_LENGTH:
        return PasswordProblem("password_too_short", "The password is too short",
                               f"Use at least {MIN_LENGTH} characters.")
    if len(password) > MAX_LENGTH:
        return PasswordProblem("password_too_long", "The password is too long",
                               f"Use at most {MAX_LENGTH} characters.")
    lowered = password.lower()
    if len(set(lowered)) < MIN_DISTINCT or _is_common(lowered):
        return PasswordProblem("password_too_common", "The password is too common",
                               "This password is too common or too simple; "
                               "a few unrelated words make a good one.")
    if email and _mentions(lowered, email.strip().lower()):
        return PasswordProblem("password_contains_email", "The password contains the email",
                               "Do not use your email address or its name part.")
    return None


def _is_common(lowered: str) -> bool:
    common = common_passwords()
    stem = lowered.rstrip(APPENDAGES)
    return lowered in common or lowered.strip() in common or (bool(stem) and stem in common)


def _mentions(lowered: str, email: str) -> bool:
    local = email.partition("@")[0]
    return email in lowered or (len(local) >= MIN_EMAIL_PART and local in lowered)


@lru_cache(maxsize=1)
def common_passwords() -> frozenset[str]:
    """The shipped common-password list, lower-cased, read once per process."""
    text = resources.files(__package__).joinpath("common_passwords.txt").read_text("utf-8")
    return frozenset(line for line in text.splitlines() if line and not line.startswith("#"))
