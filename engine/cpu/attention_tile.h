// attention_tile.h — the fp32 attention's tile kernels, included twice by attention_cpu.c: with
// ATT_LANES 8 (CPU_HOT: an AVX2 clone and a portable one) and with ATT_LANES 16 (CPU_AVX512).
// Both widths compute every number in the same order:
//   score   s_ij = Σ_d q̂_id k_jd with q̂ = q·scale (rounded once), d ascending from 0 (one fused
//           chain per score; lanes over keys)
//   weights p_ij = e^(s_ij − m'_i) over 16-key groups of the tile, their lane sums in one tree
//           (v16_hsum); m'_i = max(m_i, the row's visible scores)
//   output  acc_id = acc_id · corr_i, then + p_ij v_jd, j ascending (lanes over dims)
// What differs is the register tile: rows per group (4 or 8) and keys per score tile (16 or 32).
// A group computes the keys any of its rows sees; a row's weights for keys it cannot see are exact
// zeros, so a wider group only adds + 0 terms.
// Needs from the includer: ATT_LANES, ATT_ATTR (the functions' attributes), ATT_FN(name) (a name
// per width), ATT_BQ, ATT_BK, AttTiles, AttScratch, att_first_key.
// Legend: BK keys per tile, D head dim, Dp = D padded to 16 (padding holds zeros), RG rows per
//         register group, KW keys per score register tile.

#if ATT_LANES == 16
#define ATT_RG 8
#define ATT_KW 32
#define ATT_LOAD v16_load
#define ATT_STORE v16_store
#else
#define ATT_RG 4
#define ATT_KW 16
#define ATT_LOAD v8_load
#define ATT_STORE v8_store
#endif

// s[RG, BK] (row stride BK) at keys [kb0, kb1) (multiples of KW) = q[RG, D] (row stride Dp) ·
// kt[D, BK] (the tile's keys, transposed). Register tile RG rows × KW keys, written out
// (compilers keep named vectors in registers, arrays of them on the stack).
CPU_INLINE void ATT_FN(att_scores)(float *s, const float *q, const float *kt, int D, int Dp,
                                   int kb0, int kb1) {
  const float *q0 = q, *q1 = q0 + Dp, *q2 = q1 + Dp, *q3 = q2 + Dp;
#if ATT_LANES == 16
  const float *q4 = q3 + Dp, *q5 = q4 + Dp, *q6 = q5 + Dp, *q7 = q6 + Dp;
  for (int jb = kb0; jb < kb1; jb += ATT_KW) {
    v16f a0 = {0}, b0 = {0}, a1 = {0}, b1 = {0}, a2 = {0}, b2 = {0}, a3 = {0}, b3 = {0};
    v16f a4 = {0}, b4 = {0}, a5 = {0}, b5 = {0}, a6 = {0}, b6 = {0}, a7 = {0}, b7 = {0};
    const float *k = kt + jb;
    for (int d = 0; d < D; d++, k += ATT_BK) {
      v16f k0 = v16_load(k), k1 = v16_load(k + 16);
      a0 += q0[d] * k0, b0 += q0[d] * k1;
      a1 += q1[d] * k0, b1 += q1[d] * k1;
      a2 += q2[d] * k0, b2 += q2[d] * k1;
      a3 += q3[d] * k0, b3 += q3[d] * k1;
      a4 += q4[d] * k0, b4 += q4[d] * k1;
      a5 += q5[d] * k0, b5 += q5[d] * k1;
      a6 += q6[d] * k0, b6 += q6[d] * k1;
      a7 += q7[d] * k0, b7 += q7[d] * k1;
    }
    float *o = s + jb;
    v16_store(o, a0); v16_store(o + 16, b0); o += ATT_BK;
    v16_store(o, a1); v16_store(o + 16, b1); o += ATT_BK;
    v16_store(o, a2); v16_store(o + 16, b2); o += ATT_BK;
    v16_store(o, a3); v16_store(o + 16, b3); o += ATT_BK;
    v16_store(o, a4); v16_store(o + 16, b4); o += ATT_BK;
    v16_store(o, a5); v16_store(o + 16, b5); o += ATT_BK;
    v16_store(o, a6); v16_store(o + 16, b6); o += ATT_BK;
    v16_store(o, a7); v16_store(o + 16, b7);
  }
#else
  for (int jb = kb0; jb < kb1; jb += ATT_KW) {
    v8f a0 = {0}, b0 = {0}, a1 = {0}, b1 = {0}, a2 = {0}, b2 = {0}, a3 = {0}, b3 = {0};
    const float *k = kt + jb;
    for (int d = 0; d < D; d++, k += ATT_BK) {
      v8f k0 = v8_load(k), k1 = v8_load(k + 8);
      a0 += q0[d] * k0, b0 += q0[d] * k1;
      a1 += q1[d] * k0, b1 += q1[d] * k1;
      a2 += q2[d] * k0, b2 += q2[d] * k1;
      a3 += q3[d] * k0, b3 += q3[d] * k1;
    }
    float *o = s + jb;
    v8_store(o, a0); v8_store(o + 8, b0); o += ATT_BK;
    v8_store(o, a1); v8_store(o + 8, b1); o += ATT_BK;
    v8_store(o, a2); v8_store(o + 8, b2); o += ATT_BK;
    v8_store(o, a3); v8_store(o + 8, b3);
  }
#endif
}

