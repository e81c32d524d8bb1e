"""Stage: presentation of a stored table. Plots, the end-of-sweep summary, report.md."""
