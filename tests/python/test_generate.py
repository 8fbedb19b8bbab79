"""`analytics generate`: real formats read by their own readers, byte-identical per seed,
every planted flaw present (and absent when disabled), and a truth manifest that agrees
with the files."""

from __future__ import annotations

import gzip
import json
import re
import tempfile
import zipfile
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from pipelines import tracking_plan
from pipelines.generate import GeneratorConfig, generate, orgs_for_events
from pipelines.generate.catalog import (
    DEFAULT_FUNNELS,
    DERIVED_EVENT_BY_CHANGE_TYPE,
    LEADING_INDICATORS,
    canonical_name,
)

# A fixed period: the statistical assertions hold for this data set, whatever today is.
FLAWED = GeneratorConfig(
    seed=11,
    orgs=60,
    days=21,
    end_date=date(2024, 1, 21),
    signup_drop=0.15,
    duplicate_rate=0.05,
    late_rate=0.05,
    malformed_lines=4,
)
CLEAN = GeneratorConfig(
    seed=11,
    orgs=60,
    days=21,
    end_date=date(2024, 1, 21),
    duplicate_rate=0,
    late_rate=0,
    malformed_lines=0,
)
SEGMENT_FILE = re.compile(r"segment-logs/(web-app|ios-app)/(\d+)/part-\d{4}\.gz")
AMPLITUDE_MEMBER = re.compile(r"187520/187520_(\d{4}-\d{2}-\d{2})_(\d{1,2})#(\d+)\.json\.gz")
SEGMENT_TIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z")
AMPLITUDE_TIME = re.compile(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\.\d{6}")
SEGMENT_FIELDS = ("messageId", "type", "userId", "context", "timestamp", "sentAt")
SEGMENT_FIELDS += ("receivedAt", "originalTimestamp")


@dataclass
class Export:
    """Everything `generate` wrote, read back with gzip, zipfile and json."""

    truth: dict
    segment: list[tuple[int, dict]] = field(default_factory=list)  # (folder day ms, message)
    amplitude: list[tuple[str, int, dict]] = field(default_factory=list)  # (day, hour, row)
    malformed: Counter = field(default_factory=Counter)


def read_export(out: Path) -> Export:
    export = Export(truth=json.loads((out / "truth.json").read_text()))
    for path in sorted((out / "segment-logs").rglob("*")):
        if path.is_dir():
            continue
        match = SEGMENT_FILE.fullmatch(path.relative_to(out).as_posix())
        assert match, f"not the S3 destination layout: {path}"
        with gzip.open(path) as lines:
            for line in lines:
                try:
                    export.segment.append((int(match.group(2)), json.loads(line)))
                except json.JSONDecodeError:
                    export.malformed["segment"] += 1
    for path in sorted((out / "amplitude").iterdir()):
        assert re.fullmatch(r"187520_\d{4}-\d{2}-\d{2}\.zip", path.name), path
        with zipfile.ZipFile(path) as archive:
            for name in archive.namelist():
                match = AMPLITUDE_MEMBER.fullmatch(name)
                assert match, f"not an Export API file name: {name}"
                assert path.name == f"187520_{match.group(1)}.zip"
                for line in gzip.decompress(archive.read(name)).splitlines():
                    try:
                        row = json.loads(line)
                    except json.JSONDecodeError:
                        export.malformed["amplitude"] += 1
                        continue
                    export.amplitude.append((match.group(1), int(match.group(2)), row))
    return export


def unique_by(rows, key):
    return {key(row): row for row in rows}


def segment_time(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)


def amplitude_time(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%d %H:%M:%S.%f").replace(tzinfo=UTC)


def day_ms(moment: datetime) -> int:
    midnight = moment.replace(hour=0, minute=0, second=0, microsecond=0)
    return int(midnight.timestamp()) * 1000


@pytest.fixture(scope="module")
def flawed(tmp_path_factory) -> Export:
    out = tmp_path_factory.mktemp("flawed")
    generate(out, FLAWED)
    return read_export(out)


@pytest.fixture(scope="module")
def clean(tmp_path_factory) -> Export:
    out = tmp_path_factory.mktemp("clean")
    generate(out, CLEAN)
    return read_export(out)


def test_same_seed_writes_byte_identical_files(tmp_path):
    config = GeneratorConfig(seed=5, orgs=12, days=8, signup_drop=0.2)
    first, second, other_seed = tmp_path / "first", tmp_path / "second", tmp_path / "other"
    generate(first, config)
    generate(second, config)
    generate(other_seed, GeneratorConfig(seed=6, orgs=12, days=8, signup_drop=0.2))

    def contents(root: Path) -> dict[str, bytes]:
        return {
            path.relative_to(root).as_posix(): path.read_bytes()
            for path in sorted(root.rglob("*"))
            if path.is_file()
        }

    assert contents(first) == contents(second)
    assert contents(first) != contents(other_seed)


def test_a_run_with_many_late_lines_leaves_no_scratch_file_behind(tmp_path, monkeypatch):
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))

    truth = generate(tmp_path / "out", GeneratorConfig(seed=2, orgs=10, days=6, late_rate=0.5))

    assert truth["input_lines"]["segment"]["late"] > 50
    assert truth["input_lines"]["amplitude"]["late"] > 10
    assert list(scratch.iterdir()) == []


