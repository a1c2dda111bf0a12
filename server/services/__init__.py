"""Domain services: functions over a SQLAlchemy Session, shared by the API and the CLI.

They validate, change rows and flush; the caller owns the transaction and commits.
"""
