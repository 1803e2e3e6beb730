# Install rules, the CMake package and the pkg-config file (DESIGN.md §7; style.md §8).
# Included by the top-level CMakeLists.txt after src/ and tools/, so the `cshm` target
# and its generated headers exist. What gets installed:
#
#   <prefix>/include/cshm/{cshm.h,version.h,cshm_export.h,cshm_config.h}
#   <prefix>/<libdir>/libcshm.{a,so.*,dylib} | cshm.lib (+ <bindir>/cshm.dll)
#   <prefix>/<libdir>/cmake/cshm/{cshmConfig,cshmConfigVersion,cshmTargets*}.cmake
#   <prefix>/<libdir>/pkgconfig/cshm.pc
#   <prefix>/<bindir>/cshm and <mandir>/man1/cshm.1 (tools/CMakeLists.txt, the tool)
#
# The generated cshm_config.h records whether this copy is static or shared, so a
# consumer (CMake, pkg-config or vcpkg) defines nothing and patches nothing.

include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

# ON by default, also when embedded: a parent project that installs and exports its
# own targets needs cshm in an export set. A parent that vendors cshm privately can
# switch it off.
option(CSHM_INSTALL "Generate the install rules of the cshm library" ON)
set(CSHM_INSTALL_CMAKEDIR "${CMAKE_INSTALL_LIBDIR}/cmake/cshm"
  CACHE STRING "Where cshmConfig.cmake goes, relative to the install prefix")
set(CSHM_INSTALL_PKGCONFIGDIR "${CMAKE_INSTALL_LIBDIR}/pkgconfig"
  CACHE STRING "Where cshm.pc goes, relative to the install prefix")
mark_as_advanced(CSHM_INSTALL_CMAKEDIR CSHM_INSTALL_PKGCONFIGDIR)

if(NOT CSHM_INSTALL)
  return()
endif()

get_target_property(_cshm_type cshm TYPE)
get_target_property(_cshm_bindir cshm BINARY_DIR)
# cshm_add_library() (src/CMakeLists.txt) generates these two per target.
set(_cshm_gen "${_cshm_bindir}/cshm-include/cshm")
foreach(_h cshm_export.h cshm_config.h)
  if(NOT EXISTS "${_cshm_gen}/${_h}")
    message(FATAL_ERROR "CshmInstall: ${_cshm_gen}/${_h} was not generated")
  endif()
endforeach()

# ---- the library and its headers --------------------------------------------------
install(TARGETS cshm
  EXPORT cshmTargets
  RUNTIME DESTINATION "${CMAKE_INSTALL_BINDIR}" COMPONENT cshm_Runtime
  LIBRARY DESTINATION "${CMAKE_INSTALL_LIBDIR}" COMPONENT cshm_Runtime
    NAMELINK_COMPONENT cshm_Development
  ARCHIVE DESTINATION "${CMAKE_INSTALL_LIBDIR}" COMPONENT cshm_Development
  INCLUDES DESTINATION "${CMAKE_INSTALL_INCLUDEDIR}")
install(FILES
    "${PROJECT_SOURCE_DIR}/include/cshm/cshm.h"
    "${PROJECT_SOURCE_DIR}/include/cshm/version.h"
    "${_cshm_gen}/cshm_export.h"
    "${_cshm_gen}/cshm_config.h"
  DESTINATION "${CMAKE_INSTALL_INCLUDEDIR}/cshm"
  COMPONENT cshm_Development)
if(MSVC AND _cshm_type STREQUAL "SHARED_LIBRARY")
  # Debuggers find the DLL's symbols beside it (absent in builds without them).
  install(FILES "$<TARGET_PDB_FILE:cshm>" DESTINATION "${CMAKE_INSTALL_BINDIR}"
    COMPONENT cshm_Runtime OPTIONAL)
endif()

# ---- CMake package: find_package(cshm CONFIG) -> cshm::cshm ------------------------
install(EXPORT cshmTargets
  NAMESPACE cshm::
  DESTINATION "${CSHM_INSTALL_CMAKEDIR}"
  COMPONENT cshm_Development)

