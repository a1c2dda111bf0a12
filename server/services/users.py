"""Users: creation, passwords, roles, territories, enabling and disabling.

Every function takes a SQLAlchemy Session, validates its input, changes rows and flushes; the
caller commits. Refusals raise a UserError subclass whose `fields` maps each offending input to
a list of messages, the shape the API's error body uses, so the HTTP layer and the CLI can
both report them without parsing strings.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from functools import lru_cache

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from server.auth.refresh import revoke_refresh_tokens
from server.models import Role, Territory, User
from server.services.passwords import password_problem
from sync.errors import ErrorCode

MAX_EMAIL_LENGTH = 254
MAX_NAME_LENGTH = 120


class UserError(ValueError):
    """A user change was refused; `fields` maps each offending input to its messages.

    The API answers `code` (server.errors): validation_failed, unless a subclass says
    otherwise; the subclasses let the CLI and callers tell the refusals apart."""

    code = ErrorCode.VALIDATION_FAILED

    def __init__(self, message: str, fields: dict[str, list[str]]):
        super().__init__(message)
        self.message = message
        self.fields = fields


class DuplicateEmail(UserError):
    code = ErrorCode.EMAIL_TAKEN


class UnknownTerritory(UserError):
    pass


class InvalidRole(UserError):
    pass


class WeakPassword(UserError):
    """A password the rule of server.services.passwords refuses; the subclass says why."""


class PasswordTooShort(WeakPassword):
    code = ErrorCode.PASSWORD_TOO_SHORT


class PasswordTooLong(WeakPassword):
    code = ErrorCode.PASSWORD_TOO_LONG


class PasswordTooCommon(WeakPassword):
    code = ErrorCode.PASSWORD_TOO_COMMON


class PasswordContainsEmail(WeakPassword):
    code = ErrorCode.PASSWORD_CONTAINS_EMAIL


_PASSWORD_ERRORS = {cls.code: cls for cls in (PasswordTooShort, PasswordTooLong,
                                               PasswordTooCommon, PasswordContainsEmail)}


class InvalidUserField(UserError):
    """An email or name that cannot be stored (empty, too long, not an address)."""


def normalize_email(email: str) -> str:
    """The form emails are stored and compared in: trimmed and lower-cased."""
    return email.strip().lower()


def create_user(
    session: Session,
    *,
    email: str,
    name: str,
    role: Role | str,
    password: str,
    territory_codes: Iterable[str] = (),
    hash_method: str,
) -> User:
    """Create an active user with a hashed password and the territories named by code.

    Raises DuplicateEmail, InvalidRole, WeakPassword, UnknownTerritory or InvalidUserField.
    """
    email = _valid_email(email)
    user = User(
        email=email,
        name=_valid_name(name),
        role=parse_role(role),
        password_hash=hash_password(password, method=hash_method, email=email),
        active=True,
    )
    user.territories = find_territories(session, territory_codes)
    _ensure_email_free(session, user.email)
    _insert_unique_email(session, user)
    return user


def set_password(session: Session, user: User, password: str, *, hash_method: str,
                 now: datetime) -> None:
    """Replace the user's password and sign them out of every device (refresh tokens revoked).

    Raises WeakPassword.
    """
    user.password_hash = hash_password(password, method=hash_method, email=user.email)
    revoke_refresh_tokens(session, user_id=user.id, now=now)
    session.flush()


def set_role(session: Session, user: User, role: Role | str) -> None:
    """Change the user's role; it applies to their next request. Raises InvalidRole."""
    user.role = parse_role(role)
    session.flush()


def set_name(session: Session, user: User, name: str) -> None:
    """Rename the user. Raises InvalidUserField."""
    user.name = _valid_name(name)
    session.flush()


def set_territories(session: Session, user: User, codes: Iterable[str]) -> None:
    """Replace the user's territories by the ones with these codes. Raises UnknownTerritory."""
    user.territories = find_territories(session, codes)
    session.flush()


