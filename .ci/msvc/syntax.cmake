# CMAKE_PROJECT_INCLUDE of .ci/steps/52-msvc-syntax.sh's MSVC-mode builds: after
# project(), so that CMake's compiler checks see a plain compiler. Every target gets
# c4996.h forced in (MSVC's C4996 deprecations) and ucrt-missing/ first on its
# include path (headers the UCRT and the Windows SDK do not have).
add_compile_options("/FI${CMAKE_CURRENT_LIST_DIR}/c4996.h")
include_directories(BEFORE "${CMAKE_CURRENT_LIST_DIR}/ucrt-missing")
