"""The `analytics` command: parses arguments, calls the pipeline modules, reports."""

from __future__ import annotations

import os
import shlex
import sys
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

import click
from rich.progress import Progress, TextColumn

from pipelines import query as queries
from pipelines import warehouse
from pipelines.errors import UserError
from pipelines.generate.config import GeneratorConfig, today_utc
from pipelines.masking import mask_urls

if TYPE_CHECKING:  # the loaders import dlt and pyarrow (70 MB): only the load commands pay
    from pipelines.loading import LoadReport, Target

DEMO_DATA = warehouse.EMBEDDED_DIR / "demo-data"
DEFAULT_MAX_REJECTED_SHARE = 0.01


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def cli() -> None:
    """Own your product analytics: load Segment, Amplitude and production data into
    PostgreSQL and build trustworthy marts with dbt.

    The warehouse is an embedded PostgreSQL in `.warehouse/` unless
    ANALYTICS_WAREHOUSE_URL points at an existing server.
    """


@cli.group(name="warehouse")
def warehouse_group() -> None:
    """Manage the embedded warehouse (or show the external one)."""


@warehouse_group.command()
def start() -> None:
    """Start the embedded warehouse (it also starts on demand)."""
    click.echo(warehouse.connection().url())


@warehouse_group.command()
def stop() -> None:
    """Stop the embedded warehouse."""
    _require_embedded("stop")
    stopped = warehouse.EmbeddedServer().stop()
    click.echo("stopped" if stopped else "not running")


@warehouse_group.command()
def status() -> None:
    """Say whether the warehouse is running and where."""
    if not warehouse.is_embedded():
        click.echo(f"external warehouse reachable at {warehouse.connection().url()}")
        return
    server = warehouse.EmbeddedServer()
    if server.is_running():
        click.echo(f"embedded warehouse running on port {server.recorded_port()}")
    else:
        click.echo("embedded warehouse stopped")


@warehouse_group.command()
def url() -> None:
    """Print a libpq URL for psql and BI tools (starts the embedded warehouse)."""
    click.echo(warehouse.connection().url())


@warehouse_group.command()
def env() -> None:
    """Print `export` lines for dbt, MetricFlow's `mf` and psql:
    eval "$(analytics warehouse env)"."""
    from pipelines.transform import write_profile

    target = warehouse.connection()
    settings = {
        **target.dbt_environment(),
        "DBT_PROFILES_DIR": str(write_profile()),
        "PGHOST": target.host,
        "PGPORT": str(target.port),
        "PGUSER": target.user,
        "PGDATABASE": target.database,
        **warehouse.SESSION_TIME_ZONE,
    }
    for name, value in settings.items():
        click.echo(f"export {name}={shlex.quote(value)}")


