"""Stage: one case measured. Its budget, the reference each output is checked against, exact errors, timers."""
