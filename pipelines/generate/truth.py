"""The ground-truth manifest (`truth.json`), counted from the generator's own records.

Never computed from the warehouse: integration tests compare the marts against it. Events
are counted once each (one logical event may sit in both exports), by canonical name, per
source after deduplication, and including the events derived from plan changes.
"""

from __future__ import annotations

from collections import Counter, defaultdict

from pipelines.generate import catalog
from pipelines.generate.amplitude_export import forwarded_view_name
from pipelines.generate.config import GeneratorConfig
from pipelines.generate.funnels import SETTLE_DELAY, FunnelRecorder
from pipelines.generate.simulation import Event, Org, PlanChange, World
from pipelines.generate.timestamps import (
    DAY_US,
    MINUTE_US,
    amplitude_time,
    day_number,
    day_text,
    iso_millis,
)

SIGNUP = "User Signed Up"
VIEW_EVENTS = {"page": "Page Viewed", "screen": "Screen Viewed"}
SESSION_INACTIVITY = 30 * MINUTE_US  # dbt's default analytics__session_inactivity_minutes


class SessionCounter:
    """Sessions as fct_sessions makes them: an event with an Amplitude `session_id` belongs
    to that session of its device; every other tracked event to a session of its true user
    (or of its device while anonymous) that ends after 30 minutes without an event.

    Amplitude sessions are counted per day of their start, gap sessions once their events
    can no longer be joined by a later one (two days on), so memory holds only open days."""

    def __init__(self) -> None:
        self.amplitude = 0
        self.segment = 0
        self._amplitude_by_day: defaultdict[int, set[tuple[str | None, int]]] = defaultdict(set)
        self._pending: defaultdict[int | str, list[int]] = defaultdict(list)
        self._last: dict[int | str, int] = {}

    def add(self, event: Event, has_amplitude_copy: bool) -> None:
        if has_amplitude_copy and event.session_id != -1:
            day = event.session_id * 1000 // DAY_US
            self._amplitude_by_day[day].add((event.anonymous_id, event.session_id))
        else:
            owner = event.owner_id if event.owner_id is not None else f"~{event.anonymous_id}"
            self._pending[owner].append(event.at)

    def end_day(self, day_end: int) -> None:
        settled_before = day_end - SETTLE_DELAY
        for day in [day for day in self._amplitude_by_day if day * DAY_US < settled_before]:
            self.amplitude += len(self._amplitude_by_day.pop(day))
        for owner in list(self._pending):
            times = sorted(self._pending[owner])
            due = [at for at in times if at < settled_before]
            if not due:
                continue
            last = self._last.get(owner)
            for at in due:
                if last is None or at - last > SESSION_INACTIVITY:
                    self.segment += 1
                last = at
            self._last[owner] = last  # type: ignore[assignment]
            rest = times[len(due) :]
            if rest:
                self._pending[owner] = rest
            else:
                del self._pending[owner]


