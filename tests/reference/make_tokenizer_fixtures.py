#!/usr/bin/env python3
"""make_tokenizer_fixtures.py — small tokenizer.json files configured like each model family's,
trained with Hugging Face `tokenizers` on tests/fixtures/tokenizer_corpus.txt.

Regenerate with:
    make setup && build/venv/bin/python tests/reference/make_tokenizer_fixtures.py

Training is not bit-for-bit reproducible (ties between equally frequent characters under
limit_alphabet fall in hash order), so a regenerated file may differ from the committed one;
any regenerated file is as good, since the tests compare bench with the library on whatever
the files hold.

Writes tests/fixtures/tokenizers/<family>.json:
  gpt2          byte-level BPE, ByteLevel pre-tokenizer (GPT-2 regex, no prefix space),
                merges as "a b" strings, <|endoftext|>
  roberta       byte-level BPE with add_prefix_space, RobertaProcessing (<s> ... </s>), <mask>
                with lstrip (as RoBERTa's), a single_word added token and an rstrip one
  neox          GPT-NeoX / Pythia: NFC normalizer, ByteLevel, ByteLevel post-processor, the
                whitespace-run added tokens (normalized, not special) NeoX has
  llama3        Llama-3: Split(Llama-3 regex, Isolated) + ByteLevel(use_regex=false),
                ignore_merges, TemplateProcessing <|begin_of_text|> $A, reserved special tokens,
                plus vocab entries no merge reaches (so ignore_merges matters)
  qwen2         Qwen2: NFC + Split(Qwen2 regex) + ByteLevel(use_regex=false), <|im_start|> & co
  llama2        Llama-2 (SentencePiece BPE): Prepend("▁") + Replace(" ", "▁") normalizers, no
                pre-tokenizer, byte_fallback with <0x00>..<0xFF>, fuse_unk, <s> $A template,
                merges as "a b" strings, </s> matched after normalization
  mistral       the newer layout: Metaspace(prepend_scheme first, split false), same model
  metaspace     Metaspace(prepend_scheme always, split true), no post-processor
  metaspace_never  Metaspace(prepend_scheme never, split false), </s> appended by the template
  splits        not a model family: the other supported components, to check them against the
                library too: Strip, Replace (regex), NFD normalizers; Split with every behaviour
                and invert, Digits, ByteLevel with add_prefix_space inside a Sequence
  subword       not a model family: BPE with continuing_subword_prefix and end_of_word_suffix,
                unk without byte fallback or fusing, BertProcessing
The vocab is small (a few thousand) so each file stays well under 300 KB.
"""
import json
import os
import sys
import tempfile

from tokenizers import (AddedToken, Regex, Tokenizer, decoders, models, normalizers,
                        pre_tokenizers, processors, trainers)

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
CORPUS = os.path.join(ROOT, "tests", "fixtures", "tokenizer_corpus.txt")
OUT = os.path.join(ROOT, "tests", "fixtures", "tokenizers")

GPT2_RE = None  # ByteLevel(use_regex=True) carries it
LLAMA3_RE = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}|"
             r" ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+")
QWEN2_RE = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+"
            r"[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+")


def corpus_lines():
    with open(CORPUS, encoding="utf-8", newline="") as f:
        text = f.read()
    # Paragraphs as training "documents", plus the whole text once (keeps whitespace runs).
    return [p for p in text.split("\n\n") if p.strip()] + [text]


def train(tok, vocab_size, special, **kw):
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, min_frequency=2, special_tokens=special,
                                  show_progress=False, **kw)
    tok.train_from_iterator(corpus_lines(), trainer)
    return tok


def byte_level_tokenizer(pre, normalizer=None, vocab_size=2500, special=()):
    tok = Tokenizer(models.BPE())
    if normalizer is not None:
        tok.normalizer = normalizer
    tok.pre_tokenizer = pre
    tok.decoder = decoders.ByteLevel()
    return train(tok, vocab_size, list(special),
                 initial_alphabet=pre_tokenizers.ByteLevel.alphabet())


def as_json(tok):
    return json.loads(tok.to_str())


