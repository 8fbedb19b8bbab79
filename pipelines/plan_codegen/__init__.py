"""The tracking plan as code (contract section 12): `analytics plan codegen` writes a typed
tracking library per language, `analytics plan schemas` a JSON Schema per tracked event.

The repository keeps the output for the default plan under `tracking/`; after editing the
plan, regenerate it with `python -m pipelines.plan_codegen` (a test fails while it is stale).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from pipelines.plan_codegen import python, schemas, typescript
from pipelines.tracking_plan import PROJECT_ROOT, TrackingPlan

LANGUAGES: dict[str, tuple[str, Callable[[TrackingPlan], str]]] = {
    "python": ("tracking.py", python.render),
    "typescript": ("tracking.ts", typescript.render),
}
EXAMPLES_DIR = PROJECT_ROOT / "tracking"


def write_code(language: str, out: Path, plan: TrackingPlan) -> Path:
    """Write the tracking library of `language` into `out`; return its path."""
    file_name, render = LANGUAGES[language]
    out.mkdir(parents=True, exist_ok=True)
    path = out / file_name
    path.write_text(render(plan), encoding="utf-8")
    return path


def write_schemas(out: Path, plan: TrackingPlan) -> list[Path]:
    """Write one JSON Schema per tracked event, and Segment's rules file, into `out`."""
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, text in schemas.render(plan).items():
        path = out / name
        path.write_text(text, encoding="utf-8")
        paths.append(path)
    return paths


def expected_examples(plan: TrackingPlan) -> dict[Path, str]:
    """Every file under `tracking/` that the plan generates, with its text."""
    files = {
        EXAMPLES_DIR / language / file_name: render(plan)
        for language, (file_name, render) in LANGUAGES.items()
    }
    files.update(
        {EXAMPLES_DIR / "schemas" / name: text for name, text in schemas.render(plan).items()}
    )
    return files


def write_examples(plan: TrackingPlan) -> list[Path]:
    """Regenerate `tracking/`, removing schemas of events the plan no longer tracks."""
    files = expected_examples(plan)
    for stale in set((EXAMPLES_DIR / "schemas").glob("*.json")) - set(files):
        stale.unlink()
    for path, text in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return sorted(files)
