"""`analytics generate`: simulate the company day by day and stream every export to disk.

Each organization's day goes straight to the export writers, each new user and plan change
straight to the production tables' files. What stays in memory is the world that can still
act (organizations and their members, in slotted objects), the truth counters and the
funnel events inside open windows: memory grows with the number of organizations and
users, at a few hundred bytes each, not with the number of events.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from pipelines.generate.amplitude_export import AmplitudeExport
from pipelines.generate.config import GeneratorConfig
from pipelines.generate.production import ProductionRows, prepare_database, write_production
from pipelines.generate.segment_export import SegmentExport
from pipelines.generate.simulation import Event, Org, PlanChange, User, World
from pipelines.generate.timestamps import DAY_US, day_number
from pipelines.generate.truth import SIGNUP, Truth
from pipelines.warehouse import Connection

OUTPUTS = ("segment-logs", "amplitude", "truth.json")
PILOT_ORGS = 40

DayDone = Callable[[int, int], None]  # (days done, messages so far)


def generate(
    out: Path,
    config: GeneratorConfig,
    production: Connection | None = None,
    on_day: DayDone | None = None,
) -> dict:
    """Write the Segment export, the Amplitude archives, `truth.json` and (given a
    connection) the production tables; return the truth manifest."""
    if production is not None:
        prepare_database(production)  # fail before the long run, not after it
    out.mkdir(parents=True, exist_ok=True)
    for name in OUTPUTS:
        path = out / name
        if path.is_dir():
            shutil.rmtree(path)
        path.unlink(missing_ok=True)
    with tempfile.TemporaryDirectory(prefix="analytics-generate-") as scratch_name:
        scratch = Path(scratch_name)  # files that wait for the end of the run or a later day
        rows = ProductionRows(scratch) if production is not None else None
        segment = SegmentExport(out, config, scratch)
        amplitude = AmplitudeExport(out, config, scratch)
        truth = Truth(config)
        world = World(config, _Router(config, segment, amplitude, truth, rows))
        first_day = day_number(config.start_us)
        for day in range(config.days):
            segment.start_day(first_day + day)
            amplitude.start_day(first_day + day)
            world.simulate_day(day)
            segment.end_day()
            amplitude.end_day()
            truth.end_day(config.start_us + (day + 1) * DAY_US)
            if on_day is not None:
                on_day(day + 1, truth.messages)
        segment.close()
        amplitude.close()
        if production is not None and rows is not None:
            rows.finish(world)
            write_production(rows, production)
    manifest = truth.manifest(world, {"segment": segment.counts, "amplitude": amplitude.counts})
    (out / "truth.json").write_text(json.dumps(manifest, indent=2) + "\n")
    return manifest


def orgs_for_events(events: int, config: GeneratorConfig) -> int:
    """How many organizations make about `events` messages over the configured days,
    measured on a small pilot world with the same seed."""
    counter = _MessageCounter()
    pilot = World(replace(config, orgs=PILOT_ORGS), counter)
    for day in range(config.days):
        pilot.simulate_day(day)
    per_org = max(counter.messages, 1) / PILOT_ORGS
    return max(1, round(events / per_org))


class _Router:
    """Sends each message to the exports that receive it, and records it in the truth.

    The web app's messages go to Segment, which forwards its track and page calls to
    Amplitude; the mobile app tracks through Amplitude only, its screen calls go to Segment,
    which forwards them too.
    """

    def __init__(
        self,
        config: GeneratorConfig,
        segment: SegmentExport,
        amplitude: AmplitudeExport,
        truth: Truth,
        production: ProductionRows | None,
    ) -> None:
        self.segment = segment
        self.amplitude = amplitude
        self.truth = truth
        self.production = production
        self._drop_share = config.signup_drop
        self._drop_source = config.signup_drop_source
        first_day = day_number(config.start_us)
        self._drop_days = {first_day + day for day in config.signup_drop_days}
        self._drop_balance: dict[int, float] = {}

    def events(self, batch: list[Event]) -> None:
        for event in batch:
            self.truth.messages += 1
            if event.channel == "mobile" and event.kind == "track":
                self.amplitude.write_mobile(event)
                self.truth.record_track(event, in_segment=False, in_amplitude=True)
                continue
            dropped = event.kind == "track" and event.name == SIGNUP and self._drops(event)
            in_segment = not (dropped and self._drop_source == "segment")
            in_amplitude = not (dropped and self._drop_source == "amplitude")
            received_at = self.segment.write(event, keep=in_segment)
            if in_segment:
                self.truth.record_segment_message(event)
            if event.kind == "track":
                self.amplitude.write_forwarded(event, received_at, keep=in_amplitude)
                self.truth.record_track(event, in_segment, in_amplitude)
            elif event.kind in ("page", "screen"):
                self.amplitude.write_forwarded_view(event, received_at)
                self.truth.record_view(event)

    def plan_change(self, change: PlanChange, org: Org) -> None:
        self.truth.record_plan_change(change, org)
        if self.production is not None:
            self.production.add_plan_change(change)

    def signed_up(self, user: User, at: int) -> None:
        self.truth.record_signup(at)
        if self.production is not None:
            self.production.add_user(user, at)

    def _drops(self, event: Event) -> bool:
        """Of the n signups on a day in the stretch, drop ceil(n x share): the first of the
        day, then one whenever the running share reaches a whole signup."""
        day = day_number(event.at)
        if self._drop_share == 0 or day not in self._drop_days:
            return False
        balance = self._drop_balance.get(day, 1 - 1e-9) + self._drop_share
        dropped = balance >= 1
        self._drop_balance[day] = balance - 1 if dropped else balance
        return dropped


class _MessageCounter:
    def __init__(self) -> None:
        self.messages = 0

    def events(self, batch: list[Event]) -> None:
        self.messages += len(batch)

    def plan_change(self, change: PlanChange, org: Org) -> None:
        """Plan changes are not messages."""

    def signed_up(self, user: User, at: int) -> None:
        """Nor are signups (their events come through `events`)."""
