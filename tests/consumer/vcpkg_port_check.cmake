# Checks the vcpkg overlay port ports/cshm/ without vcpkg (which CI cannot download):
# the manifest's fields, no deprecated helper, and then the portfile itself, run with
# stand-ins for the vcpkg helpers it calls. The stand-ins configure, build and install
# THIS source tree with exactly the options the portfile passes, for both build types
# as vcpkg does (release into the package root, debug into debug/), and fail on an
# option the project does not use, a missing config or pkg-config file, or anything
# vcpkg's post-build checks would refuse that can be seen here. The real
# `vcpkg install --overlay-ports` runs in the GitHub workflow (.github/workflows/package.yml).
#
#   cmake -DPORT_DIR=ports/cshm -DSOURCE_DIR=. -DWORK_DIR=/tmp/x -DLINKAGE=static|dynamic
#         -P tests/consumer/vcpkg_port_check.cmake
cmake_minimum_required(VERSION 3.25)

foreach(_var PORT_DIR SOURCE_DIR WORK_DIR LINKAGE)
  if(NOT DEFINED ${_var})
    message(FATAL_ERROR "vcpkg_port_check: -D${_var}=... is required")
  endif()
endforeach()
if(NOT LINKAGE MATCHES "^(static|dynamic)$")
  message(FATAL_ERROR "vcpkg_port_check: LINKAGE is static or dynamic, not ${LINKAGE}")
endif()
get_filename_component(PORT_DIR "${PORT_DIR}" ABSOLUTE)
get_filename_component(SOURCE_DIR "${SOURCE_DIR}" ABSOLUTE)
get_filename_component(WORK_DIR "${WORK_DIR}" ABSOLUTE)
if(NOT GENERATOR)
  set(GENERATOR Ninja)
endif()

# check(message <if() condition>): fails with the message unless the condition holds.
function(check condition_text)
  if(NOT (${ARGN}))
    message(FATAL_ERROR "vcpkg port: ${condition_text}")
  endif()
endfunction()

# ---- the manifest ------------------------------------------------------------------
file(READ "${PORT_DIR}/vcpkg.json" _manifest) # string(JSON) fails on invalid JSON
get_filename_component(PORT "${PORT_DIR}" NAME)
string(JSON _name GET "${_manifest}" name)
check("the name is the port directory's (${PORT}), not ${_name}" _name STREQUAL PORT)
string(JSON VERSION GET "${_manifest}" version)
file(STRINGS "${SOURCE_DIR}/include/cshm/version.h" _vlines REGEX "^#define CSHM_VERSION_(MAJOR|MINOR|PATCH) ")
foreach(_l IN LISTS _vlines)
  string(REGEX MATCH "CSHM_VERSION_([A-Z]+) ([0-9]+)" _ "${_l}")
  set(_v_${CMAKE_MATCH_1} ${CMAKE_MATCH_2})
endforeach()
set(_project_version "${_v_MAJOR}.${_v_MINOR}.${_v_PATCH}")
check("version ${VERSION} is not the project's ${_project_version} (include/cshm/version.h)"
  VERSION STREQUAL _project_version)
foreach(_field description homepage license supports)
  string(JSON _${_field} ERROR_VARIABLE _err GET "${_manifest}" ${_field})
  check("vcpkg.json has no ${_field}" _err STREQUAL "NOTFOUND" AND NOT _${_field} MATCHES "^$")
endforeach()
check("license is MIT, not ${_license}" _license STREQUAL "MIT")
check("supports is \"!android & !uwp\", not \"${_supports}\"" _supports STREQUAL "!android & !uwp")
check("homepage is not an https URL" _homepage MATCHES "^https://")
string(JSON _ndeps LENGTH "${_manifest}" dependencies)
set(_host_deps "")
math(EXPR _last "${_ndeps} - 1")
foreach(_i RANGE ${_last})
  string(JSON _dep GET "${_manifest}" dependencies ${_i})
  string(JSON _dname GET "${_dep}" name)
  string(JSON _dhost ERROR_VARIABLE _err GET "${_dep}" host)
  check("dependency ${_dname} is not a host dependency" _dhost)
  list(APPEND _host_deps ${_dname})
endforeach()
list(SORT _host_deps)
list(JOIN _host_deps " " _host_deps)
check("the dependencies are vcpkg-cmake and vcpkg-cmake-config (host), not ${_host_deps}"
  _host_deps STREQUAL "vcpkg-cmake vcpkg-cmake-config")

