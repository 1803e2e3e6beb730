# CSHM_SANITIZER: a list (address;undefined, thread) applied to everything built here.
if(CSHM_SANITIZER)
  if(MSVC)
    message(FATAL_ERROR "CSHM_SANITIZER is for GCC and Clang")
  endif()
  list(JOIN CSHM_SANITIZER "," _cshm_sanitizers)
  add_compile_options(-fsanitize=${_cshm_sanitizers} -fno-omit-frame-pointer -fno-sanitize-recover=all)
  add_link_options(-fsanitize=${_cshm_sanitizers})
endif()
