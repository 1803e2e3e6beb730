/* What the portable profile's files share (DESIGN.md §6): the mechanisms macOS has,
 * used on every OS where CSHM_POSIX_PORTABLE is on. */
#ifndef CSHM_POSIX_PORTABLE_H
#define CSHM_POSIX_PORTABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "diag.h"
#include "posix.h"

/* macOS: PSHMNAMLEN is 31, the leading "/" included. */
#define CSHM__PORTABLE_NAME_MAX 31

/* macOS sizes objects in whole pages, 16 KiB on arm64: every object is rounded up
 * to this, so one size works for every process of every architecture. */
#define CSHM__PORTABLE_ROUND 16384u

/* ---- sidecar.c ---------------------------------------------------------------- */

/* The per-user directory of the sidecar files, made on first use. Returns CSHM_OK or
 * CSHM_EPERM (not ours, a symlink, writable by others) or an OS error. */
int cshm__sidecar_dir(const char **dir, cshm__diag *d);

/* <dir>/<hash of native><suffix>. */
int cshm__sidecar_path(const char *native, const char *suffix, char *out, size_t cap,
                       cshm__diag *d);

/* Takes the name's admin lock (exclusive, waiting); *fd is released with unlock. */
int cshm__sidecar_admin_lock(const char *native, int *fd, cshm__diag *d);
void cshm__sidecar_admin_unlock(int fd);

/* Opens the name's liveness file (creating it with `create`). */
int cshm__sidecar_open_live(const char *native, bool create, int *fd, cshm__diag *d);

/* *holders: whether any process holds the name's liveness file (shared). */
int cshm__sidecar_has_holders(const char *native, bool *holders, cshm__diag *d);

/* Removes the name's sidecars; the caller holds the admin lock. */
void cshm__sidecar_remove(const char *native);

/* ---- names_portable.c ----------------------------------------------------------- */

/* The application group set with cshm_set_app_group(), or NULL. */
const char *cshm__portable_app_group(void);

/* ---- tokens.c ----------------------------------------------------------------- */

/* This process's liveness token, made on first use (and again in a forked child):
 * euid << 32 | slot << 16 | generation, never 0. The slot is a byte of the per-user
 * tokens file that this process keeps locked (fcntl) for its whole life. */
int cshm__token_mine(uint64_t *token, cshm__diag *d);

/* True when the process that owns `token` is known to be gone: same user, and its
 * slot is unlocked or reused. A token of another user cannot be checked: false. */
bool cshm__token_dead(uint64_t token);

#endif
