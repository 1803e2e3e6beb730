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

/* Opens the name's liveness file (creating it with `create`). A forked child closes
 * its copy of *fd until cshm__sidecar_handed_over() (the segment's own fork guard
 * takes over) or cshm__sidecar_close(). */
int cshm__sidecar_open_live(const char *native, bool create, int *fd, cshm__diag *d);

/* Closes a descriptor from cshm__sidecar_open_live(). */
void cshm__sidecar_close(int fd);

/* The descriptor from cshm__sidecar_open_live() is tracked elsewhere now
 * (cshm__posix_track): this file no longer closes it in a forked child. */
void cshm__sidecar_handed_over(int fd);

/* *holders: whether any process holds the name's liveness file (shared). */
int cshm__sidecar_has_holders(const char *native, bool *holders, cshm__diag *d);

/* Removes the name's sidecars; the caller holds the admin lock. */
void cshm__sidecar_remove(const char *native);

/* ---- lock_portable.c ----------------------------------------------------------- */

/* The identity of the tokens file the lock's tokens come from (lock_area: the
 * header's lock area); 0 when none is recorded (a segment of an older version). */
uint64_t cshm__portable_lock_tokens_id(const void *lock_area);

/* Records this process's tokens file in a new segment's lock area (lock_area), if
 * none is recorded yet; best effort (a first locker records its own). */
void cshm__portable_lock_record_tokens(void *lock_area);

/* ---- names_portable.c ----------------------------------------------------------- */

/* The application group set with cshm_set_app_group(), or NULL. */
const char *cshm__portable_app_group(void);

/* ---- tokens.c ----------------------------------------------------------------- */

/* This process's liveness token, made on first use (and again in a forked child):
 * euid << 32 | slot << 16 | generation, never 0. The slot is a byte of the per-user
 * tokens file that this process keeps locked (fcntl) for its whole life. */
int cshm__token_mine(uint64_t *token, cshm__diag *d);

/* The identity of this user's tokens file (random, never 0), made on first use: a
 * token can be checked only against the file it comes from. */
int cshm__tokens_file_id(uint64_t *id, cshm__diag *d);

/* The same without opening the file: 0 while this process has not opened it. */
uint64_t cshm__tokens_file_id_if_open(void);

/* The user field of a token nobody can check: no process has effective uid
 * (uid_t)-1, so every cshm version takes its owner as alive. */
#define CSHM__TOKEN_NO_USER 0xffffffffu

/* `token` made uncheckable: what a process puts in the lock word of a segment whose
 * tokens file is not its own (lock_portable.c). */
uint64_t cshm__token_unverifiable(uint64_t token);

/* True when the process that owns `token` is known to be gone: a token of this
 * process's user and tokens file (the caller has checked that the lock's tokens
 * come from this file), whose slot is unlocked or reused. No system call but the
 * probe itself (F_GETLK, and pread). A token of another user cannot be checked:
 * false. */
bool cshm__token_dead(uint64_t token);

#endif
