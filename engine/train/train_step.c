// train_step.c — the training step as one orchestration over a table of ops (train_ops.h): the
// activations of a pass, the forward with saved activations and the backward, passes over a
// batch, the gradient norm, clipping and AdamW. The same code drives the CPU reference (one
// sequence per pass) and the CUDA tables (as many sequences per pass as fit).
// Legend: B sequences per step, T tokens per sequence, n rows of a pass (sequences × T), V vocab,
//         C hidden, L layers, H query heads, K kv heads, D head dim, F intermediate,
//         cap the rows a pass has room for (seqs_per_pass × T).
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "train_internal.h"
#include "train_ops.h"

// The activations of a pass. Element types: S stream, A act (train_ops.h).
typedef struct {
  long cap;                     // rows
  // saved per layer, [L] blocks of cap rows
  void *xin, *xmid;             // S [L][cap, C] residual stream entering the layer / after attention
  void *rs1, *rs2;              // S [L][cap] RMS factors of the two norms
  void *q, *k, *v;              // A [L][cap, H·D], [L][cap, K·D] ×2 (q, k after RoPE)
  void *att;                    // A [L][cap, H·D] attention output
  void *lse;                    // S [L][cap, H] log-sum-exp of each query's scores
  void *gate, *up;              // A [L][cap, F]
  void *xfin, *rsf;             // S [cap, C], [cap] after the last layer
  // scratch
  void *xn;                     // A [cap, C] a norm's output (recomputed)
  void *dres, *dxn;             // S [cap, C] gradient of the residual stream / of a norm's output
  void *dres_act;               // A [cap, C] dres rounded for the products (act ≠ stream only)
  void *dq, *dk, *dv, *datt;    // A [cap, H·D], [cap, K·D] ×2, [cap, H·D]
  void *act, *dact;             // A [cap, F] SwiGLU product and its gradient
  void *cos_t, *sin_t;          // S [T, D/2] RoPE tables (times attention_scale)
} Work;

typedef struct {
  void **slot;
  size_t bytes;
} WorkBuf;

enum { WORK_MAX_BUFS = 32 };

static int work_list(const Trainer *t, Work *w, long n_seq, WorkBuf *b) {
  const TrainConfig *c = &t->cfg;
  const TrainOps *o = t->ops;
  size_t cap = (size_t)n_seq * (size_t)c->seq_len, L = (size_t)c->n_layers;
  size_t C = (size_t)c->hidden_size, F = (size_t)c->intermediate_size, H = (size_t)c->n_heads;
  size_t HD = H * (size_t)t->head_dim, KD = (size_t)c->n_kv_heads * t->head_dim;
  size_t A = o->act_size, S = o->stream_size, half = (size_t)t->head_dim / 2;
  int n = 0;
#define WB(field, count, el) b[n++] = (WorkBuf){(void **)&w->field, (count) * (el)}
  WB(xin, L * cap * C, S);
  WB(xmid, L * cap * C, S);
  WB(rs1, L * cap, S);
  WB(rs2, L * cap, S);
  WB(q, L * cap * HD, A);
  WB(k, L * cap * KD, A);
  WB(v, L * cap * KD, A);
  WB(att, L * cap * HD, A);
  WB(lse, L * cap * H, S);
  WB(gate, L * cap * F, A);
  WB(up, L * cap * F, A);
  WB(xfin, cap * C, S);
  WB(rsf, cap, S);
  WB(xn, cap * C, A);
  WB(dres, cap * C, S);
  WB(dxn, cap * C, S);
  if (A != S) WB(dres_act, cap * C, A);
  WB(dq, cap * HD, A);
  WB(dk, cap * KD, A);
  WB(dv, cap * KD, A);
  WB(datt, cap * HD, A);
  WB(act, cap * F, A);
  WB(dact, cap * F, A);
  WB(cos_t, (size_t)c->seq_len * half, S);
  WB(sin_t, (size_t)c->seq_len * half, S);
#undef WB
  return n;
}

size_t train_work_bytes(const Trainer *t, long n_seq) {
  Work w;
  WorkBuf b[WORK_MAX_BUFS];
  int n = work_list(t, &w, n_seq, b);
  size_t total = 0;
  for (int i = 0; i < n; i++) total += (b[i].bytes + 255) / 256 * 256;
  return total;
}

