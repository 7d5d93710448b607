# trtkit_add_plugin_library(<target> TRT_INCLUDE_DIR <dir> [SOURCES <files...>] [LINK <libs...>])
#
# A TensorRT plugin library from the generic adapters plus the given layer sources/objects: a SHARED library
# exporting only getCreators, getPluginCreators and setLoggerFinder, linking no TensorRT library. Used by the
# kit's own libtrtkit_plugins.so, by the build-matrix test, and by plugin packages built on the kit.
set(TRTKIT_TRT_DIR "${CMAKE_CURRENT_LIST_DIR}")
set(TRTKIT_TRT_ADAPTER_SOURCES
    "${TRTKIT_TRT_DIR}/entry_points.cpp"
    "${TRTKIT_TRT_DIR}/trtkit/trt/convert.cpp"
    "${TRTKIT_TRT_DIR}/trtkit/trt/creators.cpp"
    "${TRTKIT_TRT_DIR}/trtkit/trt/logging.cpp"
    "${TRTKIT_TRT_DIR}/trtkit/trt/plugin_core.cpp"
    "${TRTKIT_TRT_DIR}/trtkit/trt/plugin_v2.cpp"
    "${TRTKIT_TRT_DIR}/trtkit/trt/plugin_v3.cpp")

function(trtkit_add_plugin_library target)
  cmake_parse_arguments(ARG "" "TRT_INCLUDE_DIR" "SOURCES;LINK" ${ARGN})
  if(NOT ARG_TRT_INCLUDE_DIR)
    message(FATAL_ERROR "trtkit_add_plugin_library(${target}): TRT_INCLUDE_DIR (the folder holding NvInfer.h) is required")
  endif()
  add_library(${target} SHARED ${TRTKIT_TRT_ADAPTER_SOURCES} ${ARG_SOURCES})
  target_include_directories(${target} PRIVATE "${TRTKIT_TRT_DIR}")
  # SYSTEM: warnings inside NVIDIA's headers are not ours to fix; uses of deprecated V2 API are silenced
  # explicitly at the use sites.
  target_include_directories(${target} SYSTEM PRIVATE "${ARG_TRT_INCLUDE_DIR}")
  target_link_libraries(${target} PRIVATE ${ARG_LINK})
  set_target_properties(${target} PROPERTIES CXX_VISIBILITY_PRESET hidden CUDA_VISIBILITY_PRESET hidden
                                             VISIBILITY_INLINES_HIDDEN ON LINK_DEPENDS "${TRTKIT_TRT_DIR}/exports.map")
  # --no-undefined: a stray libnvinfer symbol (getPluginRegistry, REGISTER_TENSORRT_PLUGIN) fails the link here
  # instead of failing to load later.
  target_link_options(${target} PRIVATE "LINKER:--version-script=${TRTKIT_TRT_DIR}/exports.map"
                      "LINKER:--no-undefined" "LINKER:--exclude-libs,ALL")
endfunction()
