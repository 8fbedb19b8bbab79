"""The simulated B2B SaaS company, one day at a time.

Organizations sign up over the period; their founders invite teammates (some of whom
already belong to another organization and switch between them), create projects and run
builds, look at the plan page and click upgrade, and some upgrade, often paid for by a
`billing` member who does nothing else. Paying organizations may downgrade or cancel.

Everything is drawn from one seeded random generator in a fixed order, so a seed gives the
same world. Each organization's events for a day go to the sink as one time-sorted batch,
and each new user and plan change as it happens; the world keeps only what can still act:
its organizations and their members, in slotted objects.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from typing import Protocol

from pipelines.generate import catalog
from pipelines.generate.config import GeneratorConfig
from pipelines.generate.timestamps import DAY_US, HOUR_US, MINUTE_US, SECOND_US, iso_millis

# Where an event carries its organization (contract §4), as bits.
IN_PROPERTIES = 1  # Segment properties.org_id / Amplitude event_properties.org_id
IN_CONTEXT = 2  # Segment context.groupId / Amplitude groups.org_id
GROUPS_AS_LIST = 4  # Amplitude groups.org_id as a one-element list

WEB_PAGES = (("Projects", "/projects"), ("Builds", "/builds"), ("Settings", "/settings"))
MARKETING_PAGES = (("Home", "/"), ("Pricing", "/pricing"), ("Docs", "/docs"))
MOBILE_SCREENS = ("Builds", "Build Detail", "Organizations")
APP_CATEGORY, MARKETING_CATEGORY = "App", "Marketing"
# Identity links and history, drawn from their own random generator so the world a seed
# made before they existed stays the same.
SECOND_BROWSER_SHARE = 0.25  # users who also browsed from another browser, linked by alias
LEGACY_ID_SHARE = 0.3  # mobile users whose old app build sent their email as the user id
SHARED_DEVICE_USERS = 7  # users who log in on the demo kiosk, more than any one person's
FIRST_NAMES = ("ana", "ben", "chen", "dara", "eli", "fatima", "gus", "hana", "ivan", "jo")
LAST_NAMES = ("ito", "kowalski", "lopez", "mensah", "novak", "okafor", "park", "silva")
ORG_WORDS = ("quiet", "rapid", "blue", "north", "bright", "iron", "paper", "solar")
ORG_NOUNS = ("fox", "labs", "works", "forge", "cloud", "stack", "river", "harbor")
SIGNUP_METHODS = {"github": 5, "google": 3, "email": 2}


@dataclass(slots=True)
class Event:
    """One message as an app sent it; the export writers turn it into their formats."""

    at: int  # the event's time in µs since the epoch, whole milliseconds
    kind: str  # track | page | identify | group | screen | alias
    name: str | None  # the track event name or page/screen name, as sent
    user_id: str | None
    anonymous_id: str | None
    org_id: str | None
    properties: dict  # properties, or traits for identify and group calls
    channel: str  # browser | server | mobile
    message_id: str
    org_placement: int = 0
    session_id: int = -1  # ms since the epoch at the session's start; -1 for none
    previous_id: str | None = None  # alias calls only
    category: str | None = None  # page and screen calls only
    owner_id: int | None = None  # the user the event is truly of (the truth of stitching)


@dataclass(slots=True)
class User:
    id: int
    email: str
    anonymous_id: str
    device_id: str | None  # users of the mobile app only
    engagement: float
    is_billing: bool
    memberships: list[Membership] = field(default_factory=list)
    last_org_id: int | None = None
    choice_day: int = -1
    chosen_org_id: int | None = None
    legacy_until: int = 0  # screens before this carry the email as user id (old app build)

    @property
    def uses_mobile(self) -> bool:
        return self.device_id is not None


@dataclass(slots=True)
class Membership:
    id: int
    user: User
    org_id: int
    role: str
    created_at: int
    deleted_at: int | None = None


@dataclass(slots=True)
class PlanChange:
    id: int
    org_id: int
    changed_at: int
    from_plan_id: str | None
    to_plan_id: str | None
    changed_by_user_id: int
    change_type: str
    by_billing_member: bool


@dataclass(slots=True)
class Pending:
    at: int
    action: str  # join | upgrade | alias
    user: User | None  # the inviter, the clicker, or the user an alias links
    role: str = "member"
    plan_id: str = "team"
    previous_id: str | None = None  # alias only
    channel: str = "server"  # alias only


@dataclass(slots=True)
class Org:
    id: int
    key: str
    name: str
    created_at: int
    language: str
    vcs_provider: str
    team_size: int
    memberships: list[Membership] = field(default_factory=list)
    plan_id: str | None = None
    plan_changes: int = 0
    updated_at: int = 0
    projects: int = 0
    first_upgraded_at: int | None = None
    early_activity: dict[str, int] = field(default_factory=dict)
    pending: list[Pending] = field(default_factory=list)
    vcs_provider_in_production: bool = True  # false: only its group calls name it

    @property
    def domain(self) -> str:
        return f"{self.name.lower().replace(' ', '')}{self.id}.io"


class Sink(Protocol):
    def events(self, batch: list[Event]) -> None: ...

    def plan_change(self, change: PlanChange, org: Org) -> None: ...

    def signed_up(self, user: User, at: int) -> None: ...


class World:
    """The company's customers; `simulate_day` advances them by one day."""

    def __init__(self, config: GeneratorConfig, sink: Sink) -> None:
        self.config = config
        self.sink = sink
        self.rng = random.Random(config.seed)
        self.identity_rng = random.Random(f"{config.seed}:identity")
        self.language_change: dict | None = None
        self.identity_links = {"second_browser_users": 0, "legacy_id_users": 0, "kiosk_users": 0}
        self._end_us = config.start_us + config.days * DAY_US
        self.org_without_vcs_provider: Org | None = None
        self.orgs: list[Org] = []
        self.users: list[User] = []
        self.membership_count = 0
        self.plan_change_count = 0
        self.pre_signup_page_views = 0
        self.users_with_pre_signup_page_views = 0
        self._creation_times = sorted(
            config.start_us + self._day_offset() + self._working_time() for _ in range(config.orgs)
        )

    def simulate_day(self, day: int) -> None:
        day_start = self.config.start_us + day * DAY_US
        day_end = day_start + DAY_US
        while len(self.orgs) < len(self._creation_times):
            created_at = self._creation_times[len(self.orgs)]
            if created_at >= day_end:
                break
            self._create_org(created_at)
        self._anonymous_visitors(day_start)
        for org in self.orgs:
            self._org_day(org, day, day_start)
        if day == self.config.days // 2:
            self._kiosk(day_start)
        if day == self.config.days - 1:
            self._change_a_language(day_start)

    # --- organizations and people -------------------------------------------------------

    def _create_org(self, created_at: int) -> None:
        rng = self.rng
        org_id = len(self.orgs) + 1
        name = f"{rng.choice(ORG_WORDS).title()} {rng.choice(ORG_NOUNS).title()}"
        org = Org(
            id=org_id,
            key=str(org_id),
            name=name,
            created_at=created_at,
            language=_weighted(rng, {k: w for k, (w, _) in catalog.LANGUAGES.items()}),
            vcs_provider=_weighted(rng, catalog.VCS_PROVIDERS),
            team_size=2 + int(rng.expovariate(1 / 4)),
            updated_at=created_at,
        )
        self.orgs.append(org)
        if self.org_without_vcs_provider is None and org_id > 1:
            # Production lost this org's VCS provider; its group calls still carry it.
            org.vcs_provider_in_production = False
            self.org_without_vcs_provider = org
        batch: list[Event] = []
        founder = self._sign_up(batch, created_at, org, role="admin", invited=False)
        at = created_at + 20 * SECOND_US
        properties = {
            "name": org.name,
            "primary_language": org.language,
            "vcs_provider": org.vcs_provider,
        }
        self._track(batch, at, "Organization Created", founder, org, properties, "server")
        self._change_plan(org, at, "free", founder)
        if rng.random() < 0.6:
            self._web_session(batch, org, founder, at + rng.randint(2, 10) * MINUTE_US)
        self._emit(batch)

    def _sign_up(self, batch: list[Event], at: int, org: Org, role: str, invited: bool) -> User:
        """A new user: anonymous visits, identify (stitching them), `User Signed Up`."""
        rng = self.rng
        user_id = len(self.users) + 1
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        domain = "gmail.com" if rng.random() < 0.2 else org.domain
        is_billing = role == "billing"
        anonymous_id = self._uuid()
        device_id = self._uuid().upper()
        engagement = 0.0 if is_billing else rng.betavariate(2, 2.5)
        uses_mobile = not is_billing and rng.random() < 0.3
        rng.gauss(0, 2)  # unused since the first version; still drawn so seeds keep their data
        user = User(
            id=user_id,
            email=f"{first}.{last}.{user_id}@{domain}",
            anonymous_id=anonymous_id,
            device_id=device_id if uses_mobile else None,
            engagement=engagement,
            is_billing=is_billing,
        )
        self.users.append(user)
        self.sink.signed_up(user, at)
        if not is_billing:
            visits = sorted(
                at - rng.randint(120_000, 7_200_000) * 1000 for _ in range(_visits(rng))
            )
            self.pre_signup_page_views += len(visits)
            self.users_with_pre_signup_page_views += bool(visits)
            for visit_at in visits:
                self._marketing_page(batch, visit_at, user.anonymous_id, user)
            self._second_browser(batch, org, user, at)
        traits = {"email": user.email, "name": f"{first.title()} {last.title()}"}
        traits["created_at"] = iso_millis(at)
        self._call(batch, at + 200 * 1000, "identify", None, user, None, traits)
        if rng.random() < 0.1:
            alias = self._call(batch, at + 300 * 1000, "alias", None, user, None, {})
            alias.previous_id = user.anonymous_id
        properties = {"signup_method": _weighted(rng, SIGNUP_METHODS), "invited": invited}
        self._track(batch, at, "User Signed Up", user, org if invited else None, properties)
        self._join(batch, org, user, role, at + (SECOND_US if invited else 20 * SECOND_US))
        return user

    def _join(self, batch: list[Event], org: Org, user: User, role: str, at: int) -> None:
        self.membership_count += 1
        membership = Membership(self.membership_count, user, org.id, role, at)
        org.memberships.append(membership)
        user.memberships.append(membership)
        if not user.is_billing:
            traits = {
                "name": org.name,
                "primary_language": org.language,
                "vcs_provider": org.vcs_provider,
                "plan": org.plan_id,
            }
            self._call(batch, at + SECOND_US, "group", None, user, org, traits)

    def _anonymous_visitors(self, day_start: int) -> None:
        """Visitors who read the marketing site and never sign up."""
        batch: list[Event] = []
        for _ in range(self.rng.randint(0, max(1, 2 * self.config.orgs // self.config.days))):
            anonymous_id = self._uuid()
            at = day_start + self._working_time()
            for _ in range(self.rng.randint(1, 3)):
                at += self.rng.randint(5, 300) * SECOND_US
                self._marketing_page(batch, at, anonymous_id)
        self._emit(batch)

    # --- a day in an organization ----------------------------------------------------------

    def _org_day(self, org: Org, day: int, day_start: int) -> None:
        batch: list[Event] = []
        if org.created_at < day_start:
            self._subscription_day(org, day_start)
            self._sessions(batch, org, day, day_start)
        # After the sessions: they may invite or click upgrade for later today.
        day_end = day_start + DAY_US
        due = sorted((p for p in org.pending if p.at < day_end), key=lambda p: p.at)
        org.pending = [p for p in org.pending if p.at >= day_end]
        for pending in due:
            if pending.action == "join":
                self._accept_invite(batch, org, pending)
            elif pending.action == "alias":
                self._late_alias(batch, pending)
            else:
                self._upgrade(batch, org, pending)
        self._emit(batch)

    def _sessions(self, batch: list[Event], org: Org, day: int, day_start: int) -> None:
        rng = self.rng
        health = self._health(org, day_start)
        weekend = (self.config.start_date.weekday() + day) % 7 >= 5
        for membership in list(org.memberships):
            user = membership.user
            if user.is_billing or membership.deleted_at is not None:
                continue
            if membership.role != "admin" and rng.random() < 0.001:
                membership.deleted_at = day_start + self._working_time()
                continue
            if rng.random() >= user.engagement * health * (0.3 if weekend else 1.0):
                continue
            if self._org_of_the_day(user, day, day_start) != org.id:
                continue
            for _ in range(1 + (rng.random() < 0.5) + (rng.random() < 0.2)):
                start = day_start + self._working_time()
                if user.uses_mobile and rng.random() < 0.3:
                    self._mobile_session(batch, org, user, start)
                else:
                    self._web_session(batch, org, user, start)

    def _health(self, org: Org, day_start: int) -> float:
        if org.plan_id is None:
            return 0.1
        if catalog.PLAN_TIERS[org.plan_id] > 0:
            return 0.9
        age_days = (day_start - org.created_at) / DAY_US
        return 0.3 + 0.7 * math.exp(-age_days / 45)

    def _org_of_the_day(self, user: User, day: int, day_start: int) -> int:
        """Users of several orgs work in one org a day, mostly the last one they used."""
        if user.choice_day == day and user.chosen_org_id is not None:
            return user.chosen_org_id
        candidates = [
            m.org_id
            for m in user.memberships
            if m.deleted_at is None and m.role != "billing" and m.created_at < day_start
        ]
        if not candidates:
            return -1
        if user.last_org_id in candidates and self.rng.random() < 0.7:
            chosen = user.last_org_id
        else:
            chosen = self.rng.choice(candidates)
        user.choice_day, user.chosen_org_id = day, chosen
        return chosen

    def _web_session(self, batch: list[Event], org: Org, user: User, start: int) -> None:
        rng = self.rng
        session_id = start // 1000
        clock = _Clock(rng, start)
        if rng.random() < 0.35:
            self._track(batch, clock.now, "User Logged In", user, None, {}, session=session_id)
        self._switch_org(batch, org, user, clock.tick(2, 20), session_id)
        if rng.random() < 0.1:
            traits = {"email": user.email}
            self._call(batch, clock.tick(1, 5), "identify", None, user, None, traits)
        if rng.random() < 0.45:
            self._track(
                batch, clock.tick(1, 30), "Dashboard Viewed", user, None, {}, session=session_id
            )
        page_name, path = rng.choice(WEB_PAGES)
        page = {"path": path, "title": page_name, "url": f"https://app.example.com{path}"}
        page = {"name": page_name, "category": APP_CATEGORY, **page}
        viewed = self._call(
            batch, clock.tick(2, 30), "page", page_name, user, org, page, session_id
        )
        viewed.category = APP_CATEGORY
        age_days = (start - org.created_at) / DAY_US
        if org.projects == 0 or rng.random() < (0.25 if age_days < 7 else 0.04):
            org.projects += 1
            properties = {"project_id": f"{org.id}-{org.projects}", "language": org.language}
            self._track(
                batch,
                clock.tick(10, 300),
                "Project Created",
                user,
                org,
                properties,
                session=session_id,
            )
        self._builds(batch, org, user, clock)
        if _is_free(org):
            self._consider_upgrade(batch, org, user, clock, session_id, mobile=False)
        if len(org.memberships) < org.team_size and rng.random() < 0.3:
            self._invite(batch, org, user, clock.tick(10, 120), session_id)

    def _mobile_session(self, batch: list[Event], org: Org, user: User, start: int) -> None:
        """The mobile app tracks through Amplitude's SDK (and screens through Segment)."""
        rng = self.rng
        session_id = start // 1000
        clock = _Clock(rng, start)
        if rng.random() < 0.3:
            self._track(batch, clock.now, "User Logged In", user, None, {}, "mobile", session_id)
        self._switch_org(batch, org, user, clock.tick(1, 10), session_id, "mobile")
        if rng.random() < 0.7:
            self._track(
                batch, clock.tick(1, 20), "Dashboard Viewed", user, None, {}, "mobile", session_id
            )
        screen = rng.choice(MOBILE_SCREENS)
        at = clock.tick(2, 40)
        viewed = self._call(batch, at, "screen", screen, user, org, {}, session_id, "mobile")
        viewed.category = APP_CATEGORY
        self._legacy_user_id(org, user, viewed)
        if rng.random() < 0.4:
            self._builds(batch, org, user, clock, count=1)
        if _is_free(org):
            self._consider_upgrade(batch, org, user, clock, session_id, mobile=True)

    def _switch_org(
        self,
        batch: list[Event],
        org: Org,
        user: User,
        at: int,
        session: int,
        channel: str = "browser",
    ) -> None:
        if user.last_org_id is not None and user.last_org_id != org.id:
            properties = {"previous_org_id": str(user.last_org_id)}
            self._track(batch, at, "Organization Switched", user, org, properties, channel, session)
        user.last_org_id = org.id

    def _builds(
        self, batch: list[Event], org: Org, user: User, clock: _Clock, count: int | None = None
    ) -> None:
        """Builds start on the server, or from the mobile app's re-run button (`count`)."""
        rng = self.rng
        if org.projects == 0:
            return
        started_channel = "server" if count is None else "mobile"
        if count is None:
            count = int(rng.random() * 12 * user.engagement) + 1
        for _ in range(count):
            build = {
                "project_id": f"{org.id}-{rng.randint(1, org.projects)}",
                "build_id": self._uuid()[:13],
            }
            started_at = clock.tick(30, 900)
            self._track(batch, started_at, "Build Started", user, org, build, started_channel)
            duration = rng.randint(40, 900)
            outcome = "Build Succeeded" if rng.random() < 0.8 else "Build Failed"
            finished = {**build, "duration_seconds": duration}
            at = started_at + duration * SECOND_US
            self._track(batch, at, outcome, user, org, finished, "server")
            if outcome == "Build Succeeded":
                self._note_early_activity(org, outcome, at)

    def _consider_upgrade(
        self, batch: list[Event], org: Org, user: User, clock: _Clock, session: int, mobile: bool
    ) -> None:
        """Plan page, upgrade click (mostly under legacy names), sometimes an upgrade."""
        rng = self.rng
        if org.pending and any(p.action == "upgrade" for p in org.pending):
            return
        propensity = self._upgrade_propensity(org)
        if rng.random() >= 0.04 * propensity * (0.5 if mobile else 1.0):
            return
        channel = "mobile" if mobile else "browser"
        properties = {"current_plan_id": org.plan_id}
        viewed_at = clock.tick(5, 60)
        self._track(batch, viewed_at, "Plan Page Viewed", user, org, properties, channel, session)
        if rng.random() >= 0.55:
            return
        if mobile:
            name = catalog.MOBILE_UPGRADE_CLICK_NAME
        else:
            name = _weighted(rng, catalog.WEB_UPGRADE_CLICK_NAMES)
        plan_id = "business" if rng.random() < 0.25 else "team"
        clicked_at = clock.tick(3, 120)
        self._track(batch, clicked_at, name, user, org, {"plan_id": plan_id}, channel, session)
        if rng.random() < min(0.9, 0.3 * propensity):
            upgrade_day = clicked_at - clicked_at % DAY_US + rng.choice((0, 0, 1, 2, 3)) * DAY_US
            at = max(upgrade_day + self._working_time(), clicked_at + 10 * MINUTE_US)
            org.pending.append(Pending(at, "upgrade", user, plan_id=plan_id))

    def _upgrade_propensity(self, org: Org) -> float:
        propensity = catalog.LANGUAGES[org.language][1]
        for event, rule in catalog.LEADING_INDICATORS.items():
            if org.early_activity.get(event, 0) >= rule["at_least"]:
                propensity *= rule["upgrade_multiplier"]
        return propensity

    def _upgrade(self, batch: list[Event], org: Org, pending: Pending) -> None:
        """Often a `billing` member, invited for it, pays and does nothing else."""
        if org.plan_id is None or catalog.PLAN_TIERS[org.plan_id] > 0:
            return
        assert pending.user is not None
        payer = self._billing_member(org) or pending.user
        if payer is pending.user and self.rng.random() < 0.6:
            invited_at = pending.at - self.rng.randint(45, 90) * MINUTE_US
            self._track(
                batch, invited_at, "Teammate Invited", pending.user, org, {"role": "billing"}
            )
            signed_up_at = pending.at - self.rng.randint(5, 40) * MINUTE_US
            payer = self._sign_up(batch, signed_up_at, org, role="billing", invited=True)
        self._change_plan(org, pending.at, pending.plan_id, payer)

    def _billing_member(self, org: Org) -> User | None:
        for membership in org.memberships:
            if membership.role == "billing" and membership.deleted_at is None:
                return membership.user
        return None

    def _subscription_day(self, org: Org, day_start: int) -> None:
        """Paying orgs sometimes downgrade or cancel; cancelled ones sometimes come back."""
        rng = self.rng
        draw = rng.random()
        at = day_start + self._working_time()
        actor = self._billing_member(org) or org.memberships[0].user
        if org.plan_id is None:
            if draw < 0.02:
                self._change_plan(org, at, "free", actor)
        elif catalog.PLAN_TIERS[org.plan_id] > 0:
            if draw < 0.004:
                self._change_plan(org, at, "team" if org.plan_id == "business" else "free", actor)
            elif draw < 0.008:
                self._change_plan(org, at, None, actor)

    def _invite(self, batch: list[Event], org: Org, inviter: User, at: int, session: int) -> None:
        role = "admin" if self.rng.random() < 0.15 else "member"
        self._track(batch, at, "Teammate Invited", inviter, org, {"role": role}, session=session)
        self._note_early_activity(org, "Teammate Invited", at)
        if self.rng.random() < 0.75:
            # Invitees accept during their own working hours, the same day or up to 2 days on.
            accept_day = at - at % DAY_US + self.rng.choice((0, 0, 1, 2)) * DAY_US
            accepted_at = max(accept_day + self._working_time(), at + 30 * MINUTE_US)
            org.pending.append(Pending(accepted_at, "join", inviter, role=role))

    def _accept_invite(self, batch: list[Event], org: Org, pending: Pending) -> None:
        """Some invitees already use the product in another organization."""
        existing = self._existing_user_for(org) if self.rng.random() < 0.2 else None
        if existing is None:
            self._sign_up(batch, pending.at, org, pending.role, invited=True)
        else:
            self._join(batch, org, existing, pending.role, pending.at)

    def _existing_user_for(self, org: Org) -> User | None:
        for _ in range(3):
            user = self.rng.choice(self.users)
            if not user.is_billing and all(m.org_id != org.id for m in user.memberships):
                return user
        return None

    def _note_early_activity(self, org: Org, event: str, at: int) -> None:
        early = at < org.created_at + catalog.LEADING_INDICATOR_DAYS * DAY_US
        if early and org.first_upgraded_at is None:
            org.early_activity[event] = org.early_activity.get(event, 0) + 1

    def _change_plan(self, org: Org, at: int, to_plan_id: str | None, by: User) -> None:
        from_plan_id = org.plan_id
        if to_plan_id is None:
            change_type = "cancel"
        elif from_plan_id is None:
            change_type = "reactivate" if org.plan_changes else "new"
        elif catalog.PLAN_TIERS[to_plan_id] > catalog.PLAN_TIERS[from_plan_id]:
            change_type = "upgrade"
        else:
            change_type = "downgrade"
        self.plan_change_count += 1
        change = PlanChange(
            self.plan_change_count,
            org.id,
            at,
            from_plan_id,
            to_plan_id,
            by.id,
            change_type,
            by.is_billing,
        )
        org.plan_id, org.updated_at = to_plan_id, at
        org.plan_changes += 1
        if change_type == "upgrade" and org.first_upgraded_at is None:
            org.first_upgraded_at = at
        self.sink.plan_change(change, org)

    # --- identity links and history ---------------------------------------------------------

    def _second_browser(self, batch: list[Event], org: Org, user: User, signed_up_at: int) -> None:
        """Some users read the docs from another browser before signing up; when they
        confirm their email days later, the server links that browser with an alias."""
        rng = self.identity_rng
        if user.is_billing or rng.random() >= SECOND_BROWSER_SHARE:
            return
        if signed_up_at + 5 * DAY_US >= self._end_us:
            return  # the alias would come after the data set ends
        browser_id = random_uuid(rng)
        at = signed_up_at - between(rng, 600, 5_400) * 1000 * 1000
        for _ in range(between(rng, 1, 2)):
            at += between(rng, 10, 300) * SECOND_US
            self._marketing_page(batch, at, browser_id, user, rng)
        self.identity_links["second_browser_users"] += 1
        linked_at = signed_up_at + between(rng, 1, 4) * DAY_US + between(rng, 0, 600) * SECOND_US
        org.pending.append(Pending(linked_at, "alias", user, previous_id=browser_id))

    def _late_alias(self, batch: list[Event], pending: Pending) -> None:
        assert pending.user is not None
        channel = pending.channel
        alias = self._call(
            batch,
            pending.at,
            "alias",
            None,
            pending.user,
            None,
            {},
            channel=channel,
            rng=self.identity_rng,
        )
        alias.previous_id = pending.previous_id

    def _legacy_user_id(self, org: Org, user: User, screen: Event) -> None:
        """An old build of the mobile app sent the user's email as the user id; the build
        that fixed it, days later, aliases the email to the real id."""
        if user.legacy_until == 0:
            rng = self.identity_rng
            fixed_at = screen.at + between(rng, 1, 10) * DAY_US
            if rng.random() < LEGACY_ID_SHARE and fixed_at + DAY_US < self._end_us:
                user.legacy_until = fixed_at
                self.identity_links["legacy_id_users"] += 1
                org.pending.append(
                    Pending(fixed_at, "alias", user, previous_id=user.email, channel="mobile")
                )
            else:
                user.legacy_until = -1
        if screen.at < user.legacy_until:
            screen.user_id = user.email

    def _kiosk(self, day_start: int) -> None:
        """A demo kiosk at a meetup: visitors browse anonymously and several users log in on
        the same browser, more than analytics__max_users_per_device, so it is never merged."""
        rng = self.identity_rng
        candidates = [user for user in self.users if not user.is_billing]
        if len(candidates) < SHARED_DEVICE_USERS:
            return
        kiosk_id = random_uuid(rng)
        self.identity_links["kiosk_users"] = SHARED_DEVICE_USERS
        batch: list[Event] = []
        at = day_start + 10 * HOUR_US
        for user in rng.sample(candidates, SHARED_DEVICE_USERS):
            at += between(rng, 60, 600) * SECOND_US
            self._marketing_page(batch, at, kiosk_id, None, rng)
            at += between(rng, 5, 60) * SECOND_US
            identify = self._call(
                batch, at, "identify", None, user, None, {"email": user.email}, rng=rng
            )
            identify.anonymous_id = kiosk_id
            at += between(rng, 5, 60) * SECOND_US
            page = {"name": "Projects", "category": APP_CATEGORY, "path": "/projects"}
            viewed = self._call(batch, at, "page", "Projects", user, None, page, rng=rng)
            viewed.anonymous_id, viewed.category = kiosk_id, APP_CATEGORY
        self._emit(batch)

    def _change_a_language(self, day_start: int) -> None:
        """On the last day an early org changes its primary language: production's row
        changes, so only a history kept by the warehouse knows the old value."""
        rng = self.identity_rng
        early = [
            org
            for org in self.orgs[: max(1, len(self.orgs) // 2)]
            if org.first_upgraded_at is None and org is not self.org_without_vcs_provider
        ]
        if not early:
            return
        org = rng.choice(early)
        old = org.language
        org.language = rng.choice(sorted(set(catalog.LANGUAGES) - {old}))
        changed_at = max(org.updated_at, day_start + self._working_time_from(rng)) + 1000
        self.language_change = {
            "org_id": org.key,
            "from": old,
            "to": org.language,
            "changed_at": changed_at,
            "updated_at_before": org.updated_at,
        }
        org.updated_at = changed_at
        admin = next((m.user for m in org.memberships if not m.user.is_billing), None)
        if admin is not None:
            batch: list[Event] = []
            traits = {"name": org.name, "primary_language": org.language}
            self._call(batch, changed_at + SECOND_US, "group", None, admin, org, traits, rng=rng)
            self._emit(batch)

    @staticmethod
    def _working_time_from(rng: random.Random) -> int:
        return 7 * HOUR_US + rng.randrange(14 * 3_600_000) * 1000

    # --- messages ---------------------------------------------------------------------------

    def _track(
        self,
        batch: list[Event],
        at: int,
        name: str,
        user: User,
        org: Org | None,
        properties: dict,
        channel: str = "browser",
        session: int = -1,
    ) -> Event:
        placement = self._placement(channel) if org else 0
        if placement & IN_PROPERTIES:
            properties = {"org_id": org.key, **properties}  # type: ignore[union-attr]
        event = Event(
            at=at,
            kind="track",
            name=name,
            user_id=str(user.id),
            anonymous_id=self._anonymous_id(user, channel),
            org_id=org.key if org else None,
            properties=properties,
            channel=channel,
            message_id=self._uuid(),
            org_placement=placement,
            session_id=session,
            owner_id=user.id,
        )
        batch.append(event)
        return event

    def _call(
        self,
        batch: list[Event],
        at: int,
        kind: str,
        name: str | None,
        user: User,
        org: Org | None,
        properties: dict,
        session: int = -1,
        channel: str = "browser",
        rng: random.Random | None = None,
    ) -> Event:
        """identify, page, group, screen and alias calls (no track)."""
        event = Event(
            at=at,
            kind=kind,
            name=name,
            user_id=str(user.id),
            anonymous_id=self._anonymous_id(user, channel),
            org_id=org.key if org else None,
            properties=properties,
            channel=channel,
            message_id=self._uuid(rng),
            org_placement=IN_CONTEXT if org else 0,
            session_id=session,
            owner_id=user.id,
        )
        batch.append(event)
        return event

    def _marketing_page(
        self,
        batch: list[Event],
        at: int,
        anonymous_id: str,
        owner: User | None = None,
        rng: random.Random | None = None,
    ) -> None:
        name, path = (rng or self.rng).choice(MARKETING_PAGES)
        properties = {"name": name, "category": MARKETING_CATEGORY, "path": path, "title": name}
        properties["url"] = f"https://www.example.com{path}"
        event = Event(
            at, "page", name, None, anonymous_id, None, properties, "browser", self._uuid(rng)
        )
        event.category = MARKETING_CATEGORY
        event.owner_id = owner.id if owner else None
        batch.append(event)

    def _placement(self, channel: str) -> int:
        draw = self.rng.random()
        if channel == "server":
            return IN_PROPERTIES
        if channel == "mobile":
            if draw < 0.3:
                return IN_CONTEXT | GROUPS_AS_LIST
            if draw < 0.6:
                return IN_CONTEXT
            return IN_CONTEXT | IN_PROPERTIES if draw < 0.85 else IN_PROPERTIES
        if draw < 0.45:
            return IN_PROPERTIES | IN_CONTEXT
        return IN_PROPERTIES if draw < 0.8 else IN_CONTEXT

    @staticmethod
    def _anonymous_id(user: User, channel: str) -> str | None:
        if channel == "server":
            return None
        return user.device_id if channel == "mobile" else user.anonymous_id

    def _emit(self, batch: list[Event]) -> None:
        if batch:
            batch.sort(key=lambda event: event.at)
            self.sink.events(batch)

    def _uuid(self, rng: random.Random | None = None) -> str:
        return random_uuid(rng or self.rng)

    def _working_time(self) -> int:
        """A time of day between 07:00 and 21:00, in whole milliseconds."""
        return 7 * HOUR_US + self.rng.randrange(14 * 3_600_000) * 1000

    def _day_offset(self) -> int:
        return self.rng.randrange(self.config.days) * DAY_US


class _Clock:
    """Time moving forward through a session, in whole milliseconds."""

    def __init__(self, rng: random.Random, start: int) -> None:
        self.rng = rng
        self.now = start

    def tick(self, low_seconds: int, high_seconds: int) -> int:
        self.now += between(self.rng, low_seconds * 1000, high_seconds * 1000) * 1000
        return self.now


def _weighted(rng: random.Random, weights: dict[str, int]) -> str:
    return rng.choices(list(weights), weights=list(weights.values()))[0]


def between(rng: random.Random, low: int, high: int) -> int:
    """`rng.randint(low, high)`, several times faster (it is called for every message)."""
    return low + int(rng.random() * (high - low + 1))


def random_uuid(rng: random.Random) -> str:
    """A version-4 UUID from `rng` (faster than building `uuid.UUID` objects)."""
    text = f"{rng.getrandbits(128):032x}"
    variant = "89ab"[int(text[16], 16) & 3]
    return f"{text[:8]}-{text[8:12]}-4{text[13:16]}-{variant}{text[17:20]}-{text[20:]}"


def _is_free(org: Org) -> bool:
    return org.plan_id is not None and catalog.PLAN_TIERS[org.plan_id] == 0


def _visits(rng: random.Random) -> int:
    return rng.choice((0, 1, 1, 2, 3, 4))
