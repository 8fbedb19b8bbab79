"""`analytics report`: one self-contained HTML page of what the marts say, charts drawn as
inline SVG (no script, no network), read through the same read-only engine as
`analytics query`, so the page shows exactly what `analytics_reader` can see."""

from __future__ import annotations

from datetime import UTC, datetime
from html import escape
from pathlib import Path

from pipelines.query import Engine, Result
from pipelines.report import svg

COMPLETENESS_THRESHOLD = 0.98  # dbt var analytics__completeness_threshold's default

STYLE = """
body { font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 760px; color: #222; }
h1 { font-size: 1.6rem; } h2 { font-size: 1.2rem; margin-top: 2.4rem; }
h3 { font-size: 1rem; margin: 1.2rem 0 .3rem; }
figure { margin: 0; } figcaption, .note { color: #555; font-size: .9rem; }
.kpis { display: flex; gap: 1rem; } .kpi { border: 1px solid #ddd; padding: .6rem 1rem; }
.kpi b { display: block; font-size: 1.4rem; }
table { border-collapse: collapse; font-size: .85rem; width: 100%; }
th, td { border-bottom: 1px solid #eee; padding: .25rem .4rem; text-align: left; }
td.number { text-align: right; } .warn { color: #b34700; }
"""


def build(engine: Engine, generated_at: datetime | None = None) -> str:
    """The report's HTML."""
    columns = _mart_columns(engine)
    sections = [
        _headline(engine),
        _funnels(engine, columns),
        _conversion_by_cohort_week(engine, columns),
        _upgrade_cohorts(engine),
        _upgrades_by_language(engine),
        _completeness(engine),
        _catalog(engine),
    ]
    stamp = (generated_at or datetime.now(UTC)).strftime("%Y-%m-%d %H:%M UTC")
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        "<title>Product analytics report</title>"
        f"<style>{STYLE}</style></head><body><h1>Product analytics report</h1>"
        f'<p class="note">From the marts, generated {stamp}. Hover a mark for its numbers.</p>'
        + "".join(sections)
        + "</body></html>"
    )


def write(engine: Engine, out: Path) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(build(engine), encoding="utf-8")


def _rows(engine: Engine, statement: str) -> list[dict]:
    result: Result = engine.execute(statement)
    return [dict(zip(result.columns, row, strict=True)) for row in result.rows]


def _mart_columns(engine: Engine) -> set[tuple[str, str]]:
    """(table, column) of every mart: columns later issues add are drawn where present."""
    return {
        (row["table_name"], row["column_name"])
        for row in _rows(
            engine,
            "select table_name, column_name from information_schema.columns"
            " where table_schema = 'marts'",
        )
    }


def _section(title: str, *parts: str) -> str:
    return f"<section><h2>{escape(title)}</h2>{''.join(parts)}</section>"


def _figure(chart: str, caption: str) -> str:
    return f"<figure>{chart}<figcaption>{caption}</figcaption></figure>"


def _headline(engine: Engine) -> str:
    (numbers,) = _rows(
        engine,
        """
        select
            (select count(*) from dim_users) as users,
            (select count(*) from dim_organizations) as organizations,
            (select count(*) from dim_organizations where is_paying) as paying,
            (select count(distinct org_id) from fct_plan_changes where change_type = 'upgrade')
                as upgraded,
            (select min(occurred_at) from fct_events) as first_event,
            (select max(occurred_at) from fct_events) as last_event
        """,
    )
    kpis = [
        ("users", f"{numbers['users']:,}"),
        ("organizations", f"{numbers['organizations']:,}"),
        ("paying now", f"{numbers['paying']:,}"),
        ("ever upgraded", f"{numbers['upgraded']:,}"),
    ]
    period = ""
    if numbers["first_event"]:
        period = (
            f"Events from {numbers['first_event']:%Y-%m-%d} to {numbers['last_event']:%Y-%m-%d}."
        )
    boxes = "".join(f'<div class="kpi"><b>{value}</b>{label}</div>' for label, value in kpis)
    return f'<div class="kpis">{boxes}</div><p class="note">{period}</p>'


