"""Authentication and authorization: password login on a named device, JWT access tokens,
rotating refresh tokens, device revocation, login rate limiting and role checks.

Views protect themselves with `login_required` and ask `current_principal()` who is calling:

    from server.auth import current_principal, login_required

    @bp.post("/sync/push")
    @login_required(Role.REP, Role.TECHNICIAN)
    def push():
        principal = current_principal()
"""

from server.auth.principal import Principal, current_principal, login_required

__all__ = ["Principal", "current_principal", "login_required"]