class Truth:
    def __init__(self, config: GeneratorConfig) -> None:
        self.config = config
        self.messages = 0
        self.events: dict[str, Counter[str]] = {
            source: Counter() for source in ("all", "segment", "amplitude", "production")
        }
        self.source_names: dict[str, Counter[str]] = {
            "segment": Counter(),
            "amplitude": Counter(),
        }
        self.segment_messages: Counter[str] = Counter()
        self.signups: dict[str, Counter[int]] = {
            source: Counter() for source in ("segment", "amplitude", "any")
        }
        self.expected_signups: Counter[int] = Counter()
        self.plan_changes: Counter[str] = Counter()
        self.upgrades_paid_by_billing_members = 0
        self.upgraded_orgs: defaultdict[str, defaultdict[str, set[int]]] = defaultdict(
            lambda: defaultdict(set)
        )
        self.funnels = [FunnelRecorder(funnel) for funnel in catalog.DEFAULT_FUNNELS]
        self.events_by_user: Counter[int] = Counter()
        self.anonymous_events = 0
        self.sessions = SessionCounter()

    def record_segment_message(self, event: Event) -> None:
        self.segment_messages[event.kind] += 1

    def record_track(self, event: Event, in_segment: bool, in_amplitude: bool) -> None:
        assert event.name is not None
        name = catalog.canonical_name(event.name)
        self.events["all"][name] += 1
        for source, present in (("segment", in_segment), ("amplitude", in_amplitude)):
            if present:
                self.events[source][name] += 1
                self.source_names[source][event.name] += 1
        if name == SIGNUP:
            day = day_number(event.at)
            self.signups["segment"][day] += in_segment
            self.signups["amplitude"][day] += in_amplitude
            self.signups["any"][day] += in_segment or in_amplitude
        self._stitched(event, in_amplitude)
        self._funnel_event(event.at, name, event.owner_id, event.org_id)

    def record_view(self, event: Event) -> None:
        """A page or screen call, in Segment and forwarded to Amplitude."""
        name = VIEW_EVENTS[event.kind]
        for source in ("all", "segment", "amplitude"):
            self.events[source][name] += 1
        self.source_names["segment"][name] += 1
        self.source_names["amplitude"][forwarded_view_name(event)] += 1
        self._stitched(event, has_amplitude_copy=True)

    def _stitched(self, event: Event, has_amplitude_copy: bool) -> None:
        if event.owner_id is None:
            self.anonymous_events += 1
        else:
            self.events_by_user[event.owner_id] += 1
        self.sessions.add(event, has_amplitude_copy)

    def record_signup(self, at: int) -> None:
        self.expected_signups[day_number(at)] += 1

    def record_plan_change(self, change: PlanChange, org: Org) -> None:
        self.plan_changes[change.change_type] += 1
        if change.change_type == "upgrade" and change.by_billing_member:
            self.upgrades_paid_by_billing_members += 1
        name = catalog.DERIVED_EVENT_BY_CHANGE_TYPE.get(change.change_type)
        if name is not None:
            self.events["all"][name] += 1
            self.events["production"][name] += 1
            self.events_by_user[change.changed_by_user_id] += 1
            self._funnel_event(change.changed_at, name, change.changed_by_user_id, org.id)
        if change.change_type == "upgrade":
            month = iso_millis(change.changed_at)[:7]
            self.upgraded_orgs[month][org.language].add(org.id)

    def _funnel_event(
        self, at: int, name: str, user_id: str | int | None, org_id: str | int | None
    ) -> None:
        """Funnel entities are the ids as numbers: 28 bytes each where text takes 50."""
        for recorder in self.funnels:
            if recorder.wants(name):
                entity = user_id if recorder.funnel.entity == "user" else org_id
                if entity is not None:
                    recorder.add(int(entity), at, name)

    def end_day(self, day_end: int) -> None:
        for recorder in self.funnels:
            recorder.end_day(day_end)
        self.sessions.end_day(day_end)

    def manifest(self, world: World, input_lines: dict[str, dict[str, int]]) -> dict:
        config = self.config
        self.sessions.end_day(1 << 62)
        return {
            "seed": config.seed,
            "orgs": config.orgs,
            "days": config.days,
            "start_date": config.start_date.isoformat(),
            "end_date": config.end_date.isoformat(),
            "messages_generated": self.messages,
            "events_by_canonical_name": {
                source: dict(sorted(counts.items())) for source, counts in self.events.items()
            },
            "events_by_source_name": {
                source: dict(sorted(counts.items())) for source, counts in self.source_names.items()
            },
            "segment_messages_by_type": dict(sorted(self.segment_messages.items())),
            "users": len(world.users),
            "organizations": len(world.orgs),
            "memberships": world.membership_count,
            "multi_org_users": sum(len(user.memberships) > 1 for user in world.users),
            "identity": {
                "users_with_pre_signup_page_views": world.users_with_pre_signup_page_views,
                "pre_signup_page_views": world.pre_signup_page_views,
                "stitched_events_by_user": {
                    str(user): events for user, events in sorted(self.events_by_user.items())
                },
                "anonymous_events": self.anonymous_events,
                **world.identity_links,
            },
            "sessions": {"amplitude": self.sessions.amplitude, "segment": self.sessions.segment},
            "history": _history(world),
            "plan_changes_by_type": {
                change_type: self.plan_changes[change_type] for change_type in catalog.CHANGE_TYPES
            },
            "upgrades_paid_by_billing_members": self.upgrades_paid_by_billing_members,
            "funnels": {
                recorder.funnel.name: {
                    "entity": recorder.funnel.entity,
                    "window_days": recorder.funnel.window_days,
                    "steps": list(recorder.funnel.steps),
                    "entities_by_furthest_step": recorder.entities_by_furthest_step(),
                }
                for recorder in self.funnels
            },
            "org_upgrade_entities_by_language_at_entry": _languages_at_creation(world),
            "upgrades_by_month_and_language": {
                month: {language: len(orgs) for language, orgs in sorted(languages.items())}
                for month, languages in sorted(self.upgraded_orgs.items())
            },
            "signup_completeness": self._signup_completeness(),
            "signup_drop": {
                "source": config.signup_drop_source,
                "share": config.signup_drop,
                "days": [
                    day_text(day)
                    for day in sorted(self.signups["any"])
                    if self.signups[config.signup_drop_source][day] < self.signups["any"][day]
                ],
            },
            "input_lines": input_lines,
            "leading_indicators": _leading_indicators(world),
        }

    def _signup_completeness(self) -> list[dict]:
        days = sorted(set(self.expected_signups) | set(self.signups["any"]))
        return [
            {
                "day": day_text(day),
                "source": source,
                "expected": self.expected_signups[day],
                "observed": self.signups[source][day],
            }
            for day in days
            for source in ("segment", "amplitude", "any")
        ]