def legacy_merges(js):
    js["model"]["merges"] = [" ".join(m) if isinstance(m, list) else m
                             for m in js["model"]["merges"]]


def save(name, js):
    path = os.path.join(OUT, name + ".json")
    text = json.dumps(js, ensure_ascii=False, separators=(",", ":"))
    Tokenizer.from_str(text)  # must load in the library as written
    with open(path, "w", encoding="utf-8") as f:
        f.write(text + "\n")
    size = os.path.getsize(path)
    assert size < 300_000, f"{path} is {size} bytes"
    print(f"wrote {os.path.relpath(path, ROOT)} ({size} bytes, "
          f"vocab {len(js['model']['vocab'])}, merges {len(js['model']['merges'])})")


def added(content, id_, special=True, normalized=None, lstrip=False, rstrip=False,
          single_word=False):
    return {"id": id_, "content": content, "single_word": single_word, "lstrip": lstrip,
            "rstrip": rstrip, "normalized": (not special) if normalized is None else normalized,
            "special": special}


def make_gpt2():
    tok = byte_level_tokenizer(pre_tokenizers.ByteLevel(add_prefix_space=False), vocab_size=2500,
                               special=["<|endoftext|>"])
    tok.post_processor = processors.ByteLevel(trim_offsets=False)
    js = as_json(tok)
    legacy_merges(js)
    empty_affixes(js)
    save("gpt2", js)


def make_roberta():
    tok = byte_level_tokenizer(pre_tokenizers.ByteLevel(add_prefix_space=True), vocab_size=2200,
                               special=["<s>", "<pad>", "</s>", "<unk>"])
    vocab = tok.get_vocab()
    tok.post_processor = processors.RobertaProcessing(("</s>", vocab["</s>"]), ("<s>", vocab["<s>"]),
                                                      add_prefix_space=True, trim_offsets=True)
    tok.add_special_tokens([AddedToken("<mask>", lstrip=True, normalized=False)])
    tok.add_tokens([AddedToken("[WORD]", single_word=True),
                    AddedToken("<sep>", rstrip=True, normalized=False)])
    save("roberta", as_json(tok))


def make_neox():
    tok = byte_level_tokenizer(pre_tokenizers.ByteLevel(add_prefix_space=False),
                               normalizer=normalizers.NFC(), vocab_size=2500,
                               special=["<|endoftext|>", "<|padding|>"])
    tok.post_processor = processors.ByteLevel(trim_offsets=True)
    # GPT-NeoX-20B adds runs of 2..24 spaces as ordinary (normalized) added tokens.
    tok.add_tokens([AddedToken(" " * n, normalized=True) for n in range(24, 1, -1)])
    save("neox", as_json(tok))


def make_llama3():
    pre = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(LLAMA3_RE), behavior="isolated", invert=False),
        pre_tokenizers.ByteLevel(add_prefix_space=False, trim_offsets=True, use_regex=False)])
    tok = byte_level_tokenizer(pre, vocab_size=2800)
    js = as_json(tok)
    vocab = js["model"]["vocab"]
    # Whole words no merge sequence produces: with ignore_merges they come out as one id.
    for word in ["ĠAntidisestablishmentarianism", "ĠUnreachableWord", "Ġsupercalifragilistic",
                 "Hello", "ĠHELLO", "ĠWorld", "ĠÐ½ÐµÑĤ"]:
        if word not in vocab:
            vocab[word] = len(vocab)
    js["model"]["ignore_merges"] = True
    base = len(vocab)
    names = ["<|begin_of_text|>", "<|end_of_text|>", "<|reserved_special_token_0|>",
             "<|reserved_special_token_1|>", "<|finetune_right_pad_id|>",
             "<|reserved_special_token_2|>", "<|start_header_id|>", "<|end_header_id|>",
             "<|eom_id|>", "<|eot_id|>", "<|python_tag|>"]
    names += [f"<|reserved_special_token_{i}|>" for i in range(3, 20)]
    js["added_tokens"] = [added(n, base + i) for i, n in enumerate(names)]
    tok = Tokenizer.from_str(json.dumps(js))
    tok.post_processor = processors.Sequence([
        processors.ByteLevel(add_prefix_space=True, trim_offsets=False, use_regex=True),
        processors.TemplateProcessing(
            single="<|begin_of_text|> $A", pair="<|begin_of_text|> $A <|begin_of_text|> $B:1",
            special_tokens=[("<|begin_of_text|>", base)])])
    save("llama3", as_json(tok))


