"""The synthetic SaaS data set, written in the real export formats (contract sections 4 to 6)."""

from pipelines.generate.config import GeneratorConfig
from pipelines.generate.dataset import generate, orgs_for_events

__all__ = ["GeneratorConfig", "generate", "orgs_for_events"]
