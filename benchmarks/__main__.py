"""`make bench` placeholder until the benchmarks issue lands: says so and fails."""

import sys

sys.exit("benchmarks: not built yet (see the benchmarks issue)")
