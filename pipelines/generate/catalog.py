"""The company the data describes: its plans, its customers' stacks and its event names."""

from __future__ import annotations

from dataclasses import dataclass

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

PLAN_UPGRADE_CLICKED = "Plan Upgrade Clicked"
# Event names as the apps send them -> canonical tracking-plan names.
LEGACY_ALIASES = {
    "click-plan-update": PLAN_UPGRADE_CLICKED,
    "update-plan-clicked": PLAN_UPGRADE_CLICKED,
}
# The web app sends the old name from its legacy billing page, the mobile app its own.
WEB_UPGRADE_CLICK_NAMES = {"click-plan-update": 6, PLAN_UPGRADE_CLICKED: 4}
MOBILE_UPGRADE_CLICK_NAME = "update-plan-clicked"

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
    return LEGACY_ALIASES.get(name, name)


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
