"""The register's HTTP API (CONTRACT §7): one router per resource, validate -> command -> view.

Every route needs role ``dsl``; the organisation is the caller's (from the token), and an
entry of another organisation answers 403.
"""

from . import entries, weekly

__all__ = ["entries", "weekly"]
