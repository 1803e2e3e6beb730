# Writes an overlay port that builds the local source tree instead of a release
# archive: ports/cshm/ with its vcpkg_from_github(...) call replaced by
# set(SOURCE_PATH <tree>), so that `vcpkg install cshm --overlay-ports=<OUT_DIR>` tests
# the port before any tag exists (.github/workflows/package.yml; checked by
# .ci/steps/45-package.sh).
#
#   cmake -DPORT_DIR=ports/cshm -DSOURCE_DIR=. -DOUT_DIR=/tmp/overlay
#         -P tests/consumer/vcpkg_local_port.cmake       -> /tmp/overlay/cshm/
cmake_minimum_required(VERSION 3.25)
foreach(_var PORT_DIR SOURCE_DIR OUT_DIR)
  if(NOT DEFINED ${_var})
    message(FATAL_ERROR "vcpkg_local_port: -D${_var}=... is required")
  endif()
endforeach()
foreach(_var PORT_DIR SOURCE_DIR OUT_DIR) # forward slashes: SOURCE_DIR goes into CMake code
  file(TO_CMAKE_PATH "${${_var}}" ${_var})
  get_filename_component(${_var} "${${_var}}" ABSOLUTE)
endforeach()
get_filename_component(_port "${PORT_DIR}" NAME)

file(READ "${PORT_DIR}/portfile.cmake" _portfile)
string(REGEX MATCHALL "vcpkg_from_github\\([^)]*\\)" _calls "${_portfile}")
list(LENGTH _calls _n)
if(NOT _n EQUAL 1)
  message(FATAL_ERROR "vcpkg_local_port: expected one vcpkg_from_github(...) call, found ${_n}")
endif()
string(REGEX REPLACE "vcpkg_from_github\\([^)]*\\)"
  "set(SOURCE_PATH \"${SOURCE_DIR}\") # the local tree, not a release archive"
  _portfile "${_portfile}")

file(REMOVE_RECURSE "${OUT_DIR}/${_port}")
file(COPY "${PORT_DIR}/" DESTINATION "${OUT_DIR}/${_port}")
file(WRITE "${OUT_DIR}/${_port}/portfile.cmake" "${_portfile}")
message(STATUS "vcpkg_local_port: ${OUT_DIR}/${_port} builds ${SOURCE_DIR}")