def empty_affixes(js):
    """GPT-2's and Qwen2's files write "" (not null) for the subword prefix and suffix."""
    js["model"]["continuing_subword_prefix"] = ""
    js["model"]["end_of_word_suffix"] = ""


def make_qwen2():
    pre = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(QWEN2_RE), behavior="isolated", invert=False),
        pre_tokenizers.ByteLevel(add_prefix_space=False, trim_offsets=False, use_regex=False)])
    tok = byte_level_tokenizer(pre, normalizer=normalizers.NFC(), vocab_size=2800)
    base = tok.get_vocab_size()
    tok.add_special_tokens([AddedToken(n, normalized=False) for n in
                            ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|object_ref_start|>",
                             "<|object_ref_end|>", "<|box_start|>", "<|box_end|>"]])
    tok.add_tokens([AddedToken("<tool_call>", normalized=False),
                    AddedToken("</tool_call>", normalized=False)])
    tok.post_processor = processors.ByteLevel(add_prefix_space=False, trim_offsets=False,
                                              use_regex=False)
    js = as_json(tok)
    assert js["added_tokens"][0]["id"] == base
    empty_affixes(js)
    save("qwen2", js)


def sentencepiece_model():
    """Word-level merges learnt on ▁-prefixed words, then laid out like Llama-2's vocab:
    <unk> <s> </s>, the 256 byte tokens, then the learnt pieces."""
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always",
                                                 split=True)
    train(tok, 2400, [], limit_alphabet=180)
    learnt = as_json(tok)["model"]
    vocab = {"<unk>": 0, "<s>": 1, "</s>": 2}
    for b in range(256):
        vocab[f"<0x{b:02X}>"] = len(vocab)
    for piece, _ in sorted(learnt["vocab"].items(), key=lambda kv: kv[1]):
        if piece not in vocab:
            vocab[piece] = len(vocab)
    model = {"type": "BPE", "dropout": None, "unk_token": "<unk>",
             "continuing_subword_prefix": None, "end_of_word_suffix": None, "fuse_unk": True,
             "byte_fallback": True, "ignore_merges": False, "vocab": vocab,
             "merges": learnt["merges"]}
    # </s> is matched in the normalized text (as some Llama-2 conversions have it), so with the
    # Prepend normalizer its pattern becomes "▁</s>".
    specials = [added("<unk>", 0), added("<s>", 1), added("</s>", 2, normalized=True)]
    return model, specials


SP_DECODER = {"type": "Sequence", "decoders": [
    {"type": "Replace", "pattern": {"String": "▁"}, "content": " "},
    {"type": "ByteFallback"}, {"type": "Fuse"},
    {"type": "Strip", "content": " ", "start": 1, "stop": 0}]}


def bos_template(bos_id):
    return {"type": "TemplateProcessing",
            "single": [{"SpecialToken": {"id": "<s>", "type_id": 0}},
                       {"Sequence": {"id": "A", "type_id": 0}}],
            "pair": [{"SpecialToken": {"id": "<s>", "type_id": 0}},
                     {"Sequence": {"id": "A", "type_id": 0}},
                     {"SpecialToken": {"id": "<s>", "type_id": 1}},
                     {"Sequence": {"id": "B", "type_id": 1}}],
            "special_tokens": {"<s>": {"id": "<s>", "ids": [bos_id], "tokens": ["<s>"]}}}


