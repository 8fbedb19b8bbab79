"""The ground-truth manifest (`truth.json`), counted from the generator's own records.

Never computed from the warehouse: integration tests compare the marts against it. Events
are counted once each (one logical event may sit in both exports), by canonical name, per
source after deduplication, and including the events derived from plan changes.
"""

from __future__ import annotations

from collections import Counter, defaultdict

from pipelines.generate import catalog
from pipelines.generate.config import GeneratorConfig
from pipelines.generate.funnels import FunnelRecorder
from pipelines.generate.simulation import Event, Org, PlanChange, World
from pipelines.generate.timestamps import day_number, day_text, iso_millis

SIGNUP = "User Signed Up"


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
        self._funnel_event(event.at, name, event.user_id, event.org_id)

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

    def manifest(self, world: World, input_lines: dict[str, dict[str, int]]) -> dict:
        config = self.config
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
            },
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
