"""Benchmarks (`make bench`): each measure with its baseline measured in the same run."""
