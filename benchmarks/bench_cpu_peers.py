#!/usr/bin/env python3
"""The peers' side of the CPU comparison (benchmarks/bench_cpu_table.py): one measurement of
transformers (torch sdpa, fp32) or llama.cpp (llama-cpp-python, F32 GGUF) per process, so that the
caller reads each one's peak RSS; and the GGUF conversion of a Llama checkpoint.

Usage (the benchmark's own venv, build/bench-venv):
    python bench_cpu_peers.py gguf MODEL_DIR OUT.gguf
    python bench_cpu_peers.py hf|llama --model PATH --tokens FILE --kind window|decode|attention
        --T N [--prompt P] [--threads N]
Prints one JSON object: seconds, tokens_per_s (scored predictions per second), ppl; or error.
attention (transformers only): torch's scaled_dot_product_attention alone on the model's heads over
T causal tokens of random q, k, v: seconds and gflops.
window: the PPL of one window of T tokens (a warm-up window of min(T, 1024) first);
decode: a prompt of P tokens prefilled (untimed), then T − P teacher-forced single-token steps
timed, each scoring the next token.
"""
import argparse
import json
import math
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_hf import read_tokens  # noqa: E402  (int32 little-endian ids, as bench_gpu writes them)


# ---- GGUF ----

def to_gguf(model_dir, out):
    import gguf
    import numpy as np
    from safetensors.numpy import load_file
    cfg = json.load(open(os.path.join(model_dir, "config.json")))
    if cfg.get("model_type") != "llama":
        raise SystemExit(f"bench_cpu_peers: {model_dir} is not a Llama checkpoint")
    t = {}
    for name in sorted(os.listdir(model_dir)):
        if name.endswith(".safetensors"):
            t.update(load_file(os.path.join(model_dir, name)))
    H, K, C = cfg["num_attention_heads"], cfg.get("num_key_value_heads") or cfg["num_attention_heads"], cfg["hidden_size"]
    D = cfg.get("head_dim") or C // H
    V, L = cfg["vocab_size"], cfg["num_hidden_layers"]

    # Hugging Face rotates halves (i, i + D/2); llama.cpp's Llama rotates pairs (2i, 2i + 1): the
    # rows of q and k are reordered so that both compute the same attention.
    def halves_to_pairs(w, heads):
        return w.reshape(heads, 2, w.shape[0] // heads // 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)

    w = gguf.GGUFWriter(out, "llama")
    w.add_context_length(max(cfg.get("max_position_embeddings", 2048), 16384))
    w.add_embedding_length(C)
    w.add_block_count(L)
    w.add_feed_forward_length(cfg["intermediate_size"])
    w.add_head_count(H)
    w.add_head_count_kv(K)
    w.add_key_length(D)
    w.add_value_length(D)
    w.add_rope_dimension_count(D)
    w.add_rope_freq_base(float(cfg.get("rope_theta", 10000.0)))
    w.add_layer_norm_rms_eps(float(cfg.get("rms_norm_eps", 1e-5)))
    w.add_file_type(gguf.LlamaFileType.ALL_F32)
    w.add_vocab_size(V)
    # a vocabulary of V plain pieces (ids are fed directly; no text is tokenized)
    w.add_tokenizer_model("llama")
    w.add_token_list([f"<t{i}>".encode() for i in range(V)])
    w.add_token_scores([0.0] * V)
    w.add_token_types([gguf.TokenType.NORMAL] * V)
    w.add_bos_token_id(0)
    w.add_eos_token_id(0)
    f32 = lambda a: np.ascontiguousarray(a.astype(np.float32))
    w.add_tensor("token_embd.weight", f32(t["model.embed_tokens.weight"]))
    w.add_tensor("output_norm.weight", f32(t["model.norm.weight"]))
    if "lm_head.weight" in t:
        w.add_tensor("output.weight", f32(t["lm_head.weight"]))
    names = {"input_layernorm": "attn_norm", "self_attn.q_proj": "attn_q", "self_attn.k_proj": "attn_k",
             "self_attn.v_proj": "attn_v", "self_attn.o_proj": "attn_output",
             "post_attention_layernorm": "ffn_norm", "mlp.gate_proj": "ffn_gate", "mlp.up_proj": "ffn_up",
             "mlp.down_proj": "ffn_down"}
    for i in range(L):
        for hf, gg in names.items():
            a = t[f"model.layers.{i}.{hf}.weight"]
            if gg == "attn_q":
                a = halves_to_pairs(a, H)
            elif gg == "attn_k":
                a = halves_to_pairs(a, K)
            w.add_tensor(f"blk.{i}.{gg}.weight", f32(a))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


# ---- transformers ----

def run_hf(a, tokens):
    import torch
    from transformers import AutoModelForCausalLM
    torch.set_num_threads(a.threads)
    try:
        model = AutoModelForCausalLM.from_pretrained(a.model, dtype=torch.float32, attn_implementation="sdpa")
    except TypeError:
        model = AutoModelForCausalLM.from_pretrained(a.model, torch_dtype=torch.float32, attn_implementation="sdpa")
    model.eval()
    with torch.inference_mode():
        if a.kind == "window":
            def score(T):
                ids = torch.tensor([tokens[:T]])
                t0 = time.perf_counter()
                loss = float(model(ids, labels=ids).loss)
                return time.perf_counter() - t0, math.exp(loss)
            score(min(a.T, 1024))
            dt, ppl = score(a.T)
            return {"seconds": dt, "tokens_per_s": (a.T - 1) / dt, "ppl": ppl}
        out = model(torch.tensor([tokens[:a.prompt - 1]]), use_cache=True)
        past, nll = out.past_key_values, 0.0
        t0 = time.perf_counter()
        for t in range(a.prompt, a.T):
            out = model(torch.tensor([[tokens[t - 1]]]), past_key_values=past, use_cache=True)
            past = out.past_key_values
            nll += float(torch.nn.functional.cross_entropy(out.logits[0, -1:], torch.tensor([tokens[t]])))
        dt = time.perf_counter() - t0
        n = a.T - a.prompt
        return {"seconds": dt, "tokens_per_s": n / dt, "ppl": math.exp(nll / n)}


def run_sdpa(a):
    """torch's scaled_dot_product_attention (what transformers' "sdpa" calls) on the model's heads
    over a.T causal tokens of random q, k, v in fp32: the best of 3 after a warm-up."""
    import torch
    torch.set_num_threads(a.threads)
    cfg = json.load(open(os.path.join(a.model, "config.json")))
    H = cfg["num_attention_heads"]
    K = cfg.get("num_key_value_heads", H)
    D = cfg.get("head_dim") or cfg["hidden_size"] // H
    g = torch.Generator().manual_seed(21)
    q = torch.randn(1, H, a.T, D, generator=g)
    k = torch.randn(1, K, a.T, D, generator=g).repeat_interleave(H // K, dim=1)
    v = torch.randn(1, K, a.T, D, generator=g).repeat_interleave(H // K, dim=1)
    best = None
    with torch.inference_mode():
        for i in range(4):
            t0 = time.perf_counter()
            torch.nn.functional.scaled_dot_product_attention(q, k, v, is_causal=True)
            dt = time.perf_counter() - t0
            if i and (best is None or dt < best):
                best = dt
    return {"T": a.T, "seconds": best, "gflops": 4.0 * a.T * (a.T + 1) / 2 * H * D / best / 1e9}


# ---- llama.cpp ----

def run_llama(a, tokens):
    import numpy as np
    from llama_cpp import Llama
    window = a.kind == "window"
    n_ctx = a.T + 8
    llm = Llama(model_path=a.model, n_ctx=n_ctx, n_batch=min(n_ctx, 2048), n_ubatch=512,
                n_threads=a.threads, n_threads_batch=a.threads, logits_all=True, verbose=False)

    def nll_rows(scores, targets):
        s = scores.astype(np.float64)
        m = s.max(axis=1)
        lse = m + np.log(np.exp(s - m[:, None]).sum(axis=1))
        return float((lse - s[np.arange(len(targets)), targets]).sum())

    if window:
        def score(T):
            llm.reset()
            t0 = time.perf_counter()
            llm.eval(tokens[:T])
            dt = time.perf_counter() - t0
            return dt, math.exp(nll_rows(np.array(llm.scores[:T - 1]), np.array(tokens[1:T])) / (T - 1))
        score(min(a.T, 1024))
        dt, ppl = score(a.T)
        return {"seconds": dt, "tokens_per_s": (a.T - 1) / dt, "ppl": ppl}
    llm.reset()
    llm.eval(tokens[:a.prompt - 1])
    nll = 0.0
    t0 = time.perf_counter()
    for t in range(a.prompt, a.T):
        llm.eval([tokens[t - 1]])
        nll += nll_rows(np.array(llm.scores[llm.n_tokens - 1:llm.n_tokens]), np.array([tokens[t]]))
    dt = time.perf_counter() - t0
    n = a.T - a.prompt
    return {"seconds": dt, "tokens_per_s": n / dt, "ppl": math.exp(nll / n)}


def main(argv):
    if len(argv) == 3 and argv[0] == "gguf":
        to_gguf(argv[1], argv[2])
        return 0
    p = argparse.ArgumentParser(description="one measurement of a peer (benchmarks/bench_cpu_table.py)")
    p.add_argument("peer", choices=["hf", "llama"])
    p.add_argument("--model", required=True)
    p.add_argument("--tokens", required=True)
    p.add_argument("--kind", choices=["window", "decode", "attention"], required=True)
    p.add_argument("--T", type=int, required=True)
    p.add_argument("--prompt", type=int, default=64)
    p.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    a = p.parse_args(argv)
    tokens = read_tokens(a.tokens)
    if len(tokens) < a.T or (a.kind == "decode" and not 1 < a.prompt < a.T):
        print(json.dumps({"error": f"{len(tokens)} tokens for T {a.T}, prompt {a.prompt}"}))
        return 2
    try:
        if a.kind == "attention":
            r = run_sdpa(a) if a.peer == "hf" else {"error": "llama.cpp has no attention-only entry point"}
        else:
            r = (run_hf if a.peer == "hf" else run_llama)(a, tokens)
    except ImportError as e:
        r = {"error": f"not installed ({e}); benchmarks/bench_cpu_setup.sh installs it, its log is "
                      f"build/bench-venv.log"}
    except Exception as e:  # out of memory or anything else: a result, not a crash
        r = {"error": str(e).splitlines()[0][:200] if str(e) else type(e).__name__}
    print(json.dumps(r))
    return 0 if "error" not in r else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
