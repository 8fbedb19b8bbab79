"""A funnel spec with a mistake fails at compile time with one clear message naming the
funnel and the key, before any SQL runs."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from pipelines.warehouse import PROJECT_ROOT

BASE = {"name": "f", "entity": "user", "window_days": 7, "steps": ["A", "B", "C"]}


def parse(funnel: dict, work_dir: Path) -> subprocess.CompletedProcess:
    """`dbt parse` with this one funnel: it renders every model, so the spec is checked, and
    needs no database."""
    shutil.copyfile(PROJECT_ROOT / "profiles.example.yml", work_dir / "profiles.yml")
    return subprocess.run(
        [
            str(Path(sys.executable).parent / "dbt"),
            "parse",
            "--no-partial-parse",
            "--project-dir",
            str(PROJECT_ROOT),
            "--profiles-dir",
            str(work_dir),
            "--target-path",
            str(work_dir / "target"),
            "--vars",
            json.dumps({"funnels": [funnel]}),
        ],
        capture_output=True,
        text=True,
        cwd=PROJECT_ROOT,
    )


def test_a_funnel_with_every_option_parses(tmp_path):
    funnel = {
        **BASE,
        "exclusions": [
            {"event": "X", "after_step": 1, "before_step": 3},
            {"event": "Y", "after_step": 2, "before_step": 3},
        ],
        "hold_constant": ["project_id", "branch"],
        "breakdown_attribution": "step_2",
    }

    completed = parse(funnel, tmp_path)

    assert completed.returncode == 0, completed.stdout


# Each mistake, by the test id it gets: its options and the message that must name it.
MISTAKES = {
    "a misspelt key": ({"exclusion": []}, "funnel f: unknown key `exclusion`"),
    "exclusions not a list": (
        {"exclusions": {"event": "X"}},
        "funnel f: `exclusions` must be a list",
    ),
    "an exclusion missing a key": (
        {"exclusions": [{"event": "X", "after_step": 1}]},
        "funnel f: exclusion 1 must have exactly the keys event, after_step and before_step",
    ),
    "an excluded event that is a step": (
        {"exclusions": [{"event": "B", "after_step": 1, "before_step": 3}]},
        "funnel f: exclusion 1: `B` is a step of the funnel",
    ),
    "after_step below 1": (
        {"exclusions": [{"event": "X", "after_step": 0, "before_step": 3}]},
        "funnel f: exclusion 1: `after_step` must be a step number from 1 to 3",
    ),
    "before_step past the last step": (
        {"exclusions": [{"event": "X", "after_step": 1, "before_step": 4}]},
        "funnel f: exclusion 1: `before_step` must be a step number from 1 to 3",
    ),
    "an empty range": (
        {"exclusions": [{"event": "X", "after_step": 2, "before_step": 2}]},
        "funnel f: exclusion 1: `after_step` must come before `before_step`",
    ),
    "ranges overlapping in part": (
        {
            "steps": ["A", "B", "C", "D"],
            "exclusions": [
                {"event": "X", "after_step": 1, "before_step": 3},
                {"event": "Y", "after_step": 2, "before_step": 4},
            ],
        },
        "funnel f: exclusions 1-3 and 2-4 overlap in part",
    ),
    "hold_constant not a list": (
        {"hold_constant": "project_id"},
        "funnel f: `hold_constant` must be a list",
    ),
    "a property name with a space": (
        {"hold_constant": ["project id"]},
        "funnel f: `hold_constant` lists property names (letters, digits, _), not project id",
    ),
    "a property named twice": (
        {"hold_constant": ["a", "a"]},
        "funnel f: `hold_constant` names a property twice",
    ),
    "an unknown attribution": (
        {"breakdown_attribution": "last_touch"},
        "funnel f: `breakdown_attribution` must be first_touch or step_1 to step_3, not last_touch",
    ),
    "a step past the last": (
        {"breakdown_attribution": "step_4"},
        "funnel f: `breakdown_attribution` must be first_touch or step_1 to step_3",
    ),
}


@pytest.fixture(scope="module")
def parsed_mistakes(tmp_path_factory) -> dict[str, subprocess.CompletedProcess]:
    """Every mistake's `dbt parse`, two at a time (a core each): each runs in a process and a
    target folder of its own."""
    work_dirs = {name: tmp_path_factory.mktemp("parse") for name in MISTAKES}

    def parse_mistake(name: str) -> tuple[str, subprocess.CompletedProcess]:
        options, _ = MISTAKES[name]
        return name, parse({**BASE, **options}, work_dirs[name])

    with ThreadPoolExecutor(max_workers=2) as pool:
        return dict(pool.map(parse_mistake, MISTAKES))


@pytest.mark.parametrize("mistake", MISTAKES)
def test_a_mistake_in_a_funnel_option_fails_with_a_clear_message(parsed_mistakes, mistake):
    completed = parsed_mistakes[mistake]
    _, message = MISTAKES[mistake]

    assert completed.returncode != 0
    assert message in completed.stdout + completed.stderr
