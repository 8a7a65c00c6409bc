"""`make bench` runs every `bench/[a-z]*.py` as a benchmark (the Makefile's wildcard);
helpers start with `_`. A helper named like a benchmark breaks `make bench` halfway."""

import ast
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "bench"


def _runs_as_main(path: Path) -> bool:
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.If) and "__main__" in ast.unparse(node.test):
            return True
    return False


def test_every_file_make_bench_runs_is_a_benchmark():
    benchmarks = sorted(BENCH.glob("[a-z]*.py"))
    assert len(benchmarks) >= 10
    assert [p.name for p in benchmarks if not _runs_as_main(p)] == []


def test_every_benchmark_is_in_the_readme():
    readme = (BENCH / "README.md").read_text()
    missing = [p.name for p in BENCH.glob("[a-z]*.py") if f"## {p.name}" not in readme]
    assert missing == []
