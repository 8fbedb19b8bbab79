"""The `dbt.*` cross-database macros as sqlfluff's jinja templater sees them.

Linting must not need a database or a dbt parse, so each macro the models call renders
here to the SQL it produces on PostgreSQL. Add a function when a model uses a new one.
"""


def type_string() -> str:
    return "text"


def type_timestamp() -> str:
    return "timestamp"


def type_int() -> str:
    return "integer"


def type_bigint() -> str:
    return "bigint"


def type_numeric() -> str:
    return "numeric(28, 6)"


def type_float() -> str:
    return "float"


def type_boolean() -> str:
    return "boolean"


def date_trunc(datepart: str, date: str) -> str:
    return f"date_trunc('{datepart}', {date})"


def dateadd(datepart: str, interval: str, from_date_or_timestamp: str) -> str:
    return f"{from_date_or_timestamp} + ((interval '1 {datepart}') * ({interval}))"


def datediff(first_date: str, second_date: str, datepart: str) -> str:
    return f"extract(epoch from ({second_date} - {first_date}))"


def current_timestamp() -> str:
    return "now()"


def safe_cast(field: str, type_: str) -> str:
    return f"cast({field} as {type_})"


def concat(fields: list[str]) -> str:
    return " || ".join(fields)


def hash(field: str) -> str:
    return f"md5(cast({field} as text))"


def split_part(string_text: str, delimiter_text: str, part_number: int) -> str:
    return f"split_part({string_text}, {delimiter_text}, {part_number})"


def listagg(measure: str, delimiter_text: str = "','", order_by_clause: str = "") -> str:
    return f"string_agg({measure}, {delimiter_text} {order_by_clause})"


def any_value(expression: str) -> str:
    return f"min({expression})"


def cast(field: str, type_: str) -> str:
    return f"cast({field} as {type_})"