@cli.command()
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), required=True)
@click.option(
    "--seed",
    type=int,
    default=GeneratorConfig.seed,
    show_default=True,
    help="Same seed, same bytes.",
)
@click.option("--orgs", type=click.IntRange(min=1), default=GeneratorConfig.orgs, show_default=True)
@click.option("--days", type=click.IntRange(min=1), default=GeneratorConfig.days, show_default=True)
@click.option(
    "--events",
    type=click.IntRange(min=1),
    help="Aim for about this many messages: sets --orgs from a pilot run.",
)
@click.option(
    "--end-date",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    help="Last day of the period, YYYY-MM-DD: fix it for the same bytes on another day. "
    "[default: today (UTC), so the data set is fresh]",
)
@click.option(
    "--signup-drop",
    type=click.FloatRange(0, 1),
    default=GeneratorConfig.signup_drop,
    show_default=True,
    help="Share of `User Signed Up` events missing from one source over a stretch of days "
    "(the demo uses 0.15).",
)
@click.option(
    "--signup-drop-source",
    type=click.Choice(["amplitude", "segment"]),
    default=GeneratorConfig.signup_drop_source,
    show_default=True,
)
@click.option(
    "--duplicates",
    type=click.FloatRange(0, 1),
    default=GeneratorConfig.duplicate_rate,
    show_default=True,
    help="Share of messages delivered twice.",
)
@click.option(
    "--late",
    type=click.FloatRange(0, 1),
    default=GeneratorConfig.late_rate,
    show_default=True,
    help="Share of device messages arriving 1-3 days late, in later day folders.",
)
@click.option(
    "--malformed",
    type=click.IntRange(min=0),
    default=GeneratorConfig.malformed_lines,
    show_default=True,
    help="Truncated lines planted in each export.",
)
@click.option(
    "--production-url",
    help="PostgreSQL database for the production tables (recreated each run). "
    "[default: database `production` on the warehouse server]",
)
def generate(
    out: Path,
    seed: int,
    orgs: int,
    days: int,
    events: int | None,
    end_date: datetime | None,
    signup_drop: float,
    signup_drop_source: str,
    duplicates: float,
    late: float,
    malformed: int,
    production_url: str | None,
) -> None:
    """Write a synthetic SaaS data set in the real export formats: a Segment export
    (`OUT/segment-logs/`), Amplitude Export API zips (`OUT/amplitude/`), the production
    tables, and the ground truth (`OUT/truth.json`)."""
    from pipelines.generate import generate as write_data_set
    from pipelines.generate import orgs_for_events

    config = GeneratorConfig(
        seed=seed,
        orgs=orgs,
        days=days,
        end_date=end_date.date() if end_date else today_utc(),
        signup_drop=signup_drop,
        signup_drop_source=signup_drop_source,
        duplicate_rate=duplicates,
        late_rate=late,
        malformed_lines=malformed,
    )
    if events is not None:
        config = replace(config, orgs=orgs_for_events(events, config))
    if production_url:
        production = warehouse.Connection.from_url(production_url)
    else:
        production = warehouse.connection().with_database("production")
    with Progress(
        *Progress.get_default_columns(), TextColumn("{task.fields[messages]:,} messages")
    ) as progress:
        task = progress.add_task(f"generating {config.orgs:,} orgs", total=days, messages=0)
        truth = write_data_set(
            out,
            config,
            production=production,
            on_day=lambda done, messages: progress.update(task, completed=done, messages=messages),
        )
    click.echo(
        f"wrote {truth['messages_generated']:,} messages from {truth['organizations']:,} orgs "
        f"and {truth['users']:,} users from {config.start_date} to {config.end_date} under "
        f"{out}; production tables in {mask_urls(production.url())}"
    )


@cli.group()
def load() -> None:
    """Load raw data into the warehouse (idempotent: loading twice changes nothing)."""


MAX_REJECTED_SHARE_OPTION = click.option(
    "--max-rejected-share",
    type=click.FloatRange(0, 1),
    default=DEFAULT_MAX_REJECTED_SHARE,
    show_default=True,
    help="Exit 1 when more than this share of the lines read is rejected.",
)
VERBOSE_OPTION = click.option(
    "--verbose",
    is_flag=True,
    help="Show dlt's log (connection strings masked), not only the counts.",
)


def _loading(verbose: bool) -> Target:
    """Set dlt's verbosity; the load's target: the warehouse, or the lake on Spark."""
    from pipelines import lake, loading

    loading.set_verbose(verbose)
    return lake.engine_target()


@load.command(name="segment")
@click.argument("path")
@MAX_REJECTED_SHARE_OPTION
@VERBOSE_OPTION
def load_segment(path: str, max_rejected_share: float, verbose: bool) -> None:
    """Load a Segment export (S3 destination layout) from a local folder or an
    s3://bucket/prefix into `raw_segment`; only files not loaded before are read."""
    from pipelines.sources import segment

    _finish(segment.load(path, _loading(verbose)), max_rejected_share)


