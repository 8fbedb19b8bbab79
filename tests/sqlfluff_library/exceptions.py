"""dbt's `exceptions` namespace as sqlfluff's jinja templater sees it."""


def raise_compiler_error(message: str) -> None:
    raise ValueError(message)
