"""Failures the user can act on: the CLI prints them as one line and exits 2."""


class UserError(Exception):
    """An expected failure (bad path, bad credentials, unreachable server, bad flag)."""


class NotBuiltYet(UserError):
    """A contract command whose issue has not landed yet."""

    def __init__(self, command: str) -> None:
        super().__init__(f"`analytics {command}` is not built yet")
