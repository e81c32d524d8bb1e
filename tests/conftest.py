import os
import shutil

# Tests use tiny sizes; keep numba's thread pool small and predictable.
os.environ.setdefault("NUMBA_NUM_THREADS", "2")
# Without an NVIDIA driver, CUDA kernels run in Numba's simulator (correctness
# only). Set before numba is imported: it reads the variable once.
if shutil.which("nvidia-smi") is None:
    os.environ.setdefault("NUMBA_ENABLE_CUDASIM", "1")
