"""The company the data describes: its plans, its customers' stacks and its event names."""

from __future__ import annotations

from dataclasses import dataclass

from pipelines import tracking_plan

# (id, name, tier, monthly price in cents); tier 0 is free.
PLANS = (
    ("free", "Free", 0, 0),
    ("team", "Team", 1, 2_900),
    ("business", "Business", 2, 9_900),
)
PLAN_TIERS = {plan_id: tier for plan_id, _, tier, _ in PLANS}

# Weights of each organization's primary language and VCS provider, and how much more
# likely an org of that language is to upgrade (so "upgrades by language" has a story).
LANGUAGES = {
    "javascript": (24, 1.0),
    "python": (22, 1.0),
    "typescript": (14, 1.1),
    "ruby": (12, 1.8),
    "go": (10, 1.2),
    "java": (10, 0.8),
    "php": (8, 0.7),
}
VCS_PROVIDERS = {"github": 65, "gitlab": 25, "bitbucket": 10}

# Legacy aliases and the names they stand for come from the tracking plan, their one home;
# a test checks that every other name used here is planned too.
PLAN = tracking_plan.load()
CANONICAL_NAMES = PLAN.canonical_names()  # every name an app may send -> its canonical name
PLAN_UPGRADE_CLICKED = "Plan Upgrade Clicked"
_UPGRADE_CLICK_ALIASES = PLAN.event(PLAN_UPGRADE_CLICKED).aliases
# The web app sends the plan's first legacy name from its old billing page, mostly; the
# mobile app sends the last one.
WEB_UPGRADE_CLICK_NAMES = {_UPGRADE_CLICK_ALIASES[0]: 6, PLAN_UPGRADE_CLICKED: 4}
MOBILE_UPGRADE_CLICK_NAME = _UPGRADE_CLICK_ALIASES[-1]

DERIVED_EVENT_BY_CHANGE_TYPE = {
    "upgrade": "Plan Upgraded",
    "downgrade": "Plan Downgraded",
    "cancel": "Subscription Cancelled",
}
CHANGE_TYPES = ("new", "upgrade", "downgrade", "cancel", "reactivate")

# Activity in an organization's first week that really raises its chance to upgrade.
LEADING_INDICATOR_DAYS = 7
LEADING_INDICATORS = {
    "Teammate Invited": {"at_least": 1, "upgrade_multiplier": 3.0},
    "Build Succeeded": {"at_least": 5, "upgrade_multiplier": 2.0},
}


def canonical_name(name: str) -> str:
    """The plan's canonical name of a name an app sent (the generator sends no others)."""
    return CANONICAL_NAMES[name]


@dataclass(frozen=True)
class Funnel:
    name: str
    entity: str
    window_days: int
    steps: tuple[str, ...]


DEFAULT_FUNNELS = (
    Funnel("activation", "user", 14, ("User Signed Up", "Project Created", "Build Succeeded")),
    Funnel(
        "org_upgrade",
        "org",
        30,
        ("Organization Created", "Build Succeeded", "Plan Page Viewed", "Plan Upgraded"),
    ),
    Funnel("upgrade_intent", "user", 1, ("Plan Page Viewed", PLAN_UPGRADE_CLICKED)),
)
