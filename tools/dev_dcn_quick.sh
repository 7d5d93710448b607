set -uo pipefail
export PYTHONUNBUFFERED=1 PYTHONPATH=python
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader
python3 -c "import sys; sys.path.insert(0,'bench'); import dcn_shim; dcn_shim.build(extra=('-Xptxas','-v'))" 2>&1 | grep -A2 "pipelinedDeformConv" | grep -E "Used|spill"
DCN_NUM_PIPELINED_CONFIGS=200 timeout 240 python3 -m pytest tests/gpu/test_deform_conv2d_kernels.py -q -x -p no:cacheprovider -k "pipelined or empty" 2>&1 | tail -12
timeout 300 python3 bench/bench_deform_conv2d.py --shim kit=build/libdcn_shim.so --algorithms pipelined,sampled --profile --out $OUT 2>&1 | grep -v "^{" | tail -70
