"""Stage: the sweep. Orchestration of a config's cases, the worker process they run in, the thread environment."""
