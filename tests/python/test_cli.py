"""Expected failures print one line on stderr and exit 2, with no traceback."""

import os
import subprocess
import sys

import pytest


def analytics(*arguments: str, **environment: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", "from pipelines.cli import main; main()", *arguments],
        capture_output=True,
        text=True,
        env={**os.environ, **environment},
    )


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["load", "segment", "/no/such/path"], "no Segment export folder at /no/such/path"),
        (["load", "segment", "--bogus"], "No such option '--bogus'"),
        (["generate"], "Missing option '--out'"),
        (["generate", "--out", "x", "--signup-drop", "2"], "--signup-drop"),
    ],
)
def test_expected_failures_print_one_line_and_exit_2(arguments, message):
    result = analytics(*arguments)

    assert result.returncode == 2
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.stderr


def test_unreachable_external_warehouse_is_one_line_and_exit_2():
    result = analytics(
        "warehouse", "url", ANALYTICS_WAREHOUSE_URL="postgresql://nobody@127.0.0.1:1/none"
    )

    assert result.returncode == 2
    assert result.stderr.startswith(
        "analytics: cannot connect to postgresql://nobody@127.0.0.1:1/none"
    )
    assert len(result.stderr.strip().splitlines()) == 1


def test_a_password_in_the_warehouse_url_is_never_printed(tmp_path):
    result = analytics(
        "load",
        "segment",
        str(tmp_path),
        ANALYTICS_WAREHOUSE_URL="postgresql://bob:s3cretPW@127.0.0.1:1/nowhere",
    )

    assert result.returncode == 2
    assert "s3cretPW" not in result.stdout + result.stderr
    assert "postgresql://bob:***@127.0.0.1:1/nowhere" in result.stderr


def test_help_explains_every_contract_command():
    result = analytics("--help")

    assert result.returncode == 0
    for command in (
        "warehouse",
        "generate",
        "load",
        "transform",
        "run",
        "demo",
        "plan",
        "report",
        "query",
        "docs",
        "bi",
    ):
        assert command in result.stdout
