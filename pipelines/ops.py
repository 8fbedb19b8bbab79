"""Running `analytics run` unattended (contract §3, §11): one run at a time, held by a
PostgreSQL advisory lock for the whole run; a history, one `ops.pipeline_runs` row per run;
and the summary posted to a webhook.

The lock belongs to one database session that lives as long as the run: when the process
ends, killed or not, PostgreSQL ends the session and the lock goes with it. A killed run
cannot close its own row, so the next run that takes the lock closes every `running` row
as `error` in the same statement that records itself.
"""

from __future__ import annotations

import json
import socket
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from urllib.parse import urlsplit

import psycopg2
import requests

from pipelines.errors import UserError
from pipelines.warehouse import Connection

RUNNING, PASSED, WARNED, FAILED, ERROR, LOCKED_OUT = (
    "running",
    "passed",
    "warned",
    "failed",
    "error",
    "locked_out",
)
# Any constant, as long as nothing else in the warehouse uses it: the first 8 bytes of
# sha256("analytics run") as a signed bigint. Advisory locks are per database.
RUN_LOCK_KEY = 4_706_186_406_312_948_288
CREATE_LOCK_KEY = RUN_LOCK_KEY + 1
# The holder records itself a moment after taking the lock: how long to look for its row.
HOLDER_WAIT_SECONDS = 2.0

CREATE_HISTORY = f"""
    select pg_advisory_xact_lock({CREATE_LOCK_KEY});
    create schema if not exists ops;
    create table if not exists ops.pipeline_runs (
        run_id bigint generated always as identity primary key,
        started_at timestamptz not null default now(),
        finished_at timestamptz,
        status text not null check (
            status in ('running', 'passed', 'warned', 'failed', 'error', 'locked_out')
        ),
        steps jsonb not null default '[]',
        host text not null,
        version text not null
    );
    comment on table ops.pipeline_runs is
        'One row per `analytics run`: its outcome and each step''s status, counts, seconds '
        'and message.';
"""

# One statement, so no other session ever sees this run recorded next to the rows it closes.
START_RUN = """
    with started as (
        insert into ops.pipeline_runs (status, host, version)
        values ('running', %(host)s, %(version)s)
        returning run_id, started_at
    ),
    abandoned as (
        update ops.pipeline_runs
        set
            status = 'error',
            finished_at = now(),
            steps = steps || jsonb_build_array(jsonb_build_object(
                'name', 'run',
                'status', 'error',
                'seconds', null,
                'counts', '{}'::jsonb,
                'message', 'never finished: the process stopped without recording an outcome '
                    || '(killed, or its connection lost); closed by run '
                    || (select started.run_id from started)
            ))
        where status = 'running'
        returning run_id
    )
    select
        started.run_id,
        started.started_at,
        array(select abandoned.run_id from abandoned order by abandoned.run_id)
    from started
"""

RUNNING_RUN = """
    select run_id, started_at, host, version
    from ops.pipeline_runs
    where status = 'running'
    order by run_id desc
    limit 1
"""


@dataclass(frozen=True)
class RunRecord:
    """A run as its history row has it; `run_id` is None for a run that could not reach the
    history (the warehouse unreachable), which is published but not recorded."""

    run_id: int | None
    started_at: datetime
    host: str
    version: str

    @classmethod
    def unrecorded(cls) -> RunRecord:
        return cls(None, datetime.now(UTC), socket.gethostname(), package_version())

    @property
    def label(self) -> str:
        return f"analytics run {self.run_id}" if self.run_id else "analytics run"

    def describe(self) -> str:
        started = self.started_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
        return f"run {self.run_id} on {self.host}, started {started}"


class LockedOut(UserError):
    """Another run holds the lock; this one is recorded as `locked_out` and does nothing."""

    def __init__(self, record: RunRecord, holder: RunRecord | None) -> None:
        self.record = record
        self.holder = holder
        held_by = holder.describe() if holder else "a run that has not recorded itself yet"
        super().__init__(
            f"another `analytics run` holds the lock: {held_by} "
            f"(this run, {record.run_id}, is recorded as locked_out)"
        )


def package_version() -> str:
    try:
        return version("product-analytics")
    except PackageNotFoundError:  # running from a checkout that was never installed
        return "unknown"