def disable_user(session: Session, user: User, *, now: datetime) -> None:
    """Disable the user: their access tokens stop working and their refresh tokens are revoked,
    so enabling them again requires a fresh login.
    """
    user.active = False
    revoke_refresh_tokens(session, user_id=user.id, now=now)
    session.flush()


def enable_user(session: Session, user: User) -> None:
    """Let a disabled user log in again."""
    user.active = True
    session.flush()


def find_user_by_email(session: Session, email: str) -> User | None:
    """The user with this email, compared case-insensitively, or None."""
    wanted = normalize_email(email)
    return session.scalar(sa.select(User).where(sa.func.lower(User.email) == wanted))


def verify_credentials(session: Session, email: str, password: str, *,
                       hash_method: str) -> User | None:
    """The active user with this email and password, or None.

    Unknown emails are checked against a dummy hash so that the answer takes as long as for a
    wrong password: response times must not reveal which emails have accounts.
    """
    user = find_user_by_email(session, email)
    if user is None:
        check_password_hash(_dummy_hash(hash_method), password)
        return None
    if not check_password_hash(user.password_hash, password) or not user.active:
        return None
    return user


def hash_password(password: str, *, method: str, email: str | None = None) -> str:
    """A salted KDF hash of the password (werkzeug: scrypt by default).

    Raises a WeakPassword subclass when the password breaks the rule of
    server.services.passwords for an account with `email`.
    """
    problem = password_problem(password, email=email)
    if problem is not None:
        error = _PASSWORD_ERRORS[problem.code]
        raise error(problem.summary, {"password": [problem.advice]})
    return generate_password_hash(password, method=method)


def parse_role(role: Role | str) -> Role:
    """The Role named by `role`. Raises InvalidRole listing the valid ones."""
    try:
        return Role(role)
    except ValueError:
        valid = ", ".join(r.value for r in Role)
        problem = {"role": [f"Must be one of: {valid}."]}
        raise InvalidRole(f"Unknown role {role!r}", problem) from None


def find_territories(session: Session, codes: Iterable[str]) -> list[Territory]:
    """The live territories with these codes, in code order. Raises UnknownTerritory."""
    wanted = sorted(set(codes))
    if not wanted:
        return []
    found = session.scalars(
        sa.select(Territory)
        .where(Territory.code.in_(wanted), Territory.deleted_at.is_(None))
        .order_by(Territory.code)
    ).all()
    missing = sorted(set(wanted) - {t.code for t in found})
    if missing:
        raise UnknownTerritory("Unknown territory code",
                               {"territory_codes": [f"Unknown code: {c}" for c in missing]})
    return list(found)


def _valid_email(email: str) -> str:
    email = normalize_email(email)
    local, _, domain = email.partition("@")
    if not local or "." not in domain or len(email) > MAX_EMAIL_LENGTH or " " in email:
        raise InvalidUserField("The email is not valid", {"email": ["Not a valid email address."]})
    return email


def _valid_name(name: str) -> str:
    name = name.strip()
    if not name or len(name) > MAX_NAME_LENGTH:
        raise InvalidUserField("The name is not valid",
                               {"name": [f"Use 1 to {MAX_NAME_LENGTH} characters."]})
    return name


def _ensure_email_free(session: Session, email: str) -> None:
    if find_user_by_email(session, email) is not None:
        raise _duplicate(email)


def _insert_unique_email(session: Session, user: User) -> None:
    # A concurrent create can pass the check above; the unique index is the arbiter.
    try:
        with session.begin_nested():
            session.add(user)
    except IntegrityError as exc:
        raise _duplicate(user.email) from exc


def _duplicate(email: str) -> DuplicateEmail:
    return DuplicateEmail(f"A user with email {email} already exists",
                          {"email": ["A user with this email already exists."]})


@lru_cache(maxsize=8)
def _dummy_hash(method: str) -> str:
    return generate_password_hash("not-anyone's-password", method=method)
