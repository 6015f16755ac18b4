"""The one error type of the command line."""

from __future__ import annotations


class UserError(Exception):
    """A mistake of the person at the keyboard: printed as one line, exit code 1."""