void train_work_free(Trainer *t) {
  Work *w = t->work;
  if (!w) return;
  WorkBuf b[WORK_MAX_BUFS];
  int n = work_list(t, w, t->seqs_per_pass, b);
  for (int i = 0; i < n; i++)
    if (*b[i].slot) t->ops->free(*b[i].slot);
  free(w);
  t->work = NULL;
}

int train_work_alloc(Trainer *t, BenchErr *err) {
  Work *w = xcalloc(1, sizeof *w);
  t->work = w;
  w->cap = t->seqs_per_pass * t->cfg.seq_len;
  WorkBuf b[WORK_MAX_BUFS];
  int n = work_list(t, w, t->seqs_per_pass, b);
  for (int i = 0; i < n; i++) {
    *b[i].slot = t->ops->alloc(b[i].bytes);
    if (!*b[i].slot) {
      train_work_free(t);
      return err_set(err, "out of memory: training activations for %ld sequence%s of %ld tokens "
                     "(%.2f GiB on %s)", t->seqs_per_pass, t->seqs_per_pass == 1 ? "" : "s",
                     t->cfg.seq_len, train_work_bytes(t, t->seqs_per_pass) / 1073741824.0,
                     t->ops->name);
    }
  }
  size_t half = (size_t)t->head_dim / 2, nr = (size_t)t->cfg.seq_len * half;
  t->ops->put_reals(t->ctx, w->cos_t, t->rope_cos, nr);
  t->ops->put_reals(t->ctx, w->sin_t, t->rope_sin, nr);
  return 0;
}

// ---- one pass over n_seq sequences ----
static void *at(void *base, size_t i, size_t el) { return (char *)base + i * el; }
static void *prm(const Trainer *t, int i) {
  return at(t->d_params, t->tensors[i].offset, t->ops->param_size);
}
static void *grd(const Trainer *t, int i) {
  return at(t->d_grads, t->tensors[i].offset, t->ops->param_size);
}
static void *mat(const Trainer *t, int i) {
  return at(t->d_mat, t->tensors[i].offset, t->ops->mat_size);
}

