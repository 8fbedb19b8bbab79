"""Superset's settings for `analytics bi start` (SUPERSET_CONFIG_PATH points here).

Everything Superset keeps lives under ANALYTICS_BI_HOME (`.bi/`): its SQLite metadata
database and the secret key `analytics bi start` generates on first use.
"""

import os
from pathlib import Path

HOME = Path(os.environ["ANALYTICS_BI_HOME"])

SQLALCHEMY_DATABASE_URI = f"sqlite:///{HOME / 'superset.db'}"
SECRET_KEY = (HOME / "secret_key").read_text().strip()

# A local, single-user tool: no example data, no outbound calls, no rate-limit storage
# warnings, results cached in memory only.
SUPERSET_LOAD_EXAMPLES = False
RATELIMIT_ENABLED = False
CACHE_CONFIG = {"CACHE_TYPE": "SimpleCache", "CACHE_DEFAULT_TIMEOUT": 300}
DATA_CACHE_CONFIG = CACHE_CONFIG
