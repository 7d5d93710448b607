# The build logic shared by the kit's own CMakeLists.txt and by plugin packages built on the installed kit
# (find_package(trtkit) includes this file from trtkit/sdk/cmake). It expects the layout
# <root>/csrc/{core,trt,python} and <root>/cmake beside this file.
#
#   trtkit_add_plugins(NAME <name> PYTHON_PACKAGE <pkg> SOURCES <layer .cpp/.cu files...> [INPLACE_DIR <dir>])
#
# builds <name>_layers (the layers, an OBJECT library so their registrations survive linking), the Python module
# <pkg>/_C (layers, schemas, running a layer on device pointers) and, where TensorRT headers are found,
# <pkg>/lib/lib<name>_plugins.so, the library TensorRT loads. It writes <pkg>/build_info.txt (TensorRT major
# built for, or why the adapter is missing). INPLACE_DIR also places the outputs there (developer builds).
include_guard(GLOBAL)

get_filename_component(TRTKIT_SDK_ROOT "${CMAKE_CURRENT_LIST_DIR}/.." ABSOLUTE)

find_package(CUDAToolkit REQUIRED)
find_package(Python 3.9 REQUIRED COMPONENTS Interpreter Development.Module)
if(NOT pybind11_FOUND)
  if(NOT pybind11_DIR)
    execute_process(COMMAND "${Python_EXECUTABLE}" -m pybind11 --cmakedir OUTPUT_VARIABLE _pybind11_dir
                    OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET)
    set(pybind11_DIR "${_pybind11_dir}")
  endif()
  find_package(pybind11 CONFIG REQUIRED)
endif()

include("${TRTKIT_SDK_ROOT}/cmake/FindTensorRTHeaders.cmake")
if(TRTKIT_TRT_INCLUDE_DIR)
  include("${TRTKIT_SDK_ROOT}/csrc/trt/PluginLibrary.cmake")
endif()

set(TRTKIT_WARNINGS -Wall -Wextra -Wno-unused-parameter)
set(TRTKIT_CUDA_FLAGS --expt-relaxed-constexpr -lineinfo -Xcompiler=-Wall)

if(NOT TARGET trtkit_core)
  file(GLOB _trtkit_core_sources CONFIGURE_DEPENDS "${TRTKIT_SDK_ROOT}/csrc/core/trtkit/core/*.cpp")
  add_library(trtkit_core STATIC ${_trtkit_core_sources})
  target_include_directories(trtkit_core PUBLIC "${TRTKIT_SDK_ROOT}/csrc/core")
  target_link_libraries(trtkit_core PUBLIC CUDA::cudart_static)
  target_compile_options(trtkit_core PRIVATE ${TRTKIT_WARNINGS})
  target_link_libraries(trtkit_core PUBLIC ${CMAKE_DL_LIBS})
  include("${TRTKIT_SDK_ROOT}/cmake/FindCublasHeaders.cmake")
  if(TRTKIT_CUBLAS_HEADERS)
    # -idirafter: the folder may be a wheel's whole CUDA include tree; the toolkit's own headers must win.
    set_source_files_properties("${TRTKIT_SDK_ROOT}/csrc/core/trtkit/core/blas.cpp" TARGET_DIRECTORY trtkit_core
                                PROPERTIES COMPILE_DEFINITIONS TRTKIT_HAVE_CUBLAS_HEADERS
                                           COMPILE_OPTIONS "-idirafter;${TRTKIT_CUBLAS_HEADERS}")
    message(STATUS "trtkit: cuBLAS headers at ${TRTKIT_CUBLAS_HEADERS} (cuBLAS is loaded at run time)")
  else()
    message(WARNING "trtkit: cuBLAS headers not found: layers that use cuBLAS fall back to their own kernels. "
                    "Set TRTKIT_CUBLAS_INCLUDE_DIR (the folder holding cublas_api.h) to enable it.")
  endif()
  set_target_properties(trtkit_core PROPERTIES POSITION_INDEPENDENT_CODE ON CXX_VISIBILITY_PRESET hidden
                                               VISIBILITY_INLINES_HIDDEN ON)
endif()