# ---- the portfile and the usage file, as text ----------------------------------------
file(READ "${PORT_DIR}/portfile.cmake" _portfile)
# Deprecated helpers (vcpkg maintainer guide; pr-review-checklist c000001).
foreach(_old vcpkg_configure_cmake vcpkg_build_cmake vcpkg_install_cmake
             vcpkg_fixup_cmake_targets vcpkg_apply_patches vcpkg_extract_source_archive_ex
             vcpkg_test_cmake vcpkg_fail_port_install vcpkg_common_definitions
             vcpkg_check_features_old vcpkg_download_distfile_old)
  if(_portfile MATCHES "(^|[^a-z_])${_old}[ \t]*\\(")
    message(FATAL_ERROR "vcpkg port: portfile.cmake calls the deprecated ${_old}")
  endif()
endforeach()
foreach(_helper vcpkg_from_github vcpkg_cmake_configure vcpkg_cmake_install
                vcpkg_cmake_config_fixup vcpkg_fixup_pkgconfig vcpkg_install_copyright)
  check("portfile.cmake does not call ${_helper}" _portfile MATCHES "${_helper}\\(")
endforeach()
check("the copyright is installed with a hand-made file(INSTALL ... RENAME copyright)"
  NOT _portfile MATCHES "RENAME[ \t\n]+copyright")
file(READ "${PORT_DIR}/usage" _usage)
check("usage does not show find_package(cshm CONFIG REQUIRED)"
  _usage MATCHES "find_package\\(cshm CONFIG REQUIRED\\)")
check("usage does not show cshm::cshm" _usage MATCHES "cshm::cshm")

# ---- the portfile, run with stand-ins for vcpkg's helpers ------------------------------
set(CURRENT_PACKAGES_DIR "${WORK_DIR}/packages/${PORT}")
set(CURRENT_BUILDTREES_DIR "${WORK_DIR}/buildtrees/${PORT}")
set(VCPKG_LIBRARY_LINKAGE ${LINKAGE})
if(LINKAGE STREQUAL "static")
  set(TARGET_TRIPLET x64-linux)
  set(_shared OFF)
else()
  set(TARGET_TRIPLET x64-linux-dynamic)
  set(_shared ON)
endif()
file(REMOVE_RECURSE "${CURRENT_PACKAGES_DIR}" "${CURRENT_BUILDTREES_DIR}")
set_property(GLOBAL PROPERTY _stub_called "")

macro(_stub_parse name options one multi)
  cmake_parse_arguments(PARSE_ARGV 0 arg "${options}" "${one}" "${multi}")
  if(arg_UNPARSED_ARGUMENTS)
    message(FATAL_ERROR "vcpkg port: ${name}: unknown arguments ${arg_UNPARSED_ARGUMENTS}")
  endif()
  set_property(GLOBAL APPEND PROPERTY _stub_called ${name})
endmacro()

function(vcpkg_from_github)
  _stub_parse(vcpkg_from_github ""
    "OUT_SOURCE_PATH;REPO;REF;SHA512;HEAD_REF;GITHUB_HOST;AUTHORIZATION_TOKEN;FILE_DISAMBIGUATOR"
    "PATCHES")
  foreach(_k OUT_SOURCE_PATH REPO REF SHA512 HEAD_REF)
    check("vcpkg_from_github without ${_k}" DEFINED arg_${_k})
  endforeach()
  check("vcpkg_from_github REPO is not owner/name" arg_REPO MATCHES "^[^/]+/[^/]+$")
  check("vcpkg_from_github REF is not the version's tag" arg_REF STREQUAL "v${VERSION}")
  foreach(_p IN LISTS arg_PATCHES)
    check("patch ${_p} is not in the port" EXISTS "${PORT_DIR}/${_p}")
  endforeach()
  message(STATUS "vcpkg_from_github(${arg_REPO} ${arg_REF}): this source tree instead")
  set(${arg_OUT_SOURCE_PATH} "${SOURCE_DIR}" PARENT_SCOPE)
endfunction()