def test_a_rerun_into_the_same_folder_replaces_the_previous_data_set(tmp_path):
    generate(tmp_path, GeneratorConfig(seed=1, orgs=10, days=9))
    generate(tmp_path, GeneratorConfig(seed=1, orgs=10, days=3))

    folders = {path.name for path in (tmp_path / "segment-logs" / "web-app").iterdir()}
    assert len(folders) <= 3 + 3  # the period plus late arrivals, nothing left from 9 days


def test_segment_messages_carry_every_common_field_and_are_filed_by_received_day(flawed):
    types = Counter(message["type"] for _, message in flawed.segment)

    assert set(types) == {"track", "identify", "page", "group", "screen", "alias"}
    for folder_day, message in flawed.segment:
        assert all(name in message for name in SEGMENT_FIELDS)
        assert message.get("userId") or message.get("anonymousId")
        for name in ("timestamp", "sentAt", "receivedAt", "originalTimestamp"):
            assert SEGMENT_TIME.fullmatch(message[name])
        assert folder_day == day_ms(segment_time(message["receivedAt"]))
        assert "library" in message["context"]


def test_segment_timestamp_follows_segments_clock_correction(flawed):
    for _, message in flawed.segment:
        received, sent = segment_time(message["receivedAt"]), segment_time(message["sentAt"])
        original = segment_time(message["originalTimestamp"])

        assert segment_time(message["timestamp"]) == received - (sent - original)


def test_amplitude_rows_have_the_export_fields_and_sit_in_their_upload_hour(flawed):
    for day, hour, row in flawed.amplitude:
        for name in ("event_time", "server_upload_time", "client_event_time"):
            assert AMPLITUDE_TIME.fullmatch(row[name])
        uploaded = amplitude_time(row["server_upload_time"])
        assert (uploaded.strftime("%Y-%m-%d"), uploaded.hour) == (day, hour)
        assert {"$insert_id", "uuid", "event_type", "user_id", "device_id", "amplitude_id"} <= set(
            row
        )
        assert {"session_id", "event_properties", "user_properties", "groups"} <= set(row)
        assert {"group_properties"} <= set(row)


def forwarded_name(message: dict) -> str:
    """The event type Segment's Amplitude destination gives a message ("Track Named Pages")."""
    if message["type"] == "track":
        return message["event"]
    if message["type"] == "screen":
        return f"Viewed {message['name']} Screen"
    return f"Viewed {message['category']} {message['name']} Page"


def test_forwarded_events_keep_the_segment_message_id_and_the_mobile_app_adds_its_own(flawed):
    forwardable = {
        m["messageId"]: m for _, m in flawed.segment if m["type"] in ("track", "page", "screen")
    }
    rows = unique_by((row for _, _, row in flawed.amplitude), lambda row: row["$insert_id"])
    forwarded = {insert_id for insert_id, row in rows.items() if row["library"] == "segment"}
    mobile_only = set(rows) - forwarded

    assert forwarded <= set(forwardable)
    assert {m["type"] for i, m in forwardable.items() if i in forwarded} == {
        "track",
        "page",
        "screen",
    }
    assert mobile_only and all(rows[i]["platform"] == "iOS" for i in mobile_only)
    assert not mobile_only & set(forwardable)
    for insert_id in forwarded:
        assert rows[insert_id]["event_type"] == forwarded_name(forwardable[insert_id])
        assert amplitude_time(rows[insert_id]["event_time"]) == segment_time(
            forwardable[insert_id]["timestamp"]
        )


