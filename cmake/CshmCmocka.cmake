# Provides the target cmocka::cmocka: from the system (Debian's 1.1.5 config defines
# no target, only CMOCKA_LIBRARIES/CMOCKA_INCLUDE_DIR, so make one), else fetched.
if(TARGET cmocka::cmocka)
  return()
endif()

find_package(cmocka CONFIG QUIET)
if(TARGET cmocka::cmocka)
  return()
elseif(TARGET cmocka)
  add_library(cmocka::cmocka ALIAS cmocka)
  return()
elseif(cmocka_FOUND AND CMOCKA_LIBRARIES)
  add_library(cmocka::cmocka INTERFACE IMPORTED)
  set_target_properties(cmocka::cmocka PROPERTIES
    INTERFACE_LINK_LIBRARIES "${CMOCKA_LIBRARIES}"
    INTERFACE_INCLUDE_DIRECTORIES "${CMOCKA_INCLUDE_DIR}")
  return()
endif()

message(STATUS "CMocka not found on the system: fetching cmocka 1.1.7")
include(FetchContent)
set(WITH_EXAMPLES OFF CACHE BOOL "" FORCE)
set(UNIT_TESTING OFF CACHE BOOL "" FORCE)
set(WITH_STATIC_LIB ON CACHE BOOL "" FORCE)
FetchContent_Declare(cmocka
  GIT_REPOSITORY https://git.cryptomilk.org/projects/cmocka.git
  GIT_TAG cmocka-1.1.7
  GIT_SHALLOW TRUE)
FetchContent_MakeAvailable(cmocka)
if(TARGET cmocka-static)
  add_library(cmocka::cmocka ALIAS cmocka-static)
elseif(TARGET cmocka)
  add_library(cmocka::cmocka ALIAS cmocka)
endif()