// acc[RG, Dp] (row stride Dp) = acc · corr[RG] + s[RG, keys jlo..jhi) · vt[keys, Dp]: register
// tiles of RG rows × 32 dims (16 lanes; then × 16 for a last 16) or 4 rows × 16 dims (8 lanes),
// each weight loaded once for two vectors of values.
CPU_INLINE void ATT_FN(att_accumulate)(float *acc, const float *s, const float *vt,
                                       const float *corr, int Dp, int jlo, int jhi) {
  const float *s0 = s, *s1 = s0 + ATT_BK, *s2 = s1 + ATT_BK, *s3 = s2 + ATT_BK;
#if ATT_LANES == 16
  const float *s4 = s3 + ATT_BK, *s5 = s4 + ATT_BK, *s6 = s5 + ATT_BK, *s7 = s6 + ATT_BK;
#define ACC_ROW(r, db) (v16_load(acc + (r) * Dp + (db)) * corr[r])
  int db = 0;
  for (; db + 32 <= Dp; db += 32) {
    v16f o0 = ACC_ROW(0, db), o1 = ACC_ROW(1, db), o2 = ACC_ROW(2, db), o3 = ACC_ROW(3, db);
    v16f o4 = ACC_ROW(4, db), o5 = ACC_ROW(5, db), o6 = ACC_ROW(6, db), o7 = ACC_ROW(7, db);
    v16f p0 = ACC_ROW(0, db + 16), p1 = ACC_ROW(1, db + 16), p2 = ACC_ROW(2, db + 16),
         p3 = ACC_ROW(3, db + 16), p4 = ACC_ROW(4, db + 16), p5 = ACC_ROW(5, db + 16),
         p6 = ACC_ROW(6, db + 16), p7 = ACC_ROW(7, db + 16);
    const float *vj = vt + (long)jlo * Dp + db;
    for (int j = jlo; j < jhi; j++, vj += Dp) {
      v16f x = v16_load(vj), y = v16_load(vj + 16);
      o0 += s0[j] * x, p0 += s0[j] * y;
      o1 += s1[j] * x, p1 += s1[j] * y;
      o2 += s2[j] * x, p2 += s2[j] * y;
      o3 += s3[j] * x, p3 += s3[j] * y;
      o4 += s4[j] * x, p4 += s4[j] * y;
      o5 += s5[j] * x, p5 += s5[j] * y;
      o6 += s6[j] * x, p6 += s6[j] * y;
      o7 += s7[j] * x, p7 += s7[j] * y;
    }
    float *a = acc + db;
    v16_store(a, o0); v16_store(a + 16, p0); a += Dp;
    v16_store(a, o1); v16_store(a + 16, p1); a += Dp;
    v16_store(a, o2); v16_store(a + 16, p2); a += Dp;
    v16_store(a, o3); v16_store(a + 16, p3); a += Dp;
    v16_store(a, o4); v16_store(a + 16, p4); a += Dp;
    v16_store(a, o5); v16_store(a + 16, p5); a += Dp;
    v16_store(a, o6); v16_store(a + 16, p6); a += Dp;
    v16_store(a, o7); v16_store(a + 16, p7);
  }
  if (db < Dp) {  // a last 16 dims (Dp is a multiple of 16)
    v16f o0 = ACC_ROW(0, db), o1 = ACC_ROW(1, db), o2 = ACC_ROW(2, db), o3 = ACC_ROW(3, db);
    v16f o4 = ACC_ROW(4, db), o5 = ACC_ROW(5, db), o6 = ACC_ROW(6, db), o7 = ACC_ROW(7, db);
    const float *vj = vt + (long)jlo * Dp + db;
    for (int j = jlo; j < jhi; j++, vj += Dp) {
      v16f x = v16_load(vj);
      o0 += s0[j] * x, o1 += s1[j] * x, o2 += s2[j] * x, o3 += s3[j] * x;
      o4 += s4[j] * x, o5 += s5[j] * x, o6 += s6[j] * x, o7 += s7[j] * x;
    }
    float *a = acc + db;
    v16_store(a, o0); a += Dp;
    v16_store(a, o1); a += Dp;
    v16_store(a, o2); a += Dp;
    v16_store(a, o3); a += Dp;
    v16_store(a, o4); a += Dp;
    v16_store(a, o5); a += Dp;
    v16_store(a, o6); a += Dp;
    v16_store(a, o7);
  }
#undef ACC_ROW
#else
#define ACC_ROW(r, db) (v8_load(acc + (r) * Dp + (db)) * corr[r])
  for (int db = 0; db < Dp; db += 16) {
    v8f o0 = ACC_ROW(0, db), o1 = ACC_ROW(1, db), o2 = ACC_ROW(2, db), o3 = ACC_ROW(3, db);
    v8f p0 = ACC_ROW(0, db + 8), p1 = ACC_ROW(1, db + 8), p2 = ACC_ROW(2, db + 8),
        p3 = ACC_ROW(3, db + 8);
    const float *vj = vt + (long)jlo * Dp + db;
    for (int j = jlo; j < jhi; j++, vj += Dp) {
      v8f x = v8_load(vj), y = v8_load(vj + 8);
      o0 += s0[j] * x, p0 += s0[j] * y;
      o1 += s1[j] * x, p1 += s1[j] * y;
      o2 += s2[j] * x, p2 += s2[j] * y;
      o3 += s3[j] * x, p3 += s3[j] * y;
    }
    float *a = acc + db;
    v8_store(a, o0); v8_store(a + 8, p0); a += Dp;
    v8_store(a, o1); v8_store(a + 8, p1); a += Dp;
    v8_store(a, o2); v8_store(a + 8, p2); a += Dp;
    v8_store(a, o3); v8_store(a + 8, p3);
  }
#undef ACC_ROW
#endif
}

