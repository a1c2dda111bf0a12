"""The field domain's words: roles and the states of every record with a status.

Declared once, here. The models' enum columns, the workflows (server.domain.workflows), the
merge policies, the server's rules and the client SDK all read them from this module, which
imports nothing of the app, so a device can import it cheaply.
"""

from __future__ import annotations

import enum


class Role(enum.StrEnum):
    REP = "rep"
    TECHNICIAN = "technician"
    DISPATCHER = "dispatcher"
    BACK_OFFICE = "back_office"
    ADMIN = "admin"


OFFICE_ROLES = frozenset({Role.DISPATCHER, Role.BACK_OFFICE, Role.ADMIN})


# The states in the order of the database enum types; which state wins a merge is the
# workflow's (server.domain.workflows).
class VisitStatus(enum.StrEnum):
    PLANNED = "planned"
    CHECKED_IN = "checked_in"
    COMPLETED = "completed"
    CANCELLED = "cancelled"


class OrderStatus(enum.StrEnum):
    DRAFT = "draft"
    SUBMITTED = "submitted"
    APPROVED = "approved"
    REJECTED = "rejected"
    FULFILLED = "fulfilled"
    CANCELLED = "cancelled"


class WorkOrderStatus(enum.StrEnum):
    NEW = "new"
    SCHEDULED = "scheduled"
    DISPATCHED = "dispatched"
    IN_PROGRESS = "in_progress"
    ON_HOLD = "on_hold"
    COMPLETED = "completed"
    CLOSED = "closed"
    CANCELLED = "cancelled"
