/* The interop tests' processes ("peers"): a Qt probe (qt_probe.cpp, Qt 5 or Qt 6) or a
 * cshm peer (cshm_peer.c), each a separate process holding one segment handle, driven
 * over pipes. The protocol: one command a line on the peer's standard input, one
 * reply a line on its standard output; the peer says "ready ..." when it starts.
 *
 *   key HEX            set the key (hex of its UTF-8)    -> ok HEX(native key bytes)
 *   create SIZE        create and attach                 -> ok SIZE ... | err CODE TEXT
 *   attach rw|ro       attach                            -> ok SIZE | err ...
 *   lock / unlock      the segment's lock                -> ok | err ...
 *   write HEX          bytes at offset 0                 -> ok
 *   read N             the first N bytes                 -> ok HEX
 *   size / pid / detach / exit
 * cshm only: type NAME, native HEX, attach rw|ro MS (cshm_attach_timeout), trylock,
 * locktimeout MS, create SIZE [noreclaim]
 * [orattach], remove HEX, info. Qt errors are QSharedMemory::SharedMemoryError numbers,
 * cshm errors CSHM_E* names.
 *
 * Every wait for a reply is bounded (PEER_WAIT_MS) so that a broken peer fails a test
 * instead of hanging it; nothing here sleeps to order events. */
#ifndef CSHM_TESTS_INTEROP_PEER_H
#define CSHM_TESTS_INTEROP_PEER_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#define PEER_WAIT_MS 60000

typedef struct peer {
  pid_t pid;
  int to, from; /* our ends of its stdin and stdout; -1 when closed */
  char label[32];
  char line[1 << 16]; /* the last reply */
  char buf[1 << 16];  /* read but not yet returned */
  size_t len;
} peer;

/* Starts argv[0] with argv, TMPDIR set to tmpdir (NULL: unset), stdin from the file
 * `input` when not NULL (then `to` is -1). Returns false when it cannot start. */
bool peer_start(peer *p, const char *label, const char *const argv[], const char *tmpdir,
                const char *input);

/* Sends one command line. */
void peer_send(peer *p, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* The next reply line (without its newline): "<eof>" when the peer closed its output,
 * "<timeout>" after PEER_WAIT_MS. */
const char *peer_wait(peer *p);

/* peer_send + peer_wait. */
const char *peer_call(peer *p, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* True when a reply is already there (does not wait). */
bool peer_has_reply(peer *p);

/* Asks the peer to exit and reaps it; returns its exit status (-1: killed or hung). */
int peer_stop(peer *p);

/* SIGKILL and reap. */
void peer_kill(peer *p);

/* Lowercase hex of n bytes into a string that lives until the next 16 calls. */
const char *hex_of(const void *p, size_t n);
const char *hex_str(const char *s);

/* Decodes hex into out (cap bytes, NUL-terminated); returns the byte count. */
size_t unhex(const char *hex, char *out, size_t cap);

/* True when s starts with prefix. */
bool starts_with(const char *s, const char *prefix);

#endif
