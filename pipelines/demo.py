"""`analytics demo`: generate, load, transform, then print what the marts say."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console
from rich.table import Table

from pipelines import warehouse
from pipelines.generate import GeneratorConfig, generate
from pipelines.sources import segment
from pipelines.transform import dbt

console = Console()

# The 15% story: signups silently missing from Amplitude for a stretch of days.
DEMO_DATA_SET = GeneratorConfig(signup_drop=0.15)

EVENTS_BY_NAME = """
    select event_name, count(*) as events, count(distinct user_id) as users
    from marts.fct_events
    group by event_name
    order by events desc
"""


def run_demo(data_dir: Path) -> int:
    """Run every layer on a small generated data set; return a process exit code."""
    target = warehouse.connection()
    production = target.with_database("production")
    with console.status("generating a sample data set"):
        truth = generate(data_dir, DEMO_DATA_SET, production=production)
    console.print(
        f"[green]✓[/] generated {truth['messages_generated']} messages in {data_dir} "
        f"and the production tables in {production.url()}"
    )
    report = segment.load(data_dir / "segment-logs", target)
    console.print(f"[green]✓[/] loaded raw_segment ({report.summary()})")
    console.print("running dbt build …")
    exit_code = dbt(["build", "--quiet"], target)
    if exit_code != 0:
        console.print("[red]✗[/] dbt build failed")
        return exit_code
    console.print("[green]✓[/] built staging, intermediate and marts")
    _print_summary(target)
    return 0


def _print_summary(target: warehouse.Connection) -> None:
    with target.cursor() as cursor:
        cursor.execute(EVENTS_BY_NAME)
        rows = cursor.fetchall()
    table = Table(title="Events in marts.fct_events")
    for column in ("event", "events", "users"):
        table.add_column(column, justify="left" if column == "event" else "right")
    for event_name, events, users in rows:
        table.add_row(event_name, str(events), str(users))
    console.print(table)
    console.print(f"Warehouse: [bold]{target.url()}[/]  (psql, or a BI tool as analytics_reader)")
    console.print("Marts live in the `marts` schema; `dbt docs generate` documents them.")
