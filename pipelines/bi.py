"""`analytics bi start|stop|status`: a local Apache Superset with the bundled dashboards.

Superset's pins and dbt's differ, so it lives in its own virtualenv (`.bi/venv`, installed
from `bi/requirements.txt` on first start). Its state (SQLite metadata, secret key, admin
password, log) lives in ANALYTICS_BI_HOME (default `.bi/`). Each start imports the bundle
in `bi/dashboards/` (Superset's own export format) with the warehouse connected as the
reader role, so the dashboards read `marts` and nothing else.
"""

from __future__ import annotations

import hashlib
import io
import os
import secrets
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path
from urllib.parse import quote

import requests
import yaml

from pipelines.errors import UserError
from pipelines.masking import mask_urls
from pipelines.query import READER_PASSWORD_VARIABLE, READER_ROLE
from pipelines.warehouse import HOST, PROJECT_ROOT, Connection

BI_DIR = PROJECT_ROOT / "bi"
BUNDLE_DIR = BI_DIR / "dashboards"
REQUIREMENTS = BI_DIR / "requirements.txt"
VENV = PROJECT_ROOT / ".bi" / "venv"
ADMIN_USER = "admin"
START_TIMEOUT_SECONDS = 300


def home() -> Path:
    return Path(os.environ.get("ANALYTICS_BI_HOME", PROJECT_ROOT / ".bi"))


def admin_password() -> str:
    return (home() / "admin_password").read_text().strip()


def start(target: Connection, port: int, say=print) -> str:
    """Install, initialise and import as needed, start the server; return its URL."""
    running = status()
    if running:
        return running
    _install(say)
    _initialise(say)
    _import_dashboards(target, say)
    return _serve(port, say)


def status() -> str | None:
    """The URL of the running server, or None."""
    pid = _recorded_pid()
    if pid is None:
        return None
    url = f"http://{HOST}:{(home() / 'port').read_text().strip()}/"
    try:
        if requests.get(url + "health", timeout=5).ok:
            return url
    except requests.RequestException:
        return None
    return None


def stop() -> bool:
    """Stop the server; return whether it was running."""
    pid = _recorded_pid()
    if pid is None:
        return False
    os.killpg(pid, signal.SIGTERM)
    deadline = time.monotonic() + 30
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.2)
    if _alive(pid):
        os.killpg(pid, signal.SIGKILL)
    (home() / "superset.pid").unlink(missing_ok=True)
    return True


def reader_uri(target: Connection) -> str:
    """The SQLAlchemy URI Superset connects with: the warehouse, as the reader role."""
    credentials = READER_ROLE
    password = os.environ.get(READER_PASSWORD_VARIABLE)
    if password:
        credentials += ":" + quote(password, safe="")
    return f"postgresql+psycopg2://{credentials}@{target.host}:{target.port}/{target.database}"


def bundle(target: Connection) -> bytes:
    """The dashboards of `bi/dashboards/` as the zip `superset import-dashboards` reads,
    their database pointed at this warehouse."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for path in sorted(BUNDLE_DIR.rglob("*.yaml")):
            text = path.read_text()
            if path.parent.name == "databases":
                database = yaml.safe_load(text)
                database["sqlalchemy_uri"] = reader_uri(target)
                text = yaml.safe_dump(database, sort_keys=False)
            # A fixed entry time: the same bundle gives the same bytes, so a start whose
            # bundle and warehouse did not change skips the import.
            entry = zipfile.ZipInfo(f"bundle/{path.relative_to(BUNDLE_DIR)}", (2024, 1, 1, 0, 0, 0))
            archive.writestr(entry, text)
    return buffer.getvalue()


def _install(say) -> None:
    stamp = VENV / ".installed"
    wanted = hashlib.sha256(REQUIREMENTS.read_bytes()).hexdigest()
    if stamp.exists() and stamp.read_text() == wanted:
        return
    say(f"installing Apache Superset into {VENV} (several minutes, once)")
    if not (VENV / "bin" / "python").exists():
        _run([sys.executable, "-m", "venv", str(VENV)], "creating the Superset virtualenv")
    pip = [str(VENV / "bin" / "python"), "-m", "pip", "install", "--quiet"]
    _run([*pip, "--requirement", str(REQUIREMENTS)], "installing Superset")
    stamp.write_text(wanted)


def _initialise(say) -> None:
    state = home()
    if (state / "initialised").exists():
        return
    state.mkdir(parents=True, exist_ok=True)
    for secret in ("secret_key", "admin_password"):
        if not (state / secret).exists():
            (state / secret).write_text(secrets.token_urlsafe(24) + "\n")
            (state / secret).chmod(0o600)
    say("initialising Superset's metadata database")
    _superset("db", "upgrade")
    _superset(
        "fab", "create-admin", "--username", ADMIN_USER, "--firstname", "Local",
        "--lastname", "Admin", "--email", "admin@localhost", "--password", admin_password(),
    )  # fmt: skip
    _superset("init")
    (state / "initialised").write_text("")


def _import_dashboards(target: Connection, say) -> None:
    content = bundle(target)
    stamp = home() / "imported"
    digest = hashlib.sha256(content).hexdigest()
    if stamp.exists() and stamp.read_text() == digest:
        return
    say(f"importing the dashboards of {BUNDLE_DIR.relative_to(PROJECT_ROOT)}/")
    archive = home() / "bundle.zip"
    archive.write_bytes(content)
    _superset("import-dashboards", "--path", str(archive), "--username", ADMIN_USER)
    stamp.write_text(digest)


def _serve(port: int, say) -> str:
    state = home()
    log = (state / "superset.log").open("ab")
    server = subprocess.Popen(
        [
            str(VENV / "bin" / "gunicorn"),
            f"--bind={HOST}:{port}",
            "--workers=1",
            "--threads=4",
            "--timeout=120",
            "superset.app:create_app()",
        ],
        env=_environment(),
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        cwd=state,
    )
    (state / "superset.pid").write_text(f"{server.pid}\n")
    (state / "port").write_text(f"{port}\n")
    say(f"starting Superset on http://{HOST}:{port}/")
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if server.poll() is not None:
            (state / "superset.pid").unlink(missing_ok=True)
            raise UserError(f"Superset exited with code {server.returncode} (log: {log.name})")
        url = status()
        if url:
            return url
        time.sleep(1)
    stop()
    raise UserError(f"Superset did not answer within {START_TIMEOUT_SECONDS}s (log: {log.name})")


def _superset(*arguments: str) -> None:
    _run([str(VENV / "bin" / "superset"), *arguments], f"superset {arguments[0]}")


def _run(command: list[str], what: str) -> None:
    log = home() / "superset.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as output:
        finished = subprocess.run(
            command, env=_environment(), stdout=output, stderr=subprocess.STDOUT, cwd=log.parent
        )
    if finished.returncode != 0:
        raise UserError(
            f"{mask_urls(what)} failed with exit code {finished.returncode} (log: {log})"
        )


def _environment() -> dict[str, str]:
    return {
        **os.environ,
        "ANALYTICS_BI_HOME": str(home()),
        "SUPERSET_CONFIG_PATH": str(BI_DIR / "superset_config.py"),
        "FLASK_APP": "superset",
    }


def _recorded_pid() -> int | None:
    pid_file = home() / "superset.pid"
    if not pid_file.exists():
        return None
    pid = int(pid_file.read_text().strip())
    if not _alive(pid):
        pid_file.unlink()
        return None
    return pid


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True
