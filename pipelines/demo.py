"""`analytics demo`: generate, load every source, transform, then print what the marts say."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console
from rich.table import Table

from pipelines import warehouse
from pipelines.generate import GeneratorConfig, generate
from pipelines.masking import mask_urls
from pipelines.transform import WITHOUT_UNIT_TESTS, dbt

console = Console()

# The 15% story: signups silently missing from Amplitude for a stretch of days. The period
# ends today, so a scheduled `analytics run` right after the demo finds the sources fresh.
DEMO_DATA_SET = GeneratorConfig(signup_drop=0.15)
# So the build completes and the summary shows what the completeness test found.
WARN_ON_COMPLETENESS = "{analytics__completeness_severity: warn}"

INCOMPLETE_SIGNUPS = """
    select source, count(*), min(day), max(day), sum(expected - observed)
    from marts.rpt_event_completeness
    where check_name = 'signups' and completeness < 0.98
    group by source
    order by source
"""

FUNNELS = """
    select
        funnel_name,
        entity_type,
        count(*) as entered,
        count(*) filter (where converted) as converted
    from marts.fct_funnel_progress
    group by funnel_name, entity_type
    order by funnel_name
"""

UPGRADES_BY_LANGUAGE = """
    select
        organizations.primary_language,
        count(distinct plan_changes.org_id) as upgraded_orgs,
        round(
            count(distinct plan_changes.org_id)::numeric
            / sum(count(distinct plan_changes.org_id)) over (), 2
        ) as share_of_upgrades
    from marts.fct_plan_changes as plan_changes
    inner join marts.dim_organizations as organizations
        on plan_changes.org_id = organizations.org_id
    where plan_changes.change_type = 'upgrade'
    group by organizations.primary_language
    order by upgraded_orgs desc
"""


def run_demo(data_dir: Path) -> int:
    """Run every layer on a small generated data set; return a process exit code."""
    from pipelines.sources import amplitude, production, segment

    target = warehouse.connection()
    # Beside its warehouse database, so two warehouses on one server never share it.
    production_database = target.with_database(f"{target.database}_production")
    with console.status("generating a sample data set"):
        truth = generate(data_dir, DEMO_DATA_SET, production=production_database)
    console.print(
        f"[green]✓[/] generated {truth['messages_generated']} messages in {data_dir} "
        f"and the production tables in {mask_urls(production_database.url())}"
    )
    loads = (
        ("raw_segment", lambda: segment.load(data_dir / "segment-logs", target)),
        ("raw_amplitude", lambda: amplitude.load_archives(data_dir / "amplitude", target)),
        ("raw_production", lambda: production.load(production_database.url(), target)),
    )
    for raw_schema, load in loads:
        console.print(f"[green]✓[/] loaded {raw_schema} ({load().summary()})")
    console.print("running dbt build …")
    exit_code = dbt(
        ["build", "--quiet", *WITHOUT_UNIT_TESTS, "--vars", WARN_ON_COMPLETENESS], target
    )
    if exit_code != 0:
        console.print("[red]✗[/] dbt build failed")
        return exit_code
    console.print("[green]✓[/] built staging, intermediate and marts")
    _print_summary(target)
    return 0


def _print_summary(target: warehouse.Connection) -> None:
    for source, days, first_day, last_day, missing in _query(target, INCOMPLETE_SIGNUPS):
        console.print(
            f"[yellow]![/] {missing} signups production recorded are missing from {source} "
            f"on {days} days between {first_day} and {last_day} (marts.rpt_event_completeness; "
            "`analytics run` fails on this)"
        )
    funnels = Table(title="Funnels (marts.fct_funnel_progress)")
    for column in ("funnel", "entity", "entered", "converted", "rate"):
        funnels.add_column(column, justify="left" if column in ("funnel", "entity") else "right")
    for funnel_name, entity_type, entered, converted in _query(target, FUNNELS):
        rate = f"{converted / entered:.0%}"
        funnels.add_row(funnel_name, entity_type, str(entered), str(converted), rate)
    console.print(funnels)

    upgrades = Table(title="Upgraded organizations by primary language")
    for column in ("language", "upgraded orgs", "share"):
        upgrades.add_column(column, justify="left" if column == "language" else "right")
    for language, upgraded_orgs, share in _query(target, UPGRADES_BY_LANGUAGE):
        upgrades.add_row(language or "unknown", str(upgraded_orgs), f"{share:.0%}")
    console.print(upgrades)

    console.print(
        f"Warehouse: [bold]{mask_urls(target.url())}[/] (psql, or a BI tool as analytics_reader)"
    )
    console.print(
        "Next: the `marts` schema (fct_events, dim_organizations, fct_funnel_progress, …), "
        "`dbt docs generate`, the README's model guide, and `analytics run`, the scheduled "
        "job (it fails on the planted signup gap only)."
    )


def _query(target: warehouse.Connection, sql: str) -> list[tuple]:
    with target.cursor() as cursor:
        cursor.execute(sql)
        return cursor.fetchall()
