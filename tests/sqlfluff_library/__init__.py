"""dbt's `var()` and `exceptions` as sqlfluff's jinja templater sees them.

Models that loop over a var (the `funnels` list) must render with real values to be linted,
so `var()` returns the defaults declared in `dbt_project.yml`. The `dbt.*` macros live in
`dbt.py` beside this file.
"""

from pathlib import Path as _Path

import yaml as _yaml

_PROJECT_VARS = _yaml.safe_load(
    (_Path(__file__).resolve().parents[2] / "dbt_project.yml").read_text()
)["vars"]


def var(name: str, default: object = None) -> object:
    return _PROJECT_VARS.get(name, default)


class exceptions:  # lower case: the name dbt's jinja context gives it
    @staticmethod
    def raise_compiler_error(message: str) -> None:
        raise ValueError(message)
