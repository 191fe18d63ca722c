// test_unicode.c — UTF-8 decoding and repair (maximal subparts), canonical normalization.
#include <stdlib.h>

#include "test.h"
#include "unicode.h"

static size_t dec(const char *s, size_t len, uint32_t *cp) {
  return utf8_decode((const unsigned char *)s, len, cp);
}

TEST(utf8_decode_valid) {
  uint32_t cp;
  EXPECT_INT_EQ(dec("A", 1, &cp), 1);
  EXPECT_INT_EQ(cp, 0x41);
  EXPECT_INT_EQ(dec("\xC3\xA9", 2, &cp), 2);
  EXPECT_INT_EQ(cp, 0xE9);
  EXPECT_INT_EQ(dec("\xE4\xB8\xAD", 3, &cp), 3);
  EXPECT_INT_EQ(cp, 0x4E2D);
  EXPECT_INT_EQ(dec("\xF0\x9F\x98\x80", 4, &cp), 4);
  EXPECT_INT_EQ(cp, 0x1F600);
  EXPECT_INT_EQ(dec("\xF4\x8F\xBF\xBF", 4, &cp), 4);
  EXPECT_INT_EQ(cp, 0x10FFFF);
  EXPECT_INT_EQ(dec("\x00", 1, &cp), 1);
  EXPECT_INT_EQ(cp, 0);
}

TEST(utf8_decode_invalid) {
  uint32_t cp;
  EXPECT_INT_EQ(dec("\x80", 1, &cp), 0);              // lone continuation
  EXPECT_INT_EQ(dec("\xC0\xAF", 2, &cp), 0);          // overlong
  EXPECT_INT_EQ(dec("\xC1\xBF", 2, &cp), 0);          // overlong
  EXPECT_INT_EQ(dec("\xE0\x80\xAF", 3, &cp), 0);      // overlong
  EXPECT_INT_EQ(dec("\xED\xA0\x80", 3, &cp), 0);      // surrogate
  EXPECT_INT_EQ(dec("\xF0\x80\x80\x80", 4, &cp), 0);  // overlong
  EXPECT_INT_EQ(dec("\xF4\x90\x80\x80", 4, &cp), 0);  // above U+10FFFF
  EXPECT_INT_EQ(dec("\xF5\x80\x80\x80", 4, &cp), 0);
  EXPECT_INT_EQ(dec("\xE2\x82", 2, &cp), 0);          // truncated
  EXPECT_INT_EQ(dec("\xC3" "A", 2, &cp), 0);
}

TEST(utf8_maximal_subparts) {
  // Lengths replaced by one U+FFFD each, as Python's decode(errors="replace") does.
  EXPECT_INT_EQ(utf8_invalid_len((const unsigned char *)"\x80", 1), 1);
  EXPECT_INT_EQ(utf8_invalid_len((const unsigned char *)"\xE2\x82", 2), 2);
  EXPECT_INT_EQ(utf8_invalid_len((const unsigned char *)"\xF0\x9F\x98", 3), 3);
  EXPECT_INT_EQ(utf8_invalid_len((const unsigned char *)"\xED\xA0\x80", 3), 1);
  EXPECT_INT_EQ(utf8_invalid_len((const unsigned char *)"\xE0\x80\x80", 3), 1);
  EXPECT_INT_EQ(utf8_invalid_len((const unsigned char *)"\xF4\x90\x80", 3), 1);
  EXPECT_INT_EQ(utf8_invalid_len((const unsigned char *)"\xF0\x9F\x41", 3), 2);
  EXPECT_INT_EQ(utf8_invalid_len((const unsigned char *)"\xFF", 1), 1);
}

TEST(utf8_repair_replaces) {
  size_t n;
  char *r = utf8_repair("a\xFF" "b", 3, &n);
  EXPECT_INT_EQ(n, 5);
  EXPECT_STR_EQ(r, "a\xEF\xBF\xBD" "b");
  free(r);
  r = utf8_repair("\xF0\x9F\x98 \xED\xA0\x80", 7, &n);
  EXPECT_STR_EQ(r, "\xEF\xBF\xBD \xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");
  free(r);
  EXPECT_INT_EQ(utf8_valid_prefix("ok\xC3\xA9\xC3", 5), 4);
  EXPECT_INT_EQ(utf8_valid_prefix("ok", 2), 2);
}

TEST(utf8_encode_roundtrip) {
  const uint32_t cps[] = {0, 0x7F, 0x80, 0x7FF, 0x800, 0xFFFD, 0xFFFF, 0x10000, 0x10FFFF};
  for (size_t i = 0; i < sizeof cps / sizeof cps[0]; i++) {
    char b[4];
    uint32_t cp;
    size_t n = utf8_encode(cps[i], b);
    EXPECT_INT_EQ(utf8_decode((const unsigned char *)b, n, &cp), n);
    EXPECT_INT_EQ(cp, cps[i]);
  }
}