def _funnels(engine: Engine, columns: set[tuple[str, str]]) -> str:
    steps = _rows(
        engine,
        """
        select funnel_name, entity_type, step_number, step_name, count(*) as entities
        from fct_funnel_steps
        group by funnel_name, entity_type, step_number, step_name
        order by entity_type desc, funnel_name, step_number
        """,
    )
    open_windows = {}
    if ("fct_funnel_progress", "is_window_complete") in columns:
        open_windows = {
            row["funnel_name"]: row["open"]
            for row in _rows(
                engine,
                "select funnel_name, count(*) filter (where not is_window_complete) as open"
                " from fct_funnel_progress group by funnel_name",
            )
        }
    parts = []
    for entity in ("user", "org"):
        names = sorted({row["funnel_name"] for row in steps if row["entity_type"] == entity})
        for name in names:
            funnel_steps = [
                (row["step_name"], row["entities"]) for row in steps if row["funnel_name"] == name
            ]
            caption = f"{entity.replace('org', 'organization')} funnel: entities reaching each step"
            if open_windows.get(name):
                caption += f"; {open_windows[name]:,} of them are still inside their window"
            parts.append(f"<h3>{escape(name)} ({entity})</h3>")
            parts.append(_figure(svg.funnel(f"funnel-{name}", funnel_steps, name), caption))
    if not parts:
        parts.append('<p class="note">No funnel has an entity yet.</p>')
    return _section("Funnels", *parts)


def _conversion_by_cohort_week(engine: Engine, columns: set[tuple[str, str]]) -> str:
    is_complete = (
        "bool_and(is_complete)" if ("rpt_funnel_conversion", "is_complete") in columns else "true"
    )
    rows = _rows(
        engine,
        f"""
        with last_steps as (
            select funnel_name, max(step_number) as step_number
            from rpt_funnel_conversion group by funnel_name
        )
        select
            conversion.funnel_name,
            conversion.cohort_week,
            conversion.conversion_from_start,
            {is_complete} as is_complete
        from rpt_funnel_conversion as conversion
        inner join last_steps
            on conversion.funnel_name = last_steps.funnel_name
            and conversion.step_number = last_steps.step_number
        group by conversion.funnel_name, conversion.cohort_week, conversion.conversion_from_start
        order by conversion.cohort_week
        """,
    )
    weeks = sorted({row["cohort_week"] for row in rows})
    labels = [f"{week:%m-%d}" for week in weeks]
    series = []
    for name in sorted({row["funnel_name"] for row in rows}):
        by_week = {row["cohort_week"]: row for row in rows if row["funnel_name"] == name}
        series.append(
            svg.Series(
                name,
                [
                    float(by_week[w]["conversion_from_start"]) if w in by_week else None
                    for w in weeks
                ],
                [w in by_week and not by_week[w]["is_complete"] for w in weeks],
            )
        )
    chart = svg.lines("conversion-by-cohort-week", labels, series, "Conversion by cohort week")
    caption = (
        "Share of each week's entrants that reached the funnel's last step (weeks start on"
        " Monday). Hollow points: cohorts whose window is still open, not drop-off."
    )
    return _section("Conversion by cohort week", _figure(chart, caption))


def _upgrade_cohorts(engine: Engine) -> str:
    rows = _rows(
        engine,
        "select cohort_month, months_since_signup, orgs, upgraded_orgs, upgrade_rate"
        " from rpt_upgrade_cohorts order by cohort_month, months_since_signup",
    )
    months = sorted({row["cohort_month"] for row in rows})
    offsets = sorted({row["months_since_signup"] for row in rows})
    cells = {
        (months.index(row["cohort_month"]), offsets.index(row["months_since_signup"])): (
            float(row["upgrade_rate"]),
            f"{row['cohort_month']:%Y-%m} cohort, month {row['months_since_signup']}:"
            f" {row['upgraded_orgs']} of {row['orgs']} orgs upgraded",
        )
        for row in rows
    }
    chart = svg.heatmap(
        "upgrade-cohorts",
        [f"{month:%Y-%m} ({_cohort_size(rows, month)})" for month in months],
        [f"+{offset}" for offset in offsets],
        cells,
        "Upgrade cohorts",
    )
    caption = (
        "Cumulative share of each signup month's organizations (their count in brackets)"
        " that had upgraded by N months after signing up."
    )
    return _section("Upgrade cohorts", _figure(chart, caption))


def _cohort_size(rows: list[dict], month) -> int:
    return next(row["orgs"] for row in rows if row["cohort_month"] == month)


