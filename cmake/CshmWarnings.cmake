# cshm_set_warnings(target): the warning set of every target this project compiles.
function(cshm_set_warnings target)
  if(MSVC)
    target_compile_options(${target} PRIVATE /W4)
  else()
    target_compile_options(${target} PRIVATE
      -Wall -Wextra -Wpedantic -Wshadow -Wstrict-prototypes -Wmissing-prototypes
      -Wconversion -Wsign-conversion -Wwrite-strings -Wformat=2 -Wundef)
  endif()
  if(CSHM_WERROR)
    set_target_properties(${target} PROPERTIES COMPILE_WARNING_AS_ERROR ON)
  endif()
endfunction()