@load.command(name="amplitude")
@click.option(
    "--path",
    type=click.Path(path_type=Path),
    help="Export zips or extracted .json.gz files on disk (a file or a folder).",
)
@click.option("--start", help="First hour to export, YYYYMMDDTHH (UTC). Default: resume.")
@click.option(
    "--end",
    help="Last hour to export, YYYYMMDDTHH (UTC). Default: the last hour "
    "Amplitude has finished processing.",
)
@click.option(
    "--chunk-hours",
    type=click.IntRange(min=1),
    default=24,
    show_default=True,
    help="Hours per Export API request (a range found too large is split).",
)
@MAX_REJECTED_SHARE_OPTION
@VERBOSE_OPTION
def load_amplitude(
    path: Path | None,
    start: str | None,
    end: str | None,
    chunk_hours: int,
    max_rejected_share: float,
    verbose: bool,
) -> None:
    """Load Amplitude exports from disk (--path) or the Export API (--start/--end) into
    `raw_amplitude.events`."""
    from pipelines.sources import amplitude

    if path is not None and (start or end):
        raise UserError("give either --path or --start/--end, not both")
    target = _loading(verbose)
    if path is not None:
        report = amplitude.load_archives(path, target)
    else:
        report = amplitude.load_from_api(target, start=start, end=end, chunk_hours=chunk_hours)
    _finish(report, max_rejected_share)


@load.command(name="production")
@click.option(
    "--source-url",
    required=True,
    envvar="ANALYTICS_PRODUCTION_URL",
    help="postgresql:// URL of the production database (or ANALYTICS_PRODUCTION_URL).",
)
@click.option(
    "--tables",
    help="Comma-separated tables to copy (default: all of "
    "organizations, users, memberships, plans, subscription_changes).",
)
@click.option(
    "--source-schema",
    default="public",
    show_default=True,
    help="Schema holding the tables (or views mapping another schema onto them).",
)
@VERBOSE_OPTION
def load_production(source_url: str, tables: str | None, source_schema: str, verbose: bool) -> None:
    """Copy the production tables into `raw_production` (incremental on updated_at)."""
    from pipelines.sources import production

    target = _loading(verbose)
    chosen = [table.strip() for table in tables.split(",")] if tables else None
    report = production.load(source_url, target, chosen, source_schema)
    _finish(report, 0.0)


def _finish(report: LoadReport, max_rejected_share: float) -> None:
    """Print the counts; too many rejected lines is a data-quality failure (exit 1)."""
    click.echo(report.summary())
    if report.rejected_share > max_rejected_share:
        click.echo(
            f"analytics: {report.rejected_share:.1%} of the lines read were rejected "
            f"(more than --max-rejected-share {max_rejected_share:.1%}); "
            f"see the _rejected table",
            err=True,
        )
        sys.exit(1)


@cli.command(context_settings={"ignore_unknown_options": True, "allow_extra_args": True})
@click.pass_context
def transform(context: click.Context) -> None:
    """Run `dbt build` on the warehouse; arguments after `--` go to dbt."""
    from pipelines.lake import engine_target
    from pipelines.transform import dbt

    sys.exit(dbt(["build", *context.args], engine_target()))


@cli.command(context_settings={"ignore_unknown_options": True, "allow_extra_args": True})
@click.option(
    "--segment-path",
    envvar="ANALYTICS_SEGMENT_PATH",
    help="Segment export to load: a folder or s3://bucket/prefix (or ANALYTICS_SEGMENT_PATH).",
)
@click.option(
    "--amplitude-path",
    envvar="ANALYTICS_AMPLITUDE_PATH",
    type=click.Path(path_type=Path),
    help="Amplitude export zips on disk (or ANALYTICS_AMPLITUDE_PATH). Without it, the "
    "Export API is read, resuming after the last hour loaded, when AMPLITUDE_API_KEY is set.",
)
@click.option(
    "--production-url",
    envvar="ANALYTICS_PRODUCTION_URL",
    help="postgresql:// URL of the production database (or ANALYTICS_PRODUCTION_URL).",
)
@MAX_REJECTED_SHARE_OPTION
@click.option(
    "--summary-json",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also write the summary to this file as JSON (status, exit code, every step).",
)
@click.option(
    "--notify-url",
    envvar="ANALYTICS_NOTIFY_URL",
    help="POST the summary JSON (with Slack's `text`) to this webhook; a failed post is "
    "reported, never fatal (or ANALYTICS_NOTIFY_URL).",
)
@click.option("--verbose", "-v", is_flag=True, help="Stream dbt's log, not only to its file.")
@click.pass_context
def run(
    context: click.Context,
    segment_path: str | None,
    amplitude_path: Path | None,
    production_url: str | None,
    max_rejected_share: float,
    summary_json: Path | None,
    notify_url: str | None,
    verbose: bool,
) -> None:
    """The scheduled job: every configured load, then `dbt source freshness`, `dbt build`
    (arguments after `--` go to it) and the tracking-plan lint; ends with a summary.
    One run at a time (a second one exits 2 at once), each recorded in ops.pipeline_runs.
    Exit 0 when all passed or warned, 1 on a failed check, 2 when something could not run."""
    from rich.console import Console

    from pipelines.run import RunConfig, print_summary, scheduled_run

    config = RunConfig(
        segment_path=segment_path,
        amplitude_path=amplitude_path,
        amplitude_api=bool(os.environ.get("AMPLITUDE_API_KEY")),
        production_url=production_url,
        max_rejected_share=max_rejected_share,
        dbt_arguments=tuple(context.args),
        summary_json=summary_json,
        notify_url=notify_url,
        verbose=verbose,
    )
    console = Console(soft_wrap=True)
    summary = scheduled_run(config, warehouse.connection, console)
    print_summary(summary, console)
    sys.exit(summary.exit_code)


