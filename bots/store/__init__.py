"""The store: yakuba's single source of truth (SQLite by default)."""

from bots.store.database import Database, DatabaseTooNew

__all__ = ["Database", "DatabaseTooNew"]