static void pass(Trainer *t, const int32_t *tok, long ns, double gs, int backward) {
  const TrainOps *o = t->ops;
  void *cx = t->ctx;
  Work *w = t->work;
  const TrainConfig *c = &t->cfg;
  long T = c->seq_len, n = ns * T;
  int C = c->hidden_size, H = c->n_heads, K = c->n_kv_heads, D = t->head_dim;
  int F = c->intermediate_size, V = c->vocab_size, L = c->n_layers;
  int HD = H * D, KD = K * D;
  size_t A = o->act_size, S = o->stream_size, cap = (size_t)w->cap;
  double eps = c->norm_eps;

  o->embed_fwd(cx, w->xin, prm(t, 0), tok, ns, T, C);
  for (int l = 0; l < L; l++) {
    int b = 1 + l * TT_PER_LAYER;
    void *xin = at(w->xin, l * cap * C, S), *xmid = at(w->xmid, l * cap * C, S);
    void *rs1 = at(w->rs1, l * cap, S), *rs2 = at(w->rs2, l * cap, S);
    void *q = at(w->q, l * cap * HD, A), *k = at(w->k, l * cap * KD, A);
    void *v = at(w->v, l * cap * KD, A), *att = at(w->att, l * cap * HD, A);
    void *lse = at(w->lse, l * cap * H, S);
    void *gate = at(w->gate, l * cap * F, A), *up = at(w->up, l * cap * F, A);
    o->rms_fwd(cx, w->xn, rs1, xin, prm(t, b + TT_ATTN_NORM), n, C, eps);
    o->linear(cx, q, 0, w->xn, mat(t, b + TT_Q), n, C, HD, 0);
    o->linear(cx, k, 0, w->xn, mat(t, b + TT_K), n, C, KD, 0);
    o->linear(cx, v, 0, w->xn, mat(t, b + TT_V), n, C, KD, 0);
    o->rope(cx, q, w->cos_t, w->sin_t, n, T, H, D, 0);
    o->rope(cx, k, w->cos_t, w->sin_t, n, T, K, D, 0);
    o->attn_fwd(cx, att, lse, q, k, v, ns, T, H, K, D);
    o->copy(xmid, xin, (size_t)n * C * S);
    o->linear(cx, xmid, 1, att, mat(t, b + TT_O), n, HD, C, 1);
    o->rms_fwd(cx, w->xn, rs2, xmid, prm(t, b + TT_MLP_NORM), n, C, eps);
    o->linear(cx, gate, 0, w->xn, mat(t, b + TT_GATE), n, C, F, 0);
    o->linear(cx, up, 0, w->xn, mat(t, b + TT_UP), n, C, F, 0);
    o->swiglu_fwd(cx, w->act, gate, up, n * F);
    void *xout = l + 1 < L ? at(w->xin, (l + 1) * cap * C, S) : w->xfin;
    o->copy(xout, xmid, (size_t)n * C * S);
    o->linear(cx, xout, 1, w->act, mat(t, b + TT_DOWN), n, F, C, 1);
  }
  int fn = 1 + L * TT_PER_LAYER;
  o->rms_fwd(cx, w->xn, w->rsf, w->xfin, prm(t, fn), n, C, eps);
  o->lm_head(cx, w->xn, tok, ns, T, mat(t, t->head_tensor), gs, backward, w->dxn,
             grd(t, t->head_tensor), C, V);
  if (!backward) return;

  o->zero(w->dres, (size_t)n * C * S);
  o->rms_bwd(cx, w->dres, grd(t, fn), w->dxn, w->xfin, w->rsf, prm(t, fn), n, C);
  for (int l = L - 1; l >= 0; l--) {
    int b = 1 + l * TT_PER_LAYER;
    void *xin = at(w->xin, l * cap * C, S), *xmid = at(w->xmid, l * cap * C, S);
    void *rs1 = at(w->rs1, l * cap, S), *rs2 = at(w->rs2, l * cap, S);
    void *q = at(w->q, l * cap * HD, A), *k = at(w->k, l * cap * KD, A);
    void *v = at(w->v, l * cap * KD, A), *att = at(w->att, l * cap * HD, A);
    void *lse = at(w->lse, l * cap * H, S);
    void *gate = at(w->gate, l * cap * F, A), *up = at(w->up, l * cap * F, A);
    // MLP: dres is the gradient of the layer's output
    o->swiglu_fwd(cx, w->act, gate, up, n * F);
    const void *dr = o->to_act(cx, w->dres_act, w->dres, (size_t)n * C);
    o->linear_dw(cx, grd(t, b + TT_DOWN), dr, w->act, n, F, C);
    o->linear_dx(cx, w->dact, 0, dr, mat(t, b + TT_DOWN), n, F, C, 0);
    o->swiglu_bwd(cx, w->dact, w->act, gate, up, n * F);  // dact ← dgate, act ← dup
    o->rms_fwd(cx, w->xn, rs2, xmid, prm(t, b + TT_MLP_NORM), n, C, eps);
    o->linear_dw(cx, grd(t, b + TT_GATE), w->dact, w->xn, n, C, F);
    o->linear_dw(cx, grd(t, b + TT_UP), w->act, w->xn, n, C, F);
    o->linear_dx(cx, w->dxn, 1, w->dact, mat(t, b + TT_GATE), n, C, F, 0);
    o->linear_dx(cx, w->dxn, 1, w->act, mat(t, b + TT_UP), n, C, F, 1);
    o->rms_bwd(cx, w->dres, grd(t, b + TT_MLP_NORM), w->dxn, xmid, rs2, prm(t, b + TT_MLP_NORM), n,
               C);
    // attention: dres is now the gradient of xmid
    dr = o->to_act(cx, w->dres_act, w->dres, (size_t)n * C);
    o->linear_dw(cx, grd(t, b + TT_O), dr, att, n, HD, C);
    o->linear_dx(cx, w->datt, 0, dr, mat(t, b + TT_O), n, HD, C, 0);
    o->attn_bwd(cx, w->dq, w->dk, w->dv, w->datt, att, lse, q, k, v, ns, T, H, K, D);
    o->rope(cx, w->dq, w->cos_t, w->sin_t, n, T, H, D, 1);
    o->rope(cx, w->dk, w->cos_t, w->sin_t, n, T, K, D, 1);
    o->rms_fwd(cx, w->xn, rs1, xin, prm(t, b + TT_ATTN_NORM), n, C, eps);
    o->linear_dw(cx, grd(t, b + TT_Q), w->dq, w->xn, n, C, HD);
    o->linear_dw(cx, grd(t, b + TT_K), w->dk, w->xn, n, C, KD);
    o->linear_dw(cx, grd(t, b + TT_V), w->dv, w->xn, n, C, KD);
    o->linear_dx(cx, w->dxn, 1, w->dq, mat(t, b + TT_Q), n, C, HD, 0);
    o->linear_dx(cx, w->dxn, 1, w->dk, mat(t, b + TT_K), n, C, KD, 1);
    o->linear_dx(cx, w->dxn, 1, w->dv, mat(t, b + TT_V), n, C, KD, 1);
    o->rms_bwd(cx, w->dres, grd(t, b + TT_ATTN_NORM), w->dxn, xin, rs1, prm(t, b + TT_ATTN_NORM),
               n, C);
  }
  o->embed_bwd(cx, grd(t, 0), w->dres, tok, ns, T, C);
}