@cli.command()
def demo() -> None:
    """Generate a sample data set, load it, build the marts and print a summary."""
    from pipelines.demo import run_demo

    sys.exit(run_demo(DEMO_DATA))


@cli.group()
def plan() -> None:
    """The tracking plan."""


# The `--plan` option every `analytics plan` command takes.
plan_file_option = click.option(
    "--plan",
    "plan_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="The tracking plan file. [default: tracking_plan.yml in the project]",
)


@plan.command()
@plan_file_option
def lint(plan_path: Path | None) -> None:
    """Check the tracking plan, then the event names and properties in the warehouse (as of
    the last build): exit 1 on any error; declared legacy aliases are only warnings."""
    from pipelines import plan_lint, tracking_plan

    report = plan_lint.lint(warehouse.connection(), plan_path or tracking_plan.PLAN_PATH)
    plan_lint.print_report(report)
    sys.exit(report.exit_code)


@plan.command()
@click.option(
    "--language", type=click.Choice(["python", "typescript"]), required=True, help="The language."
)
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    required=True,
    help="The folder to write tracking.py or tracking.ts into (created if missing).",
)
@plan_file_option
def codegen(language: str, out: Path, plan_path: Path | None) -> None:
    """Write a typed tracking library: one function per tracked event, sending its canonical
    name through the official Segment library (README "Adding an event")."""
    from pipelines import plan_codegen, tracking_plan

    plan = tracking_plan.load(plan_path or tracking_plan.PLAN_PATH)
    click.echo(f"wrote {plan_codegen.write_code(language, out, plan)}")


@plan.command()
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    required=True,
    help="The folder to write the schemas into (created if missing).",
)
@plan_file_option
def schemas(out: Path, plan_path: Path | None) -> None:
    """Write one JSON Schema (draft 2020-12) per tracked event, as Segment Protocols keeps
    them, and the rules file of Segment's Public API."""
    from pipelines import plan_codegen, tracking_plan

    plan = tracking_plan.load(plan_path or tracking_plan.PLAN_PATH)
    paths = plan_codegen.write_schemas(out, plan)
    click.echo(f"wrote {len(paths)} files into {out}")


@cli.command()
@click.option("--serve", is_flag=True, help="Then serve the site on 127.0.0.1 until Ctrl-C.")
@click.option("--port", type=click.IntRange(1, 65535), default=8080, show_default=True)
def docs(serve: bool, port: int) -> None:
    """`dbt docs generate` into target/ (models, columns, exposures, lineage, and the
    warehouse's own catalog); --serve serves it on 127.0.0.1."""
    from pipelines.transform import dbt

    target = warehouse.connection()
    exit_code = dbt(["docs", "generate", "--quiet"], target)
    if exit_code != 0:
        sys.exit(exit_code)
    click.echo(f"wrote {warehouse.PROJECT_ROOT / 'target' / 'index.html'}")
    if serve:
        click.echo(f"serving the docs on http://127.0.0.1:{port}/ (Ctrl-C stops)")
        serving = ["docs", "serve", "--host", "127.0.0.1", "--port", str(port), "--no-browser"]
        sys.exit(dbt(serving, target))


