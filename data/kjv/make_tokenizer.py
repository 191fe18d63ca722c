#!/usr/bin/env python3
"""Trains the byte-level BPE tokenizer of the quickstart model on data/kjv/train.txt.

Regenerate (needs the `tokenizers` package: build/venv after `make setup`):
    build/venv/bin/python data/kjv/make_tokenizer.py
Writes data/kjv/tokenizer.json: GPT-2-style byte-level pre-tokenizer (no prefix space), 2048 ids:
<|endoftext|> (id 0), the 256 byte symbols, then the merges learned from train.txt.
"""
import os

from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

HERE = os.path.dirname(os.path.abspath(__file__))
VOCAB = 2048


def main():
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=VOCAB, min_frequency=2, show_progress=False,
                                  special_tokens=["<|endoftext|>"],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train([os.path.join(HERE, "train.txt")], trainer)
    tok.save(os.path.join(HERE, "tokenizer.json"))
    text = open(os.path.join(HERE, "train.txt"), encoding="utf-8").read()
    n = len(tok.encode(text).ids)
    print(f"tokenizer.json: {tok.get_vocab_size()} ids; train.txt: {len(text)} bytes -> {n} tokens "
          f"({len(text) / n:.2f} bytes/token)")


if __name__ == "__main__":
    main()
