"""The database errors services react to, so they need not import SQLAlchemy: a unique
index refused a row (``IntegrityError``), or the database failed a statement
(``DBAPIError``, its base)."""

from sqlalchemy.exc import DBAPIError, IntegrityError

__all__ = ["DBAPIError", "IntegrityError"]