static const char *nfc(const char *s, StrBuf *b) {
  return unicode_nfc(s, strlen(s), b) ? b->data : s;
}

static const char *nfd(const char *s, StrBuf *b) {
  return unicode_nfd(s, strlen(s), b) ? b->data : s;
}

TEST(nfc_known) {
  StrBuf b = {0};
  EXPECT_STR_EQ(nfc("cafe\xCC\x81", &b), "caf\xC3\xA9");                      // e + U+0301
  EXPECT_INT_EQ(unicode_nfc("caf\xC3\xA9", 5, &b), 0);                         // already NFC
  EXPECT_STR_EQ(nfc("\xE2\x84\xAB", &b), "\xC3\x85");                          // U+212B -> U+00C5
  EXPECT_STR_EQ(nfc("q\xCC\x87\xCC\xA3", &b), "q\xCC\xA3\xCC\x87");            // reordered
  EXPECT_STR_EQ(nfc("\xE1\x84\x92\xE1\x85\xA1\xE1\x86\xAB", &b), "\xED\x95\x9C");  // jamo -> 한
  EXPECT_STR_EQ(nfc("\xE0\xA5\x98", &b), "\xE0\xA4\x95\xE0\xA4\xBC");          // exclusion U+0958
  EXPECT_STR_EQ(nfc("a\xCC\x88\xCC\x81", &b), "\xC3\xA4\xCC\x81");             // ä + acute
  EXPECT_STR_EQ(nfc("e\xCC\xA3\xCC\x82", &b), "\xE1\xBB\x87");                 // ệ
  EXPECT_STR_EQ(nfc("\xCC\x81x", &b), "\xCC\x81x");                            // lone mark
  sb_free(&b);
}

TEST(nfd_known) {
  StrBuf b = {0};
  EXPECT_STR_EQ(nfd("caf\xC3\xA9", &b), "cafe\xCC\x81");
  EXPECT_STR_EQ(nfd("\xED\x95\x9C", &b), "\xE1\x84\x92\xE1\x85\xA1\xE1\x86\xAB");
  EXPECT_STR_EQ(nfd("\xE1\xBB\x87", &b), "e\xCC\xA3\xCC\x82");
  EXPECT_INT_EQ(unicode_nfd("plain ascii", 11, &b), 0);
  sb_free(&b);
}

TEST(unicode_9_data) {
  // The table is Unicode 9.0.0, as HF tokenizers: later additions have no data.
  EXPECT_STR_EQ(unicode_nfc_version(), "9.0.0");
  EXPECT_INT_EQ(unicode_ccc(0x0301), 230);
  EXPECT_INT_EQ(unicode_ccc(0x094D), 9);
  EXPECT_INT_EQ(unicode_ccc(0x0C3C), 0);   // Telugu nukta, ccc 7 since Unicode 14
  StrBuf b = {0};
  EXPECT_INT_EQ(unicode_nfd("\xF0\x91\xA4\xB8", 4, &b), 0);  // U+11938, decomposes since 13.0
  sb_free(&b);
}

TEST(nfc_long_mark_run_is_fast) {
  // 100k alternating combining marks after one base: one segment, sorted in O(n log n).
  size_t n = 100000;
  StrBuf in = {0};
  sb_append(&in, "a");
  for (size_t i = 0; i < n; i++) sb_append(&in, i % 2 ? "\xCC\x81" : "\xCC\xA3");
  StrBuf out = {0};
  double t0 = mono_time();
  EXPECT_INT_EQ(unicode_nfc(in.data, in.len, &out), 1);
  EXPECT(mono_time() - t0 < 5.0);
  EXPECT_INT_EQ(out.len, in.len);  // a + U+0323 compose to U+1EA1 (3 bytes for 1 + 2)
  EXPECT(memcmp(out.data, "\xE1\xBA\xA1", 3) == 0);
  sb_free(&in);
  sb_free(&out);
}

TEST(white_space) {
  EXPECT(unicode_is_white_space(' '));
  EXPECT(unicode_is_white_space('\t'));
  EXPECT(unicode_is_white_space(0x85));
  EXPECT(unicode_is_white_space(0x3000));
  EXPECT(!unicode_is_white_space(0x180E));
  EXPECT(!unicode_is_white_space(0x200B));
  EXPECT(!unicode_is_white_space('a'));
}

int main(void) {
  RUN(utf8_decode_valid);
  RUN(utf8_decode_invalid);
  RUN(utf8_maximal_subparts);
  RUN(utf8_repair_replaces);
  RUN(utf8_encode_roundtrip);
  RUN(nfc_known);
  RUN(nfd_known);
  RUN(unicode_9_data);
  RUN(nfc_long_mark_run_is_fast);
  RUN(white_space);
  TEST_SUMMARY();
}
