set -uo pipefail
export PYTHONUNBUFFERED=1 PYTHONPATH=python
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader
b() { python3 -c "import sys; sys.path.insert(0,'bench'); import dcn_shim; from pathlib import Path; dcn_shim.build(Path('$1'), extra=tuple('$2'.split()))" > build/$(basename $1).log 2>&1; }
mkdir -p build
b build/libdcn_shim.so "-Xptxas -v" & b build/bn64.so "-DTRTKIT_DCN_PIPE_BN=64" & b build/st4.so "-DTRTKIT_DCN_PIPE_STAGES=4" & b build/st2.so "-DTRTKIT_DCN_PIPE_STAGES=2" & wait
grep -A2 "pipelinedDeformConv" build/libdcn_shim.so.log | grep -E "Used|spill"
DCN_NUM_PIPELINED_CONFIGS=${NCFG:-60} timeout 240 python3 -m pytest tests/gpu/test_deform_conv2d_kernels.py -q -x -p no:cacheprovider -k "pipelined" 2>&1 | tail -4
for v in bn64 st4 st2; do echo "$v: $(DCN_SHIM=build/$v.so DCN_NUM_PIPELINED_CONFIGS=40 timeout 120 python3 -m pytest tests/gpu/test_deform_conv2d_kernels.py -q -x -p no:cacheprovider -k 'pipelined and (random or large)' 2>&1 | tail -1)"; done
timeout 300 python3 bench/bench_deform_conv2d.py --shim kit=build/libdcn_shim.so --shim bn64=build/bn64.so --shim st4=build/st4.so --shim st2=build/st2.so --algorithms ${ALGOS:-pipelined} ${PROFILE:-} --out $OUT 2>&1 | grep -v "^{" | grep -v "fp32\|tf32" | tail -70
