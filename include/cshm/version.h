/** @file
 * cshm version macros. The run-time counterparts are cshm_version() and
 * cshm_version_string() in cshm.h: compare them to catch a header/library mismatch. */
#ifndef CSHM_VERSION_H
#define CSHM_VERSION_H

#define CSHM_VERSION_MAJOR 0
#define CSHM_VERSION_MINOR 1
#define CSHM_VERSION_PATCH 0

/** 0xMMmmpp: comparable with < and >. */
#define CSHM_VERSION_HEX                                                       \
  ((CSHM_VERSION_MAJOR << 16) | (CSHM_VERSION_MINOR << 8) | CSHM_VERSION_PATCH)

#define CSHM__STR2(x) #x
#define CSHM__STR(x) CSHM__STR2(x)
#define CSHM_VERSION_STRING                                                    \
  CSHM__STR(CSHM_VERSION_MAJOR)                                                \
  "." CSHM__STR(CSHM_VERSION_MINOR) "." CSHM__STR(CSHM_VERSION_PATCH)

#endif