def make_sentencepiece_family():
    model, specials = sentencepiece_model()
    base = {"version": "1.0", "truncation": None, "padding": None, "added_tokens": specials}
    llama2 = dict(base)
    llama2.update({
        "normalizer": {"type": "Sequence", "normalizers": [
            {"type": "Prepend", "prepend": "▁"},
            {"type": "Replace", "pattern": {"String": " "}, "content": "▁"}]},
        "pre_tokenizer": None, "post_processor": bos_template(1), "decoder": SP_DECODER,
        "model": json.loads(json.dumps(model))})
    legacy_merges(llama2)
    save("llama2", llama2)

    mistral = dict(base)
    mistral.update({
        "normalizer": None,
        "pre_tokenizer": {"type": "Metaspace", "replacement": "▁", "prepend_scheme": "first",
                          "split": False},
        "post_processor": bos_template(1),
        "decoder": {"type": "Sequence", "decoders": [
            {"type": "Replace", "pattern": {"String": "▁"}, "content": " "},
            {"type": "ByteFallback"}, {"type": "Fuse"},
            {"type": "Strip", "content": " ", "start": 1, "stop": 0}]},
        "model": json.loads(json.dumps(model))})
    save("mistral", mistral)

    meta = dict(base)
    meta.update({
        "normalizer": None,
        "pre_tokenizer": {"type": "Metaspace", "replacement": "▁", "prepend_scheme": "always",
                          "split": True},
        "post_processor": None,
        "decoder": {"type": "Metaspace", "replacement": "▁", "prepend_scheme": "always",
                    "split": True},
        "model": json.loads(json.dumps(model))})
    meta["model"]["fuse_unk"] = False
    save("metaspace", meta)

    never = dict(base)
    never.update({
        "normalizer": None,
        "pre_tokenizer": {"type": "Metaspace", "replacement": "▁", "prepend_scheme": "never",
                          "split": False},
        "post_processor": bos_template(1),
        "decoder": None,
        "model": json.loads(json.dumps(model))})
    never["post_processor"]["single"].append({"SpecialToken": {"id": "</s>", "type_id": 0}})
    never["post_processor"]["special_tokens"]["</s>"] = {"id": "</s>", "ids": [2],
                                                         "tokens": ["</s>"]}
    save("metaspace_never", never)


def make_splits():
    norm = normalizers.Sequence([
        normalizers.Strip(left=True, right=True),
        normalizers.Replace(Regex(r"[0-9]{4,}"), "<num>"),
        normalizers.NFD()])
    pre = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(r"[,;]"), behavior="merged_with_previous"),
        pre_tokenizers.Split(Regex(r"[.!?]+"), behavior="merged_with_next"),
        pre_tokenizers.Split(Regex(r"\n+"), behavior="removed"),
        pre_tokenizers.Split(Regex(r"[\p{L}\p{M}]+"), behavior="contiguous", invert=True),
        pre_tokenizers.Split("--", behavior="isolated"),
        pre_tokenizers.Digits(individual_digits=False),
        pre_tokenizers.ByteLevel(add_prefix_space=True, use_regex=True)])
    tok = byte_level_tokenizer(pre, normalizer=norm, vocab_size=1500)
    tok.add_special_tokens([AddedToken("[SEP]", normalized=False)])
    save("splits", as_json(tok))


def make_subword():
    tok = Tokenizer(models.BPE(unk_token="[UNK]", continuing_subword_prefix="##",
                               end_of_word_suffix="</w>", fuse_unk=False))
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(r"\s+"), behavior="removed"),
        pre_tokenizers.Split(Regex(r"\p{P}"), behavior="isolated"),
        pre_tokenizers.Digits(individual_digits=True)])
    train(tok, 1500, ["[UNK]", "[CLS]", "[SEP]"], limit_alphabet=120,
          continuing_subword_prefix="##", end_of_word_suffix="</w>")
    vocab = tok.get_vocab()
    tok.post_processor = processors.BertProcessing(("[SEP]", vocab["[SEP]"]),
                                                   ("[CLS]", vocab["[CLS]"]))
    save("subword", as_json(tok))


def main():
    os.makedirs(OUT, exist_ok=True)
    make_gpt2()
    make_roberta()
    make_neox()
    make_llama3()
    make_qwen2()
    make_sentencepiece_family()
    make_splits()
    make_subword()


if __name__ == "__main__":
    sys.exit(main())