def _history(world: World) -> dict:
    """The planted change of an org's language (production keeps only the new value) and
    the org whose VCS provider only its group calls know."""
    change = world.language_change
    missing = world.org_without_vcs_provider
    return {
        "language_change": None
        if change is None
        else {
            **change,
            "changed_at": amplitude_time(change["changed_at"]) + "+00",
            "updated_at_before": amplitude_time(change["updated_at_before"]) + "+00",
        },
        "vcs_provider_from_group_traits": {}
        if missing is None
        else {missing.key: missing.vcs_provider},
    }


def _languages_at_creation(world: World) -> dict[str, int]:
    """Every org enters the org_upgrade funnel when it is created, with the language it had."""
    languages = Counter(org.language for org in world.orgs)
    change = world.language_change
    if change is not None:
        languages[change["to"]] -= 1
        languages[change["from"]] += 1
    return dict(sorted((language, n) for language, n in languages.items() if n))


def _leading_indicators(world: World) -> dict:
    """The planted predictors and the upgrade rates they produced."""
    result = {}
    for event, rule in catalog.LEADING_INDICATORS.items():
        did: list[Org] = []
        did_not: list[Org] = []
        for org in world.orgs:
            early = org.early_activity.get(event, 0) >= rule["at_least"]
            (did if early else did_not).append(org)
        result[event] = {
            "within_days": catalog.LEADING_INDICATOR_DAYS,
            "at_least": rule["at_least"],
            "planted_upgrade_multiplier": rule["upgrade_multiplier"],
            "orgs_with": len(did),
            "upgrade_rate_with": _upgrade_rate(did),
            "orgs_without": len(did_not),
            "upgrade_rate_without": _upgrade_rate(did_not),
        }
    return result


def _upgrade_rate(orgs: list[Org]) -> float | None:
    if not orgs:
        return None
    return round(sum(org.first_upgraded_at is not None for org in orgs) / len(orgs), 4)
