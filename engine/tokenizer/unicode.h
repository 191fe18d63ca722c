// unicode.h — UTF-8 decoding/encoding and repair, canonical normalization (NFC/NFD) and a few
// character properties, as the tokenizer needs them. Normalization data is Unicode 9.0.0 (what
// Hugging Face `tokenizers` uses), from engine/tokenizer/unicode_nfc_table.h.
#ifndef BENCH_UNICODE_H
#define BENCH_UNICODE_H

#include <stddef.h>
#include <stdint.h>

#include "util.h"

#define UNICODE_REPLACEMENT 0xFFFDu

// Decodes the character at s[0..len): returns its byte length (1-4) and sets *cp, or returns 0
// when the bytes there are not well-formed UTF-8 (overlongs, surrogates and > U+10FFFF included).
size_t utf8_decode(const unsigned char *s, size_t len, uint32_t *cp);
// Length of the maximal ill-formed prefix at s (>= 1) when utf8_decode returned 0: the unit that
// one U+FFFD replaces under the Unicode "maximal subpart" practice (as Python's
// bytes.decode('utf-8', 'replace') and Rust's String::from_utf8_lossy do).
size_t utf8_invalid_len(const unsigned char *s, size_t len);
// Encodes cp (<= 0x10FFFF) into out; returns the byte length (1-4).
size_t utf8_encode(uint32_t cp, char out[4]);
// Byte offset of the first ill-formed sequence, or len when s is valid UTF-8.
size_t utf8_valid_prefix(const char *s, size_t len);
// Copy of s with every maximal ill-formed subpart replaced by U+FFFD (caller frees).
char *utf8_repair(const char *s, size_t len, size_t *out_len);

// Canonical normalization of valid UTF-8. Returns 0 when s is already normalized (out untouched),
// 1 when the normalized text was written to out (out is reset first).
int unicode_nfc(const char *s, size_t len, StrBuf *out);
int unicode_nfd(const char *s, size_t len, StrBuf *out);
// Canonical combining class (Unicode 9.0.0).
int unicode_ccc(uint32_t cp);
// Unicode White_Space property (the 25 code points of UCD PropList.txt).
int unicode_is_white_space(uint32_t cp);
// Unicode version of the normalization data.
const char *unicode_nfc_version(void);

#endif