// ---- steps ----
void trainer_zero_grad(Trainer *t) { t->ops->zero(t->d_grads, t->n_params * t->ops->param_size); }

int trainer_forward_backward(Trainer *t, const int32_t *seqs, long n, double grad_scale,
                             int backward, double *nll_sum, BenchErr *err) {
  long T1 = t->cfg.seq_len + 1;
  for (long i = 0; i < n * T1; i++)
    if (seqs[i] < 0 || seqs[i] >= t->cfg.vocab_size)
      return err_set(err, "token %d at %ld is outside the vocabulary [0, %d)", (int)seqs[i], i,
                     t->cfg.vocab_size);
  for (long s = 0; s < n; s += t->seqs_per_pass) {
    long ns = n - s < t->seqs_per_pass ? n - s : t->seqs_per_pass;
    const int32_t *tok = t->ops->tokens(t->ctx, seqs + s * T1, ns, backward);
    pass(t, tok, ns, grad_scale, backward);
  }
  *nll_sum = t->ops->take_nll(t->ctx);
  return t->ops->sync(err);
}

double trainer_grad_norm(Trainer *t) {
  return sqrt(t->ops->grad_sumsq(t->ctx, t->d_grads, t->n_params));
}

void trainer_scale_grad(Trainer *t, double s) {
  t->ops->scale(t->ctx, t->d_grads, t->n_params, s);
}

void trainer_adamw(Trainer *t, double lr) {
  const TrainConfig *c = &t->cfg;
  const TrainOps *o = t->ops;
  t->step++;
  double bc1 = 1.0 - pow(c->beta1, (double)t->step), bc2 = 1.0 - pow(c->beta2, (double)t->step);
  TrainAdamW a = {.step_size = lr / bc1, .bc2_sqrt = sqrt(bc2), .eps = c->adam_eps,
                  .b2 = c->beta2, .one_b1 = 1.0 - c->beta1, .one_b2 = 1.0 - c->beta2};
  size_t P = o->param_size;
  for (int i = 0; i < t->n_tensors; i++) {
    const TrainTensor *tt = &t->tensors[i];
    a.decay = tt->decay ? 1.0 - lr * c->weight_decay : 1.0;
    void *m = t->d_mat != t->d_params ? at(t->d_mat, tt->offset, o->mat_size) : NULL;
    o->adamw(t->ctx, &a, at(t->d_params, tt->offset, P), m, at(t->d_grads, tt->offset, P),
             at(t->d_m, tt->offset, P), at(t->d_v, tt->offset, P), tt->numel);
  }
}

int trainer_step(Trainer *t, const int32_t *seqs, TrainStepStats *st, BenchErr *err) {
  const TrainConfig *c = &t->cfg;
  double n = (double)c->batch * (double)c->seq_len, nll;
  trainer_zero_grad(t);
  if (trainer_forward_backward(t, seqs, c->batch, 1.0 / n, 1, &nll, err) != 0) return -1;
  st->loss = nll / n;
  st->grad_norm = trainer_grad_norm(t);
  if (c->grad_clip > 0) {
    // torch.nn.utils.clip_grad_norm_: coefficient clip / (norm + 1e-6), applied when < 1
    double coef = c->grad_clip / (st->grad_norm + 1e-6);
    if (coef < 1.0) trainer_scale_grad(t, coef);
  }
  st->lr = train_lr_at(c, t->step);
  trainer_adamw(t, st->lr);
  return t->ops->sync(err);
}
