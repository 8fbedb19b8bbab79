"""`adapter.dispatch` as sqlfluff's jinja templater sees it: the project's macros resolve to
their `postgres__` implementation (else `default__`), as dbt-postgres resolves them."""

from jinja2 import pass_context
from jinja2.runtime import Context


@pass_context
def dispatch(context: Context, macro_name: str, macro_namespace: str | None = None):
    for prefix in ("postgres__", "default__"):
        macro = context.get(prefix + macro_name)
        if macro is not None:
            return macro
    raise LookupError(f"no postgres__ or default__ implementation of {macro_name}")


def quote(identifier: str) -> str:
    return f'"{identifier}"'
