"""The synthetic SaaS data set, written in the real export formats."""

from pipelines.generate.segment_export import generate

__all__ = ["generate"]