class RunHistory:
    """The session that holds the run lock and writes the run's `ops.pipeline_runs` row."""

    def __init__(self, target: Connection) -> None:
        self._connection = target.connect()
        self.host = socket.gethostname()
        self.version = package_version()
        self._execute(CREATE_HISTORY)

    def start(self) -> tuple[RunRecord, list[int]]:
        """Take the lock and record this run as `running`; return it and the runs it closed
        as `error` (left `running` by a process that died). Raises LockedOut, after
        recording this run as `locked_out`, when another run holds the lock."""
        [(locked,)] = self._execute("select pg_try_advisory_lock(%s)", (RUN_LOCK_KEY,))
        if not locked:
            holder = self._holder()
            message = f"held by {holder.describe()}" if holder else "held by another run"
            steps = [step_document("lock", LOCKED_OUT, 0.0, {}, message)]
            [(run_id, started_at)] = self._execute(
                "insert into ops.pipeline_runs (status, finished_at, steps, host, version) "
                "values ('locked_out', now(), %s, %s, %s) returning run_id, started_at",
                (json.dumps(steps), self.host, self.version),
            )
            raise LockedOut(RunRecord(run_id, started_at, self.host, self.version), holder)
        [(run_id, started_at, abandoned)] = self._execute(
            START_RUN, {"host": self.host, "version": self.version}
        )
        return RunRecord(run_id, started_at, self.host, self.version), list(abandoned)

    def record_steps(self, record: RunRecord, steps: list[dict]) -> None:
        """Save the steps done so far, so a run that dies shows how far it got."""
        self._execute(
            "update ops.pipeline_runs set steps = %s where run_id = %s",
            (json.dumps(steps), record.run_id),
        )

    def finish(
        self, record: RunRecord, status: str, steps: list[dict], finished_at: datetime
    ) -> None:
        self._execute(
            "update ops.pipeline_runs set status = %s, steps = %s, finished_at = %s "
            "where run_id = %s",
            (status, json.dumps(steps), finished_at, record.run_id),
        )

    def close(self) -> None:
        """End the session, which releases the lock."""
        self._connection.close()

    def _holder(self) -> RunRecord | None:
        deadline = time.monotonic() + HOLDER_WAIT_SECONDS
        while True:
            rows = self._execute(RUNNING_RUN)
            if rows or time.monotonic() > deadline:
                return RunRecord(*rows[0]) if rows else None
            time.sleep(0.1)

    def _execute(self, sql: str, parameters: tuple | dict = ()) -> list[tuple]:
        try:
            with self._connection.cursor() as cursor:
                cursor.execute(sql, parameters)
                return cursor.fetchall() if cursor.description else []
        except psycopg2.Error as error:
            first_line = str(error).strip().splitlines()[0]
            raise UserError(f"cannot record the run in ops.pipeline_runs: {first_line}") from None


def step_document(
    name: str, status: str, seconds: float | None, counts: dict, message: str
) -> dict:
    """A step as `ops.pipeline_runs.steps` and the summary JSON hold it."""
    return {
        "name": name,
        "status": status,
        "seconds": seconds,
        "counts": counts,
        "message": message,
    }


@dataclass(frozen=True)
class Notification:
    delivered: bool
    attempts: int
    message: str


def notify(
    url: str,
    document: dict,
    text: str,
    attempts: int = 3,
    timeout_seconds: float = 5.0,
    backoff_seconds: float = 1.0,
) -> Notification:
    """POST the summary to a webhook: the summary JSON plus Slack's `text`, so a Slack
    incoming webhook shows it as it is. Retried briefly on a connection error, a timeout, a
    5xx or a 429; never raises. Messages name only the webhook's origin: its path is often
    the secret (Slack's is)."""
    origin = url_origin(url)
    problem = ""
    for attempt in range(1, attempts + 1):
        try:
            response = requests.post(url, json={"text": text, **document}, timeout=timeout_seconds)
        except requests.Timeout:
            problem = f"no answer within {timeout_seconds:g}s"
        except requests.RequestException as error:
            problem = f"cannot connect ({type(error).__name__})"
        else:
            if response.ok:
                return Notification(True, attempt, f"posted to {origin}")
            problem = f"HTTP {response.status_code}"
            if response.status_code < 500 and response.status_code != 429:
                return Notification(False, attempt, f"{origin} refused the post: {problem}")
        if attempt < attempts:
            time.sleep(backoff_seconds * 2 ** (attempt - 1))
    tries = "attempt" if attempts == 1 else "attempts"
    return Notification(
        False, attempts, f"could not post to {origin}: {problem} ({attempts} {tries})"
    )


def url_origin(url: str) -> str:
    """`scheme://host[:port]` of a URL: no user, password, path or query."""
    parts = urlsplit(url)
    try:
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        port = ""
    return f"{parts.scheme}://{parts.hostname or ''}{port}"