def _upgrades_by_language(engine: Engine) -> str:
    rows = _rows(
        engine,
        "select month, segment_value, upgraded_orgs from rpt_upgrades_by_segment"
        " where segment_type = 'primary_language' order by month, segment_value",
    )
    months = sorted({row["month"] for row in rows})
    totals: dict[str, int] = {}
    for row in rows:
        language = row["segment_value"] or "unknown"
        totals[language] = totals.get(language, 0) + row["upgraded_orgs"]
    languages = sorted(totals, key=lambda language: (-totals[language], language))
    counts = {
        (row["month"], row["segment_value"] or "unknown"): row["upgraded_orgs"] for row in rows
    }
    series = [
        svg.Series(language, [counts.get((month, language), 0) for month in months])
        for language in languages
    ]
    chart = svg.stacked_bars(
        "upgrades-by-language", [f"{month:%Y-%m}" for month in months], series, "Upgrades"
    )
    caption = "Organizations that upgraded each month, by primary language."
    return _section("Upgrades by language", _figure(chart, caption))


def _completeness(engine: Engine) -> str:
    rows = _rows(
        engine,
        "select day, source, expected, observed, completeness from rpt_event_completeness"
        " where check_name = 'signups' and source <> 'any' order by day, source",
    )
    days = sorted({row["day"] for row in rows})
    sources = sorted({row["source"] for row in rows})
    by_key = {(row["day"], row["source"]): row for row in rows}
    series = [
        svg.Series(
            source,
            [
                float(by_key[(day, source)]["completeness"])
                if (day, source) in by_key and by_key[(day, source)]["completeness"] is not None
                else None
                for day in days
            ],
        )
        for source in sources
    ]
    low = [row for row in rows if row["completeness"] is not None]
    low = [row for row in low if row["completeness"] < COMPLETENESS_THRESHOLD]
    low_days = {row["day"] for row in low}
    chart = svg.lines(
        "signup-completeness",
        [f"{day:%m-%d}" for day in days],
        series,
        "Signup completeness",
        threshold=COMPLETENESS_THRESHOLD,
        flagged=[day in low_days for day in days],
    )
    findings = []
    for source in sources:
        missing = [row for row in low if row["source"] == source]
        if missing:
            lost = sum(row["expected"] - row["observed"] for row in missing)
            findings.append(
                f'<p class="warn">{escape(source)}: {lost:,} signups production recorded are'
                f" missing on {len(missing)} days between {min(r['day'] for r in missing)} and"
                f" {max(r['day'] for r in missing)}.</p>"
            )
    caption = (
        "Share of the users production created each day whose User Signed Up each source"
        f" received; red bands: days below {COMPLETENESS_THRESHOLD:.0%} (dashed line)."
    )
    return _section("Signup completeness", _figure(chart, caption), *findings)


def _catalog(engine: Engine) -> str:
    rows = _rows(
        engine,
        """
        select source_event_name, source, event_name, is_planned, near_duplicate_of, events,
            last_seen_at
        from rpt_event_catalog
        where not is_planned or near_duplicate_of is not null or source_event_name <> event_name
        order by events desc, source_event_name, source
        """,
    )
    if not rows:
        return _section("Event names", '<p class="note">Every name is a planned name.</p>')
    body = "".join(
        "<tr>"
        f"<td>{escape(row['source_event_name'])}</td><td>{escape(row['source'])}</td>"
        f"<td>{escape(_problem(row))}</td>"
        f'<td class="number">{row["events"]:,}</td><td>{row["last_seen_at"]:%Y-%m-%d}</td>'
        "</tr>"
        for row in rows
    )
    table = (
        '<table class="catalog"><thead><tr><th>name sent</th><th>source</th><th>problem</th>'
        "<th>events</th><th>last seen</th></tr></thead>"
        f"<tbody>{body}</tbody></table>"
    )
    note = '<p class="note">Names the tracking plan does not list as they were sent.</p>'
    return _section("Event naming problems", note, table)


def _problem(row: dict) -> str:
    if row["is_planned"] and row["source_event_name"] != row["event_name"]:
        return f"legacy alias of {row['event_name']} (declared in the plan)"
    if row["near_duplicate_of"]:
        return f"near duplicate of {row['near_duplicate_of']}"
    return "not in the tracking plan"
