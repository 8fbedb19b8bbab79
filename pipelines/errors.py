"""Failures the user can act on: the CLI prints them as one line and exits 2."""


class UserError(Exception):
    """An expected failure (bad path, bad credentials, unreachable server, bad flag)."""
