/* Key checks and the frozen default name derivation (DESIGN.md §5).
 *
 * stem = "cshm_" + F + "_" + H, where F is the first 7 ASCII letters and digits of
 * the key, lowercased (F and its "_" are omitted when the key has none), and H is the
 * lowercase RFC 4648 base32 of the first 10 bytes of SHA-1 of the UTF-8 key. The POSIX
 * name is "/" + stem; Windows uses "Local\" + stem and "Local\" + stem + "_lock".
 * Changing any of this would let a new cshm reclaim an old one's live segment. */
#ifndef CSHM_COMMON_NAME_H
#define CSHM_COMMON_NAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Longest stem: "cshm_" + 7 + "_" + 16. */
#define CSHM__STEM_MAX 29

/* True when s (NUL-terminated) is well-formed UTF-8: no overlongs, no surrogates, no
 * code point above U+10FFFF. */
bool cshm__utf8_valid(const char *s);

/* Lowercase RFC 4648 base32 (alphabet a-z2-7) of len bytes, without padding, into
 * out (8 characters per 5 bytes, rounded up, plus NUL). */
void cshm__base32(const uint8_t *in, size_t len, char *out);

/* Writes the stem of a valid, non-empty key into out (CSHM__STEM_MAX + 1 bytes). */
void cshm__default_stem(const char *key, char out[CSHM__STEM_MAX + 1]);

#endif
