"""Stage: analysis of a stored table. Derived columns, cost models, crossovers, the chooser, run comparisons."""