// One row's online-softmax step over the tile's keys [c0, c1) (multiples of 16), of which it sees
// [jlo, jhi): s becomes the weights (0 where not visible); m, l and corr (the rescale of what
// was summed before) are updated. A row that sees no key here gets zero weights and corr = 1.
CPU_INLINE void ATT_FN(att_softmax_row)(float *s, float *m, float *l, float *corr, int c0, int c1,
                                        int jlo, int jhi) {
  if (jlo >= jhi) {
    memset(s + c0, 0, sizeof(float) * (size_t)(c1 - c0));
    *corr = 1.0f;
    return;
  }
  for (int jb = c0; jb < c1; jb += 16)  // −inf outside what the row sees
    if (jb < jlo || jb + 16 > jhi)
      for (int j = jb; j < jb + 16; j++) s[j] = j >= jlo && j < jhi ? s[j] : -INFINITY;
#if ATT_LANES == 16
  v16f mx = v16_splat(-INFINITY);
  for (int jb = c0; jb < c1; jb += 16) mx = v16_max(mx, v16_load(s + jb));
  float tmax = v16_hmax(mx), mnew = *m > tmax ? *m : tmax;
  v16f sum = v16_splat(0.0f);
  for (int jb = c0; jb < c1; jb += 16) {
    v16f p = v16_exp(v16_load(s + jb) - mnew);
    v16_store(s + jb, p);
    sum += p;
  }
  float total = v16_hsum(sum);
#else  // the same sums: lo holds lanes 0-7 of each 16-key group, hi lanes 8-15
  v8f mx = v8_splat(-INFINITY);
  for (int jb = c0; jb < c1; jb += 8) mx = v8_max(mx, v8_load(s + jb));
  float tmax = v8_hmax(mx), mnew = *m > tmax ? *m : tmax;
  v8f lo = v8_splat(0.0f), hi = v8_splat(0.0f);
  for (int jb = c0; jb < c1; jb += 16) {
    v8f p = v8_exp(v8_load(s + jb) - mnew), q = v8_exp(v8_load(s + jb + 8) - mnew);
    v8_store(s + jb, p);
    v8_store(s + jb + 8, q);
    lo += p, hi += q;
  }
  float total = v8_hsum2(lo, hi);
#endif
  *corr = vexpf(*m - mnew);  // 0 on the row's first visible tile (m = −inf)
  *l = *l * *corr + total;
  *m = mnew;
}

