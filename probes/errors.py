"""The project's exception hierarchy. It lives on the ground floor so every layer can raise it.

Exceptions are for what stops start-up or a command (misconfiguration, missing privileges); a probe's
expected network failures are `Result` values, not exceptions.
"""

from __future__ import annotations


class NetmonError(Exception):
    """Base of every error the project raises on purpose; the CLI prints it without a traceback."""


class PrivilegeError(NetmonError):
    """The process lacks a privilege it needs; the message says exactly what to change."""