function(vcpkg_cmake_configure)
  _stub_parse(vcpkg_cmake_configure "WINDOWS_USE_MSBUILD;NO_CHARSET_FLAG;DISABLE_PARALLEL_CONFIGURE"
    "SOURCE_PATH;GENERATOR;LOGFILE_BASE" "OPTIONS;OPTIONS_DEBUG;OPTIONS_RELEASE;MAYBE_UNUSED_VARIABLES")
  check("vcpkg_cmake_configure without SOURCE_PATH" EXISTS "${arg_SOURCE_PATH}/CMakeLists.txt")
  # Tests, tools and docs off (maintainer guide), warnings not errors in a package build.
  foreach(_off CSHM_BUILD_TESTS CSHM_BUILD_TOOLS CSHM_WERROR)
    list(FIND arg_OPTIONS "-D${_off}=OFF" _at)
    check("the port does not pass -D${_off}=OFF" NOT _at EQUAL -1)
  endforeach()
  foreach(_config Release Debug)
    if(_config STREQUAL "Release")
      set(_prefix "${CURRENT_PACKAGES_DIR}")
      set(_opts ${arg_OPTIONS} ${arg_OPTIONS_RELEASE})
    else()
      set(_prefix "${CURRENT_PACKAGES_DIR}/debug")
      set(_opts ${arg_OPTIONS} ${arg_OPTIONS_DEBUG})
    endif()
    set(_dir "${CURRENT_BUILDTREES_DIR}/${TARGET_TRIPLET}-${_config}")
    # What vcpkg_cmake_configure passes besides the port's options (vcpkg's CI sets
    # CI too, which is why the port turns CSHM_WERROR off).
    execute_process(
      COMMAND "${CMAKE_COMMAND}" -S "${arg_SOURCE_PATH}" -B "${_dir}" -G "${GENERATOR}"
        -DCMAKE_BUILD_TYPE=${_config} -DBUILD_SHARED_LIBS=${_shared}
        "-DCMAKE_INSTALL_PREFIX=${_prefix}" -DCMAKE_INSTALL_LIBDIR:STRING=lib
        -DCMAKE_INSTALL_BINDIR:STRING=bin ${_opts}
      RESULT_VARIABLE _rc OUTPUT_VARIABLE _out ERROR_VARIABLE _err)
    if(NOT _rc EQUAL 0)
      message(FATAL_ERROR "vcpkg port: configuring (${_config}) failed:\n${_out}\n${_err}")
    endif()
    if(_err MATCHES "Manually-specified variables were not used")
      message(FATAL_ERROR "vcpkg port: the project ignores options the port passes:\n${_err}")
    endif()
    set_property(GLOBAL APPEND PROPERTY _stub_build_dirs "${_dir}")
  endforeach()
endfunction()

function(vcpkg_cmake_install)
  _stub_parse(vcpkg_cmake_install "DISABLE_PARALLEL;ADD_BIN_TO_PATH" "" "")
  get_property(_dirs GLOBAL PROPERTY _stub_build_dirs)
  check("vcpkg_cmake_install before vcpkg_cmake_configure" _dirs)
  foreach(_dir IN LISTS _dirs)
    execute_process(COMMAND "${CMAKE_COMMAND}" --build "${_dir}" --target install
      RESULT_VARIABLE _rc OUTPUT_VARIABLE _out ERROR_VARIABLE _out)
    if(NOT _rc EQUAL 0)
      message(FATAL_ERROR "vcpkg port: building and installing ${_dir} failed:\n${_out}")
    endif()
  endforeach()
endfunction()

function(vcpkg_copy_pdbs)
  _stub_parse(vcpkg_copy_pdbs "" "" "BUILD_PATHS")
endfunction()

function(vcpkg_cmake_config_fixup)
  _stub_parse(vcpkg_cmake_config_fixup "DO_NOT_DELETE_PARENT_CONFIG_PATH;NO_PREFIX_CORRECTION"
    "PACKAGE_NAME;CONFIG_PATH;TOOLS_PATH" "")
  if(NOT arg_PACKAGE_NAME)
    set(arg_PACKAGE_NAME ${PORT})
  endif()
  foreach(_root "${CURRENT_PACKAGES_DIR}" "${CURRENT_PACKAGES_DIR}/debug")
    foreach(_f ${arg_PACKAGE_NAME}Config.cmake ${arg_PACKAGE_NAME}ConfigVersion.cmake
               ${arg_PACKAGE_NAME}Targets.cmake)
      check("${_root}/${arg_CONFIG_PATH}/${_f} was not installed"
        EXISTS "${_root}/${arg_CONFIG_PATH}/${_f}")
    endforeach()
  endforeach()
  check("no debug targets file for vcpkg to merge"
    EXISTS "${CURRENT_PACKAGES_DIR}/debug/${arg_CONFIG_PATH}/${arg_PACKAGE_NAME}Targets-debug.cmake")
