"""Attachment limits (size, content types) and the blob store settings, from the config."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sync.apply import reject

DEFAULT_MAX_BYTES = 25 * 1024 * 1024
DEFAULT_CONTENT_TYPES = "image/*,application/pdf"


def blob_settings(env: Mapping[str, str], instance_path: str) -> dict[str, Any]:
    """The BLOB_* and ATTACHMENT_* settings (README, Configuration)."""
    from server.config import _int

    return {
        "BLOB_STORE": env.get("BLOB_STORE", "filesystem"),
        "BLOB_DIR": env.get("BLOB_DIR") or str(Path(instance_path) / "blobs"),
        "ATTACHMENT_MAX_BYTES": _int(env, "ATTACHMENT_MAX_BYTES", DEFAULT_MAX_BYTES),
        "ATTACHMENT_CONTENT_TYPES": env.get("ATTACHMENT_CONTENT_TYPES", DEFAULT_CONTENT_TYPES),
    }


@dataclass(frozen=True)
class AttachmentLimits:
    """What an attachment may be: at most `max_bytes`, of one of `content_types` (each a
    media type, or `type/*` for all of a type)."""

    max_bytes: int = DEFAULT_MAX_BYTES
    content_types: tuple[str, ...] = tuple(DEFAULT_CONTENT_TYPES.split(","))

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> AttachmentLimits:
        types = config.get("ATTACHMENT_CONTENT_TYPES", DEFAULT_CONTENT_TYPES)
        return cls(config.get("ATTACHMENT_MAX_BYTES", DEFAULT_MAX_BYTES),
                   tuple(t.strip().lower() for t in types.split(",") if t.strip()))

    def allows_type(self, content_type: str) -> bool:
        media = content_type.lower()
        return any(media == t or (t.endswith("/*") and media.startswith(t[:-1]))
                   for t in self.content_types)

    def describe(self) -> dict[str, Any]:
        return {"max_bytes": self.max_bytes, "content_types": list(self.content_types)}


def current_limits() -> AttachmentLimits:
    """The limits of the running app; the defaults outside one (imports, scripts)."""
    from flask import current_app, has_app_context

    if has_app_context():
        return AttachmentLimits.from_config(current_app.config)
    return AttachmentLimits()


def attachment_check(old: Mapping[str, Any] | None, new: Mapping[str, Any]) -> dict:
    """The attachment record's rule: its announced size and type within the limits, when
    it is created or they change (a lowered limit leaves existing records alone).

    Raises MutationRejected `attachment_too_large` or `content_type_not_allowed`.
    """
    limits = current_limits()
    old = old or {}
    if new["size_bytes"] != old.get("size_bytes") and new["size_bytes"] > limits.max_bytes:
        raise reject("attachment_too_large",
                     f"attachments are limited to {limits.max_bytes} bytes",
                     size_bytes=[f"at most {limits.max_bytes}"])
    changed_type = new["content_type"] != old.get("content_type")
    if changed_type and not limits.allows_type(new["content_type"]):
        raise reject("content_type_not_allowed",
                     f"attachments may be {', '.join(limits.content_types)}",
                     content_type=[f"one of {', '.join(limits.content_types)}"])
    return {}
