"""`make bench`: every benchmark at BENCH_EVENTS events, each writing its section of
`benchmarks/results.json` (value, unit, the baseline measured in the same run, the ratio)."""

from benchmarks import funnels, generator, incremental_events, loaders

for benchmark in (generator, loaders, incremental_events, funnels):
    print(f"== {benchmark.__name__}", flush=True)
    benchmark.main()