endfunction()

function(vcpkg_fixup_pkgconfig)
  _stub_parse(vcpkg_fixup_pkgconfig "SKIP_CHECK" "" "RELEASE_FILES;DEBUG_FILES;SYSTEM_LIBRARIES")
  foreach(_pc "${CURRENT_PACKAGES_DIR}/lib/pkgconfig/${PORT}.pc"
              "${CURRENT_PACKAGES_DIR}/debug/lib/pkgconfig/${PORT}.pc")
    check("${_pc} was not installed" EXISTS "${_pc}")
    file(STRINGS "${_pc}" _prefix_line REGEX "^prefix=")
    check("${_pc}: the prefix is not relative to the file: ${_prefix_line}"
      _prefix_line MATCHES "^prefix=\\\${pcfiledir}/")
  endforeach()
endfunction()

function(vcpkg_install_copyright)
  _stub_parse(vcpkg_install_copyright "" "COMMENT" "FILE_LIST")
  check("vcpkg_install_copyright without FILE_LIST" arg_FILE_LIST)
  set(_text "")
  foreach(_f IN LISTS arg_FILE_LIST)
    check("copyright file ${_f} does not exist" EXISTS "${_f}")
    file(READ "${_f}" _t)
    string(APPEND _text "${_t}")
  endforeach()
  file(WRITE "${CURRENT_PACKAGES_DIR}/share/${PORT}/copyright" "${_text}")
endfunction()

message(STATUS "vcpkg port: running ${PORT_DIR}/portfile.cmake (${TARGET_TRIPLET})")
include("${PORT_DIR}/portfile.cmake")

# ---- what vcpkg's post-build checks would see ----------------------------------------
get_property(_called GLOBAL PROPERTY _stub_called)
foreach(_helper vcpkg_from_github vcpkg_cmake_configure vcpkg_cmake_install
                vcpkg_cmake_config_fixup vcpkg_fixup_pkgconfig vcpkg_install_copyright)
  check("the portfile did not run ${_helper}" _helper IN_LIST _called)
endforeach()
set(_pkg "${CURRENT_PACKAGES_DIR}")
check("share/${PORT}/copyright is missing" EXISTS "${_pkg}/share/${PORT}/copyright")
check("share/${PORT}/usage is missing" EXISTS "${_pkg}/share/${PORT}/usage")
check("debug/include is left" NOT EXISTS "${_pkg}/debug/include")
check("debug/share is left" NOT EXISTS "${_pkg}/debug/share")
check("bin/ exists: tools or DLLs in a Linux package" NOT EXISTS "${_pkg}/bin")
check("debug/bin/ exists" NOT EXISTS "${_pkg}/debug/bin")
check("no man page without the tool" NOT EXISTS "${_pkg}/share/man")
foreach(_h cshm.h version.h cshm_export.h cshm_config.h)
  check("include/cshm/${_h} is missing" EXISTS "${_pkg}/include/cshm/${_h}")
endforeach()
file(READ "${_pkg}/include/cshm/cshm_config.h" _config_h)
if(LINKAGE STREQUAL "static")
  check("a static package's cshm_config.h does not define CSHM_STATIC_DEFINE"
    _config_h MATCHES "#define CSHM_STATIC_DEFINE")
  check("no static library" EXISTS "${_pkg}/lib/libcshm.a" AND EXISTS "${_pkg}/debug/lib/libcshm.a")
else()
  check("a shared package's cshm_config.h defines CSHM_STATIC_DEFINE"
    NOT _config_h MATCHES "#define CSHM_STATIC_DEFINE")
  file(GLOB _so "${_pkg}/lib/libcshm.so*")
  check("no shared library" _so)
  file(GLOB _a "${_pkg}/lib/*.a")
  check("a static library in a dynamic package" NOT _a)
endif()
# Absolute paths of the build machine make a package unusable elsewhere.
file(GLOB_RECURSE _texts "${_pkg}/*.cmake" "${_pkg}/*.pc" "${_pkg}/*.h")
foreach(_f IN LISTS _texts)
  file(READ "${_f}" _t)
  foreach(_abs "${WORK_DIR}" "${SOURCE_DIR}")
    string(FIND "${_t}" "${_abs}" _at)
    check("${_f} contains the absolute path ${_abs}" _at EQUAL -1)
  endforeach()
endforeach()
message(STATUS "vcpkg port: ${TARGET_TRIPLET} passed (${_called})")