// One (head h, block of nq ≤ ATT_BQ queries starting at query i0): every tile of keys any of its
// queries sees, in key order, by groups of RG rows — scores, each row's softmax step, the
// weighted value sums — then out = acc / l.
ATT_ATTR static void ATT_FN(att_block)(float *out, const float *q, const AttTiles *kv, long i0,
                                       int nq, long q0, int h, int H, int K, float scale,
                                       long window, AttScratch *w) {
  int D = kv->D, Dp = kv->Dp, g = h / (H / K);
  memset(w->q, 0, sizeof(float) * ATT_BQ * (size_t)Dp);
  memset(w->acc, 0, sizeof(float) * ATT_BQ * (size_t)Dp);
  for (int i = 0; i < nq; i++)  // the queries times the scale: scores come out scaled
    for (int d = 0; d < D; d++) w->q[i * Dp + d] = q[((i0 + i) * H + h) * D + d] * scale;
  for (int i = 0; i < ATT_BQ; i++) w->m[i] = -INFINITY, w->l[i] = 0.0f;
  long qa = q0 + i0;  // key index of the block's first query
  for (long t = att_first_key(qa, window) / ATT_BK; t <= (qa + nq - 1) / ATT_BK; t++) {
    long j0 = t * ATT_BK, tile = (long)g * kv->tiles + (t - kv->t0);
    const float *kt = kv->kt + tile * D * ATT_BK, *vt = kv->vt + tile * ATT_BK * Dp;
    for (int i = 0; i < nq; i += ATT_RG) {
      int ie = i + ATT_RG < nq ? i + ATT_RG : nq;  // the group's rows that exist: [i, ie)
      long glo = att_first_key(qa + i, window) - j0, ghi = qa + ie - j0;  // keys they see
      if (glo < 0) glo = 0;
      if (ghi > ATT_BK) ghi = ATT_BK;
      if (glo >= ghi) continue;  // none of them sees a key of this tile: nothing changes
      int c0 = (int)glo / 16 * 16, c1 = ((int)ghi + 15) / 16 * 16;
      int kb0 = (int)glo / ATT_KW * ATT_KW, kb1 = ((int)ghi + ATT_KW - 1) / ATT_KW * ATT_KW;
      ATT_FN(att_scores)(w->s + i * ATT_BK, w->q + i * Dp, kt, D, Dp, kb0, kb1);
      for (int r = i; r < i + ATT_RG; r++) {
        long jlo = 0, jhi = 0;  // rows past nq see nothing
        if (r < nq) {
          jlo = att_first_key(qa + r, window) - j0, jhi = qa + r - j0 + 1;
          if (jlo < 0) jlo = 0;
          if (jhi > ATT_BK) jhi = ATT_BK;
        }
        ATT_FN(att_softmax_row)(w->s + r * ATT_BK, &w->m[r], &w->l[r], &w->corr[r], c0, c1,
                                (int)jlo, (int)jhi);
      }
      ATT_FN(att_accumulate)(w->acc + i * Dp, w->s + i * ATT_BK, vt, w->corr + i, Dp, (int)glo,
                             (int)ghi);
    }
  }
  for (int i = 0; i < nq; i++) {
    float *o = out + ((i0 + i) * H + h) * D, inv = 1.0f / w->l[i];
    for (int d = 0; d < D; d++) o[d] = w->acc[i * Dp + d] * inv;
  }
}

#undef ATT_RG
#undef ATT_KW
#undef ATT_LOAD
#undef ATT_STORE