@cli.command()
@click.argument("statement", required=False)
@click.option("--analysis", help="Run the saved query analyses/NAME.sql, compiled by dbt.")
@click.option(
    "--vars",
    "dbt_vars",
    help="dbt vars for --analysis, as YAML: '{analytics__upgrades_month: 2024-01-01}'.",
)
@click.option(
    "--format",
    "output_format",
    type=click.Choice(queries.FORMATS),
    default="json",
    show_default=True,
    help="JSON lines (keys in column order), CSV with a header, or a table.",
)
def query(
    statement: str | None, analysis: str | None, dbt_vars: str | None, output_format: str
) -> None:
    """Run a read-only query (SQL, or --analysis NAME) on the warehouse as analytics_reader,
    with `marts` on the search path, and print its rows."""
    if (statement is None) == (analysis is None):
        raise UserError("give either SQL or --analysis NAME")
    if dbt_vars and analysis is None:
        raise UserError("--vars applies to --analysis only")
    from pipelines.lake import engine_target

    target = engine_target()
    if analysis is not None:
        statement = queries.compile_analysis(analysis, target, dbt_vars)
    result = queries.engine(target).execute(statement)
    for line in queries.formatted(result, output_format):
        click.echo(line)


@cli.group()
def bi() -> None:
    """A local Apache Superset (its own virtualenv in .bi/) with the bundled dashboards,
    connected to the warehouse as analytics_reader."""


@bi.command(name="start")
@click.option(
    "--port",
    type=click.IntRange(1, 65535),
    envvar="ANALYTICS_BI_PORT",
    default=8088,
    show_default=True,
    help="Port on 127.0.0.1 (or ANALYTICS_BI_PORT).",
)
def bi_start(port: int) -> None:
    """Install Superset on first use (minutes), import the dashboards, start the server."""
    from pipelines import bi as superset

    url = superset.start(warehouse.connection(), port, say=click.echo)
    click.echo(
        f"Superset on {url} (user {superset.ADMIN_USER}, password in "
        f"{superset.home() / 'admin_password'}); dashboards: {url}dashboard/list/"
    )


@bi.command(name="stop")
def bi_stop() -> None:
    """Stop the local Superset."""
    from pipelines import bi as superset

    click.echo("stopped" if superset.stop() else "not running")


@bi.command(name="status")
def bi_status() -> None:
    """Say whether the local Superset is running and where."""
    from pipelines import bi as superset

    url = superset.status()
    click.echo(f"Superset running on {url}" if url else "Superset stopped")


@cli.command()
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True)
def report(out: Path) -> None:
    """Write a self-contained HTML report of the marts (funnels, cohorts, upgrades by
    language, signup completeness, naming problems) that works offline."""
    from pipelines import report as html_report

    html_report.write(queries.engine(warehouse.connection()), out)
    click.echo(f"wrote {out}")


def _require_embedded(action: str) -> None:
    if not warehouse.is_embedded():
        raise UserError(
            f"cannot {action} an external warehouse ({warehouse.WAREHOUSE_URL_VARIABLE})"
        )


def main() -> None:
    """Entry point: expected failures print one line on stderr and exit 2."""
    try:
        exit_code = cli.main(standalone_mode=False)
    except click.exceptions.NoArgsIsHelpError as error:
        click.echo(error.ctx.get_help() if error.ctx else error.format_message())
        sys.exit(0)
    except click.exceptions.Abort:
        click.echo("analytics: aborted", err=True)
        sys.exit(130)
    except click.ClickException as error:
        click.echo(f"analytics: {_one_line(error.format_message())} (see --help)", err=True)
        sys.exit(2)
    except UserError as error:
        click.echo(f"analytics: {_one_line(str(error))}", err=True)
        sys.exit(2)
    except OSError as error:  # an unwritable --out, a full disk: the environment, not a bug
        click.echo(f"analytics: {_one_line(str(error))}", err=True)
        sys.exit(2)
    sys.exit(exit_code if isinstance(exit_code, int) else 0)


def _one_line(message: str) -> str:
    return mask_urls(" ".join(message.split()))
