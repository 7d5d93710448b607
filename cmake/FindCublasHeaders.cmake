# Finds cublas_api.h for trtkit/core/blas.cpp, which loads cuBLAS at run time and so needs only its headers.
# Sets TRTKIT_CUBLAS_HEADERS (empty when not found). Looks in, in order: -DTRTKIT_CUBLAS_INCLUDE_DIR, the CUDA
# toolkit, then the nvidia-cublas wheels of the Python environment building trtkit (PyTorch installs them).
include_guard(GLOBAL)

set(_cublas_hints "")
if(TRTKIT_CUBLAS_INCLUDE_DIR)
  list(APPEND _cublas_hints "${TRTKIT_CUBLAS_INCLUDE_DIR}")
endif()
list(APPEND _cublas_hints ${CUDAToolkit_INCLUDE_DIRS})
if(Python_EXECUTABLE)
  execute_process(
    COMMAND "${Python_EXECUTABLE}" -c
            "import glob, os, nvidia; print(';'.join(d for p in nvidia.__path__ for d in sorted(glob.glob(os.path.join(p, '*', 'include')))))"
    OUTPUT_VARIABLE _cublas_wheel_dirs OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET)
  list(APPEND _cublas_hints ${_cublas_wheel_dirs})
endif()
set(TRTKIT_CUBLAS_HEADERS "")
foreach(_dir IN LISTS _cublas_hints)
  if(EXISTS "${_dir}/cublas_api.h")
    set(TRTKIT_CUBLAS_HEADERS "${_dir}")
    break()
  endif()
endforeach()
