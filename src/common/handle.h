/* The handle behind the opaque cshm type. Front end and key types only. */
#ifndef CSHM_COMMON_HANDLE_H
#define CSHM_COMMON_HANDLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cshm/cshm.h"
#include "heldlock.h"
#include "keytype.h"
#include "sys.h"

#include "error.h"

struct cshm {
  const cshm__keytype *kt;
  cshm_key_type type;
  char *key;    /* NULL when none, or only a native key, was set */
  char *native; /* NULL when no key is set */
  unsigned perms;
  unsigned fork_generation; /* cshm__sys_fork_generation() when the handle was made */

  int error;
  cshm__message message; /* its parts may point at key, native and the attachment */
  uint64_t strings;      /* cshm__message_source_new() whenever those change (0: never) */

  /* Attachment: seg is NULL when detached. */
  cshm__sys_segment *seg;
  cshm__segment_view view;
  void *data;
  size_t size;
  cshm__identity identity;
  const void *holder; /* thread token holding the lock through this handle, or NULL */
  bool track_held;    /* record held locks (the key type's lock cannot tell a relock) */
  bool keep;          /* CSHM_ATTACH_KEEP: detaching never removes the segment */
};

#endif
