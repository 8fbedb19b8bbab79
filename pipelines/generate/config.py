"""The generator's settings: the size of the world and the planted flaws."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from pipelines.errors import UserError

SOURCES = ("segment", "amplitude")


def today_utc() -> date:
    return datetime.now(UTC).date()


@dataclass(frozen=True)
class GeneratorConfig:
    """Everything that decides the output; the same config writes byte-identical files."""

    seed: int = 42
    orgs: int = 20
    days: int = 30
    # The period ends today by default, so a freshly generated data set is fresh; pass a
    # fixed end date for the same bytes on another day.
    end_date: date = field(default_factory=today_utc)
    signup_drop: float = 0.0
    signup_drop_source: str = "amplitude"
    duplicate_rate: float = 0.01
    late_rate: float = 0.005
    malformed_lines: int = 3

    def __post_init__(self) -> None:
        if self.orgs < 1 or self.days < 1:
            raise UserError("--orgs and --days must be at least 1")
        for name in ("signup_drop", "duplicate_rate", "late_rate"):
            if not 0 <= getattr(self, name) <= 1:
                raise UserError(f"{name.replace('_', '-')} must be between 0 and 1")
        if self.malformed_lines < 0:
            raise UserError("--malformed must be at least 0")
        if self.signup_drop_source not in SOURCES:
            raise UserError(f"--signup-drop-source must be one of {', '.join(SOURCES)}")

    @property
    def start_date(self) -> date:
        """The first day: `days` days up to and including `end_date`."""
        return self.end_date - timedelta(days=self.days - 1)

    @property
    def start_us(self) -> int:
        """Microseconds since the epoch at midnight UTC of the first day."""
        start = datetime(*self.start_date.timetuple()[:3], tzinfo=UTC)
        return int(start.timestamp()) * 1_000_000

    @property
    def signup_drop_days(self) -> range:
        """The stretch of day indexes over which signups go missing from one source."""
        first = self.days // 3
        return range(first, min(self.days, first + max(1, self.days // 4)))

    def malformed_lines_by_day(self) -> dict[int, int]:
        """Day index -> malformed lines planted that day, spread evenly over the period."""
        count = self.malformed_lines
        return dict(Counter((2 * index + 1) * self.days // (2 * count) for index in range(count)))