def test_truth_counts_equal_the_files_after_deduplication(flawed):
    segment = unique_by((m for _, m in flawed.segment), lambda m: m["messageId"])
    amplitude = unique_by((row for _, _, row in flawed.amplitude), lambda row: row["$insert_id"])
    segment_events = {i: segment_event_name(m) for i, m in segment.items() if segment_event_name(m)}
    amplitude_events = {i: amplitude_event_name(row) for i, row in amplitude.items()}
    every_event = {**amplitude_events, **segment_events}
    truth = flawed.truth["events_by_canonical_name"]

    def by_canonical_name(names) -> dict:
        return dict(Counter(canonical_name(name) for name in names))

    assert by_canonical_name(segment_events.values()) == truth["segment"]
    assert by_canonical_name(amplitude_events.values()) == truth["amplitude"]
    assert Counter(by_canonical_name(every_event.values())) + Counter(
        truth["production"]
    ) == Counter(truth["all"])
    assert Counter(m["type"] for m in segment.values()) == flawed.truth["segment_messages_by_type"]
    assert (
        dict(Counter(segment_events.values())) == flawed.truth["events_by_source_name"]["segment"]
    )
    assert (
        dict(Counter(row["event_type"] for row in amplitude.values()))
        == (flawed.truth["events_by_source_name"]["amplitude"])
    )


def segment_event_name(message: dict) -> str | None:
    """A track's name; `Page Viewed` / `Screen Viewed` for page and screen calls."""
    return {"track": message.get("event"), "page": "Page Viewed", "screen": "Screen Viewed"}.get(
        message["type"]
    )


def amplitude_event_name(row: dict) -> str:
    """Segment's forwarded pages and screens are page and screen views."""
    if row["library"] == "segment" and re.fullmatch(r"Viewed .+ Page", row["event_type"]):
        return "Page Viewed"
    if row["library"] == "segment" and re.fullmatch(r"Viewed .+ Screen", row["event_type"]):
        return "Screen Viewed"
    return row["event_type"]


def test_truth_counts_the_lines_of_each_input(flawed):
    lines = flawed.truth["input_lines"]
    segment_ids = Counter(m["messageId"] for _, m in flawed.segment)
    amplitude_ids = Counter(row["$insert_id"] for _, _, row in flawed.amplitude)

    assert lines["segment"]["lines"] == len(flawed.segment) + flawed.malformed["segment"]
    assert lines["amplitude"]["lines"] == len(flawed.amplitude) + flawed.malformed["amplitude"]
    assert lines["segment"]["duplicates"] == sum(segment_ids.values()) - len(segment_ids)
    assert lines["amplitude"]["duplicates"] == sum(amplitude_ids.values()) - len(amplitude_ids)
    assert lines["segment"]["late"] == sum(
        folder_day > day_ms(segment_time(m["timestamp"])) for folder_day, m in flawed.segment
    )


def test_planted_flaws_are_present(flawed):
    lines = flawed.truth["input_lines"]
    segment_ids = Counter(m["messageId"] for _, m in flawed.segment)
    days_late = [
        segment_time(m["receivedAt"]) - segment_time(m["timestamp"]) for _, m in flawed.segment
    ]

    assert flawed.malformed == {"segment": 4, "amplitude": 4}
    assert lines["segment"]["malformed"] == lines["amplitude"]["malformed"] == 4
    assert max(segment_ids.values()) == 2
    assert len({row["$insert_id"] for _, _, row in flawed.amplitude}) < len(flawed.amplitude)
    assert max(days_late).days >= 1


def test_planted_flaws_are_absent_when_disabled(clean):
    segment_ids = Counter(m["messageId"] for _, m in clean.segment)
    amplitude_ids = Counter(row["$insert_id"] for _, _, row in clean.amplitude)
    delays = [
        segment_time(m["receivedAt"]) - segment_time(m["timestamp"]) for _, m in clean.segment
    ]

    assert not clean.malformed
    assert max(segment_ids.values()) == max(amplitude_ids.values()) == 1
    assert max(delays).total_seconds() < 60
    assert clean.truth["signup_drop"]["days"] == []
    for row in clean.truth["signup_completeness"]:
        assert row["observed"] == row["expected"]


def signups_by_day(export: Export) -> dict[str, Counter]:
    segment = unique_by((m for _, m in export.segment), lambda m: m["messageId"]).values()
    amplitude = unique_by((r for _, _, r in export.amplitude), lambda r: r["$insert_id"]).values()
    return {
        "segment": Counter(
            m["timestamp"][:10]
            for m in segment
            if m["type"] == "track" and m["event"] == "User Signed Up"
        ),
        "amplitude": Counter(
            r["event_time"][:10] for r in amplitude if r["event_type"] == "User Signed Up"
        ),
    }


