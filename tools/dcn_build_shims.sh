# Sourced by tools/dev_dcn_*.sh (GPU machine): builds the DeformConv2d test shim (build/libdcn_shim.so) and one shim
# per VARIANTS entry "name=-DFLAG[,-DFLAG2]" (build/<name>.so), in parallel, and sets $shims to their --shim arguments.
# KIT_FLAGS: extra nvcc flags of the default shim (e.g. "-Xptxas -v"; the build logs are build/<shim>.log).
buildShim() { python3 -c "import sys; sys.path.insert(0,'bench'); import dcn_shim; from pathlib import Path; dcn_shim.build(Path('$1'), extra=tuple('$2'.split()))" >"build/$(basename "$1").log" 2>&1 || echo "build of $1 failed"; }
mkdir -p build
shims="--shim kit=build/libdcn_shim.so"
buildShim build/libdcn_shim.so "${KIT_FLAGS:-}" &
for v in ${VARIANTS:-}; do n=${v%%=*}; f=${v#*=}; buildShim "build/$n.so" "${f//,/ }" & shims="$shims --shim $n=build/$n.so"; done
wait
