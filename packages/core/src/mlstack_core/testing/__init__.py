"""Test helpers shipped with core (the `mlstack-core[testing]` extra) for every package's tests
and the benchmarks: `servers` (free port, spawn in a process group, wait until healthy, stop,
the venv's bin on PATH), `champion` (a model registered the way training registers one) and
`postgres` (a real PostgreSQL server as a pytest fixture)."""
