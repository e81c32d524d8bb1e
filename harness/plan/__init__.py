"""Stage: the plan. A TOML config validated and expanded into cases; the seeded inputs of each case."""