def test_signup_drop_removes_that_share_from_one_source_over_a_stretch_of_days(flawed):
    observed = signups_by_day(flawed)
    dropped_days = flawed.truth["signup_drop"]["days"]
    expected = {
        row["day"]: row["expected"]
        for row in flawed.truth["signup_completeness"]
        if row["source"] == "any"
    }

    assert flawed.truth["signup_drop"]["source"] == "amplitude"
    assert len(dropped_days) >= 3
    assert dropped_days == sorted(dropped_days)
    for day, users_created in expected.items():
        assert observed["segment"][day] == users_created
        missing = users_created - observed["amplitude"][day]
        if day in dropped_days:
            assert missing == -(-users_created * 15 // 100)  # ceil(15% of the day's signups)
        else:
            assert missing == 0
    for row in flawed.truth["signup_completeness"]:
        assert (
            row["observed"]
            == observed.get(row["source"], {row["day"]: row["expected"]})[row["day"]]
        )


def test_legacy_event_names_are_mixed_with_the_canonical_one(flawed):
    names = flawed.truth["events_by_source_name"]

    assert names["segment"]["click-plan-update"] > 0
    assert names["segment"]["Plan Upgrade Clicked"] > 0
    assert names["amplitude"]["update-plan-clicked"] > 0


def test_every_event_name_sent_or_derived_is_in_the_tracking_plan(flawed):
    plan = tracking_plan.load()
    sent = {message["event"] for _, message in flawed.segment if message["type"] == "track"}
    sent |= {amplitude_event_name(row) for _, _, row in flawed.amplitude}
    sent |= {segment_event_name(m) for _, m in flawed.segment if m["type"] in ("page", "screen")}

    assert all(plan.canonical_name(name) is not None for name in sent)
    for name in DERIVED_EVENT_BY_CHANGE_TYPE.values():
        assert plan.event(name).origin == "derived"
    for funnel in DEFAULT_FUNNELS:
        assert all(plan.canonical_name(step) == step for step in funnel.steps)
    for name in LEADING_INDICATORS:
        assert plan.event(name).origin == "tracked"


def test_org_context_rides_in_every_place_the_contract_lists(flawed):
    tracks = [m for _, m in flawed.segment if m["type"] == "track"]
    rows = [row for _, _, row in flawed.amplitude]

    assert any("org_id" in m["properties"] for m in tracks)
    assert any("groupId" in m["context"] and "org_id" not in m["properties"] for m in tracks)
    assert any(isinstance(row["groups"].get("org_id"), str) for row in rows)
    assert any(isinstance(row["groups"].get("org_id"), list) for row in rows)
    assert any(
        "org_id" in row["event_properties"] and not row["groups"] for row in rows if row["user_id"]
    )
    for m in tracks:
        if "org_id" in m["properties"] and "groupId" in m["context"]:
            assert m["properties"]["org_id"] == m["context"]["groupId"]


def test_dashboard_views_have_no_org_and_multi_org_users_switch(flawed):
    tracks = [m for _, m in flawed.segment if m["type"] == "track"]
    dashboards = [m for m in tracks if m["event"] == "Dashboard Viewed"]
    switches = [m for m in tracks if m["event"] == "Organization Switched"]

    assert dashboards and switches
    assert all(
        "org_id" not in m["properties"] and "groupId" not in m["context"] for m in dashboards
    )
    assert flawed.truth["multi_org_users"] > 0
    assert all(
        m["properties"]["previous_org_id"] != m["properties"].get("org_id") for m in switches
    )


def test_anonymous_page_views_before_signup_are_stitched_by_identify(flawed):
    anonymous_pages = {
        m["anonymousId"] for _, m in flawed.segment if m["type"] == "page" and not m["userId"]
    }
    users_by_device = defaultdict(set)
    for _, m in flawed.segment:
        if m["type"] == "identify" and m["userId"]:
            users_by_device[m["anonymousId"]].add(m["userId"])
    identified_once = {device for device, users in users_by_device.items() if len(users) == 1}

    assert flawed.truth["identity"]["users_with_pre_signup_page_views"] > 0
    assert (
        len(anonymous_pages & identified_once)
        == flawed.truth["identity"]["users_with_pre_signup_page_views"]
    )


def test_identity_links_are_planted_late_aliases_legacy_ids_and_a_shared_kiosk(flawed):
    messages = unique_by((m for _, m in flawed.segment), lambda m: m["messageId"]).values()
    identity = flawed.truth["identity"]
    aliases = [m for m in messages if m["type"] == "alias"]
    identified = {m["anonymousId"] for m in messages if m["type"] == "identify"}
    browser_links = [m for m in aliases if m["previousId"] not in identified]
    email_links = [m for m in aliases if "@" in m["previousId"]]
    users_by_device = defaultdict(set)
    for m in messages:
        if m["type"] == "identify":
            users_by_device[m["anonymousId"]].add(m["userId"])
    timestamps = {m["anonymousId"]: m["timestamp"] for m in messages if m["type"] == "page"}

    assert identity["second_browser_users"] > 0 and identity["legacy_id_users"] > 0
    assert (
        len([m for m in browser_links if "@" not in m["previousId"]])
        == identity["second_browser_users"]
    )
    assert len(email_links) == identity["legacy_id_users"]
    # The link comes days after the pages it stitches.
    assert all(
        m["timestamp"] > timestamps[m["previousId"]]
        for m in browser_links
        if "@" not in m["previousId"]
    )
    assert any(m["type"] == "screen" and "@" in (m["userId"] or "") for m in messages), (
        "an old app build sends the email as the user id"
    )
    assert max(len(users) for users in users_by_device.values()) == identity["kiosk_users"] == 7
    assert sum(identity["stitched_events_by_user"].values()) + identity["anonymous_events"] == sum(
        flawed.truth["events_by_canonical_name"]["all"].values()
    )


def test_the_planted_history_is_in_the_truth_and_production_loses_a_vcs_provider(flawed):
    history = flawed.truth["history"]
    change = history["language_change"]
    org_groups = [
        m for _, m in flawed.segment if m["type"] == "group" and m["groupId"] == change["org_id"]
    ]

    assert change["from"] != change["to"]
    assert change["updated_at_before"] < change["changed_at"]
    assert org_groups[-1]["traits"]["primary_language"] == change["to"]
    assert {m["traits"]["primary_language"] for m in org_groups[:-1]} == {change["from"]}
    ((org_id, vcs_provider),) = history["vcs_provider_from_group_traits"].items()
    assert any(
        m["type"] == "group"
        and m["groupId"] == org_id
        and m["traits"]["vcs_provider"] == vcs_provider
        for _, m in flawed.segment
    )
    assert (
        sum(flawed.truth["org_upgrade_entities_by_language_at_entry"].values())
        == (flawed.truth["organizations"])
    )


def test_upgrades_are_often_paid_by_billing_members_and_early_activity_predicts_them(flawed):
    truth = flawed.truth

    assert truth["plan_changes_by_type"]["new"] == truth["organizations"]
    assert truth["plan_changes_by_type"]["upgrade"] > 0
    assert 0 < truth["upgrades_paid_by_billing_members"] <= truth["plan_changes_by_type"]["upgrade"]
    for indicator in truth["leading_indicators"].values():
        assert indicator["upgrade_rate_with"] > indicator["upgrade_rate_without"]
    upgrades = sum(
        sum(languages.values()) for languages in truth["upgrades_by_month_and_language"].values()
    )
    assert upgrades >= 1


def test_funnels_in_the_truth_are_the_default_funnels(flawed):
    funnels = flawed.truth["funnels"]

    assert set(funnels) == {"activation", "org_upgrade", "upgrade_intent"}
    assert funnels["org_upgrade"]["steps"][-1] == "Plan Upgraded"
    assert (
        sum(funnels["org_upgrade"]["entities_by_furthest_step"].values())
        == flawed.truth["organizations"]
    )
    assert sum(funnels["activation"]["entities_by_furthest_step"].values()) == flawed.truth["users"]


def test_events_target_sizes_the_number_of_orgs(tmp_path):
    config = GeneratorConfig(seed=3, days=10, malformed_lines=0)
    orgs = orgs_for_events(4_000, config)

    truth = generate(tmp_path, GeneratorConfig(seed=3, orgs=orgs, days=10, malformed_lines=0))

    assert 2_000 <= truth["messages_generated"] <= 8_000


def test_the_default_period_ends_today_utc_and_an_end_date_pins_it():
    fresh = GeneratorConfig(days=30)
    pinned = GeneratorConfig(days=30, end_date=date(2024, 1, 30))

    assert fresh.end_date == datetime.now(UTC).date()
    assert (fresh.end_date - fresh.start_date).days == 29
    assert (pinned.start_date, pinned.start_us) == (date(2024, 1, 1), 1_704_067_200_000_000)
