"""fieldsync's sync engine: change log, scoped pull, exactly-once push and field-level merge.

Pure Python and SQLAlchemy Core. Nothing here imports Flask, the server or the field domain:
the domain describes its entities (`sync.entities.EntitySpec`) and hands them to the engine.
"""

from sync.protocol import PROTOCOL_VERSION

__all__ = ["PROTOCOL_VERSION"]