function(trtkit_add_plugins)
  cmake_parse_arguments(ARG "" "NAME;PYTHON_PACKAGE;INPLACE_DIR" "SOURCES" ${ARGN})
  if(NOT ARG_NAME OR NOT ARG_PYTHON_PACKAGE OR NOT ARG_SOURCES)
    message(FATAL_ERROR "trtkit_add_plugins: NAME, PYTHON_PACKAGE and SOURCES are required")
  endif()
  set(_visibility POSITION_INDEPENDENT_CODE ON CXX_VISIBILITY_PRESET hidden CUDA_VISIBILITY_PRESET hidden
                  VISIBILITY_INLINES_HIDDEN ON)

  add_library(${ARG_NAME}_layers OBJECT ${ARG_SOURCES})
  target_link_libraries(${ARG_NAME}_layers PUBLIC trtkit_core)
  target_compile_options(${ARG_NAME}_layers PRIVATE $<$<COMPILE_LANGUAGE:CXX>:${TRTKIT_WARNINGS}>
                                                    $<$<COMPILE_LANGUAGE:CUDA>:${TRTKIT_CUDA_FLAGS}>)
  set_target_properties(${ARG_NAME}_layers PROPERTIES ${_visibility})

  file(GLOB _py_sources CONFIGURE_DEPENDS "${TRTKIT_SDK_ROOT}/csrc/python/*.cpp")
  pybind11_add_module(${ARG_NAME}_C ${_py_sources} $<TARGET_OBJECTS:${ARG_NAME}_layers>)
  target_link_libraries(${ARG_NAME}_C PRIVATE trtkit_core)
  target_compile_options(${ARG_NAME}_C PRIVATE ${TRTKIT_WARNINGS})
  set_target_properties(${ARG_NAME}_C PROPERTIES OUTPUT_NAME _C)
  # Keep whatever static libraries it links private (toolchains that link libstdc++ statically): a static
  # libstdc++ whose symbols the process's shared one interposes crashes in iostream code.
  target_link_options(${ARG_NAME}_C PRIVATE "LINKER:--exclude-libs,ALL")
  install(TARGETS ${ARG_NAME}_C LIBRARY DESTINATION ${ARG_PYTHON_PACKAGE})
  if(ARG_INPLACE_DIR)
    set_target_properties(${ARG_NAME}_C PROPERTIES LIBRARY_OUTPUT_DIRECTORY "${ARG_INPLACE_DIR}")
  endif()

  if(TRTKIT_TRT_INCLUDE_DIR)
    trtkit_add_plugin_library(${ARG_NAME}_plugins TRT_INCLUDE_DIR "${TRTKIT_TRT_INCLUDE_DIR}"
                              SOURCES $<TARGET_OBJECTS:${ARG_NAME}_layers> LINK trtkit_core)
    target_compile_options(${ARG_NAME}_plugins PRIVATE $<$<COMPILE_LANGUAGE:CXX>:${TRTKIT_WARNINGS}>)
    install(TARGETS ${ARG_NAME}_plugins LIBRARY DESTINATION ${ARG_PYTHON_PACKAGE}/lib)
    if(ARG_INPLACE_DIR)
      set_target_properties(${ARG_NAME}_plugins PROPERTIES LIBRARY_OUTPUT_DIRECTORY "${ARG_INPLACE_DIR}/lib")
    endif()
    set(_info "tensorrt_major=${TRTKIT_TRT_MAJOR}\ntensorrt_version=${TRTKIT_TRT_VERSION}\ntensorrt_include_dir=${TRTKIT_TRT_INCLUDE_DIR}\n")
    message(STATUS "trtkit: TensorRT ${TRTKIT_TRT_VERSION} headers at ${TRTKIT_TRT_INCLUDE_DIR}: building lib${ARG_NAME}_plugins.so")
  else()
    set(_info "tensorrt_major=\nadapter_missing_reason=${TRTKIT_TRT_MISSING_REASON}\n")
    message(WARNING "trtkit: the TensorRT adapter (lib${ARG_NAME}_plugins.so) is NOT built: ${TRTKIT_TRT_MISSING_REASON}. "
                    "Set TENSORRT_INCLUDE_DIR (the folder holding NvInfer.h) or TENSORRT_ROOT and rebuild to get it.")
  endif()
  set(_info_file "${CMAKE_CURRENT_BINARY_DIR}/${ARG_NAME}_build_info.txt")
  file(WRITE "${_info_file}" "${_info}cuda_architectures=${CMAKE_CUDA_ARCHITECTURES}\n")
  install(FILES "${_info_file}" DESTINATION ${ARG_PYTHON_PACKAGE} RENAME build_info.txt)
  if(ARG_INPLACE_DIR)
    configure_file("${_info_file}" "${ARG_INPLACE_DIR}/build_info.txt" COPYONLY)
  endif()
endfunction()
