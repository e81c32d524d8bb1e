import os

# Tests use tiny sizes; keep numba's thread pool small and predictable.
os.environ.setdefault("NUMBA_NUM_THREADS", "2")