# A static libcshm leaves its link dependencies to the consumer: the exported target
# names Threads::Threads (POSIX) or bcrypt (Windows, a system library: nothing to find).
if(_cshm_type STREQUAL "STATIC_LIBRARY")
  set(CSHM_PACKAGE_SHARED OFF)
else()
  set(CSHM_PACKAGE_SHARED ON)
endif()
if(NOT CSHM_PACKAGE_SHARED AND NOT WIN32)
  set(CSHM_PACKAGE_DEPENDENCIES [[
# A static libcshm links the threads library into the consumer.
include(CMakeFindDependencyMacro)
find_dependency(Threads)
]])
else()
  set(CSHM_PACKAGE_DEPENDENCIES "")
endif()
configure_package_config_file(
  "${PROJECT_SOURCE_DIR}/cmake/cshmConfig.cmake.in"
  "${PROJECT_BINARY_DIR}/cshmConfig.cmake"
  INSTALL_DESTINATION "${CSHM_INSTALL_CMAKEDIR}")
# 0.x releases are compatible within the same major number too (as CMake defines it);
# the segment format and the names have their own, frozen, versioning.
write_basic_package_version_file("${PROJECT_BINARY_DIR}/cshmConfigVersion.cmake"
  VERSION "${PROJECT_VERSION}"
  COMPATIBILITY SameMajorVersion)
install(FILES
    "${PROJECT_BINARY_DIR}/cshmConfig.cmake"
    "${PROJECT_BINARY_DIR}/cshmConfigVersion.cmake"
  DESTINATION "${CSHM_INSTALL_CMAKEDIR}"
  COMPONENT cshm_Development)

# ---- pkg-config: cshm.pc ----------------------------------------------------------
# Relocatable: the prefix is found from the .pc file's own directory (pkg-config and
# pkgconf both define ${pcfiledir}), so `cmake --install --prefix` anywhere works.
# Absolute GNUInstallDirs values (e.g. a distribution's /usr/lib/<triplet>) are kept.
if(IS_ABSOLUTE "${CSHM_INSTALL_PKGCONFIGDIR}")
  set(CSHM_PC_PREFIX "${CMAKE_INSTALL_PREFIX}")
else()
  file(RELATIVE_PATH _cshm_pc_up "/prefix/${CSHM_INSTALL_PKGCONFIGDIR}" "/prefix")
  string(REGEX REPLACE "/$" "" _cshm_pc_up "${_cshm_pc_up}")
  set(CSHM_PC_PREFIX "\${pcfiledir}/${_cshm_pc_up}")
endif()
foreach(_dir LIBDIR INCLUDEDIR)
  if(IS_ABSOLUTE "${CMAKE_INSTALL_${_dir}}")
    set(CSHM_PC_${_dir} "${CMAKE_INSTALL_${_dir}}")
  else()
    set(CSHM_PC_${_dir} "\${prefix}/${CMAKE_INSTALL_${_dir}}")
  endif()
endforeach()
# What a static link needs besides libcshm (pkg-config --static): the same libraries
# src/CMakeLists.txt links privately.
if(WIN32)
  set(CSHM_PC_LIBS_PRIVATE "-lbcrypt")
else()
  set(CSHM_PC_LIBS_PRIVATE "-pthread")
  if(CSHM_LIBRT) # the portable profile on systems that keep shm_open in librt
    string(APPEND CSHM_PC_LIBS_PRIVATE " -lrt")
  endif()
endif()
configure_file("${PROJECT_SOURCE_DIR}/cmake/cshm.pc.in" "${PROJECT_BINARY_DIR}/cshm.pc" @ONLY)
install(FILES "${PROJECT_BINARY_DIR}/cshm.pc"
  DESTINATION "${CSHM_INSTALL_PKGCONFIGDIR}"
  COMPONENT cshm_Development)
