#!/usr/bin/env bash
# Everything a GPU lease is for, in one call: the GPU goals, the committed GPU run, the GPU tests.
#
#   bash bench/gpu_lease.sh            # on a machine with an NVIDIA GPU, from the repository root
#
# Wheels in .whl/ (pyFFTW, a numpy that numba-cuda accepts) are installed into /tmp/site first
# when present: the lent machines reach no package registry. Each step has its own time limit and
# its own log under $OUT (default /tmp/gpu-lease), so one failing or slow step loses nothing of the
# others. The run's results are packed into $OUT/cuda-results.tar.gz. STEPS picks the steps
# (default: env bench run tests; also resume, to continue results/cuda, loads, and layers: the CNN
# layers of configs/cuda-layers.toml into results/cuda-layers).
set -u
OUT=${OUT:-/tmp/gpu-lease}
mkdir -p "$OUT"
if compgen -G ".whl/*.whl" >/dev/null; then
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl
    export PYTHONPATH=/tmp/site
fi
export PYTHONPATH=${PYTHONPATH:+$PYTHONPATH:}$PWD PYTHONUNBUFFERED=1 NUMBA_ENABLE_CUDASIM=0
STEPS=${STEPS:-env bench run tests}

step() {  # step NAME SECONDS COMMAND...: run it under a time limit, log to $OUT/NAME.log
    local name=$1 limit=$2
    shift 2
    echo "== $name ($(date +%T), limit ${limit}s)"
    timeout "$limit" "$@" >"$OUT/$name.log" 2>&1
    echo "== $name exit $? ($(date +%T))"
}

for name in $STEPS; do
    case $name in
    env) step env 30 bash -c 'nvidia-smi; python3 - <<PY
from importlib.metadata import PackageNotFoundError, version
for name in ("numpy", "numba", "numba-cuda", "cupy-cuda13x", "cupy-cuda12x", "torch", "pyfftw", "scipy", "pandas"):
    try:
        print(name, version(name))
    except PackageNotFoundError:
        print(name, "-")
PY
python3 -m harness backends' ;;
    bench) step bench "${BENCH_LIMIT:-200}" python3 bench/direct_gpu.py ;;
    run) rm -rf results/cuda
        step run "${RUN_LIMIT:-240}" python3 -m harness run configs/cuda.toml --out results/cuda
        tar czf "$OUT/cuda-results.tar.gz" results/cuda ;;
    resume) step resume "${RUN_LIMIT:-240}" python3 -m harness run configs/cuda.toml --out results/cuda --resume
        tar czf "$OUT/cuda-results.tar.gz" results/cuda ;;
    layers) rm -rf results/cuda-layers
        step layers "${LAYERS_LIMIT:-300}" python3 -m harness run configs/cuda-layers.toml --out results/cuda-layers
        tar czf "$OUT/cuda-layers-results.tar.gz" results/cuda-layers ;;
    loads) step loads "${LOADS_LIMIT:-90}" python3 bench/direct_gpu_loads.py ;;
    tests) step tests "${TESTS_LIMIT:-150}" python3 -m pytest -q -p no:cacheprovider -m gpu ${TESTS_SELECT:+-k "$TESTS_SELECT"} \
        tests/kernels/test_numba_cuda.py tests/kernels/test_backends.py tests/kernels/test_layers.py ;;
    esac
done
for name in $STEPS; do
    [ "$name" = env ] || tail -n 30 "$OUT/$name.log" 2>/dev/null | grep -v -e Warning -e "warn(" -e experimental
done
