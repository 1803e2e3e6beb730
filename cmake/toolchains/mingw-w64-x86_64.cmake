# Cross-compiles for 64-bit Windows with Debian's mingw-w64 and runs the results
# (ctest, `cmake --build --target demo`) under Wine:
#
#   cmake -S . -B build/windows -G Ninja \
#     -DCMAKE_TOOLCHAIN_FILE=cmake/toolchains/mingw-w64-x86_64.cmake \
#     -DCMAKE_FIND_ROOT_PATH=/prefix/of/a/cross-built/cmocka
#
# Debian packages: gcc-mingw-w64-x86-64-win32 (or the mingw-w64 metapackage) and
# wine64. Executables are linked statically (-static), so no MinGW runtime DLL has
# to be found (no WINEPATH). The emulator is Debian's 64-bit loader
# /usr/lib/wine/wine64; another one with -DCSHM_WINE=/path/to/wine.
set(CMAKE_SYSTEM_NAME Windows)
set(CMAKE_SYSTEM_PROCESSOR AMD64)

set(CSHM_MINGW_PREFIX x86_64-w64-mingw32 CACHE STRING "Target triplet of the MinGW tools")
# Debian: gcc-mingw-w64-x86-64-win32 (or -posix) installs the compiler under these
# names; the C compiler is all cshm needs.
find_program(CMAKE_C_COMPILER
  NAMES ${CSHM_MINGW_PREFIX}-gcc ${CSHM_MINGW_PREFIX}-gcc-win32 ${CSHM_MINGW_PREFIX}-gcc-posix
  REQUIRED)
find_program(_cshm_mingw_cxx NAMES ${CSHM_MINGW_PREFIX}-g++)
if(_cshm_mingw_cxx)
  set(CMAKE_CXX_COMPILER ${_cshm_mingw_cxx})
endif()
find_program(CMAKE_RC_COMPILER NAMES ${CSHM_MINGW_PREFIX}-windres REQUIRED)

# Look for libraries and headers (CMocka) only in the target's prefixes; programs on
# the build machine. Add prefixes of cross-built dependencies on the command line:
# -DCMAKE_FIND_ROOT_PATH=/path/to/prefix (as .ci/steps/50-windows.sh does).
list(APPEND CMAKE_FIND_ROOT_PATH /usr/${CSHM_MINGW_PREFIX})
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)

# Debian's wine64 installs the 64-bit loader here (no `wine` wrapper without the
# `wine` package).
find_program(CSHM_WINE NAMES wine64 wine PATHS /usr/lib/wine NO_DEFAULT_PATH)
find_program(CSHM_WINE NAMES wine64 wine)
if(CSHM_WINE)
  set(CMAKE_CROSSCOMPILING_EMULATOR ${CSHM_WINE})
endif()

# No DLLs to find at run time: the MinGW runtime (libgcc; winpthread with the posix
# thread model) is linked in.
set(CMAKE_EXE_LINKER_FLAGS_INIT "-static")
set(CMAKE_SHARED_LINKER_FLAGS_INIT "-static")
