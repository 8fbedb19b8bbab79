"""Table and column names: `snake_case` for a name in any script, shortened to
PostgreSQL's 63 bytes the way dlt does, and SQL quoting. One rule, so the same event or
property gets the same name on every machine and in every load."""

from __future__ import annotations

import functools
import hashlib
import re
import unicodedata

import dlt
from dlt.common.normalizers.naming.snake_case import NamingConvention

# The names dlt gives tables and columns in PostgreSQL (`snake_case`, shortened to fit).
POSTGRES_NAMING = NamingConvention(
    max_length=dlt.destinations.postgres().capabilities().max_identifier_length
)


@functools.lru_cache(maxsize=65_536)
def snake_case(name: str, prefix: str = "key") -> str:
    """The table or column name of a name in any script, stable and unique per spelling:
    `userAgent` -> `user_agent`, `$insert_id` -> `insert_id`, `Plan Viewed` ->
    `plan_viewed`, `Café` -> `cafe`. A name with letters or digits beyond ASCII (after
    accents are dropped) gets `_` and 8 hex digits of its SHA-256 appended (`購買完成 v2` ->
    `v2_…`), or is `<prefix>_` and those digits (`購買完成` -> `event_…`), so two such names
    never share one. Names longer than PostgreSQL's 63 bytes are shortened as dlt does."""
    decomposed = unicodedata.normalize("NFKD", name)
    ascii_name = re.sub(
        r"([a-z0-9])([A-Z])", r"\1_\2", decomposed.encode("ascii", "ignore").decode()
    )
    slug = re.sub(r"[^a-z0-9]+", "_", ascii_name.lower()).strip("_")
    if any(character.isalnum() and not character.isascii() for character in decomposed) or (
        not slug and name.strip()
    ):
        digest = hashlib.sha256(name.encode("utf-8", "surrogatepass")).hexdigest()[:8]
        slug = f"{slug}_{digest}" if slug else f"{prefix}_{digest}"
    if len(slug) > POSTGRES_NAMING.max_length:
        slug = POSTGRES_NAMING.normalize_identifier(slug)
    return slug


def quoted(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'
