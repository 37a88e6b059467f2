#!/usr/bin/python3
"""Sentencepiece reference ids for the tokenizer tests, from the sentencepiece library itself.

    /usr/bin/python3 make_tokenizer_fixtures.py OUT_DIR SHARED_DIR

Writes OUT_DIR/tokenizers/:
  gemma-style/tokenizer.model  a sentencepiece BPE model in Gemma's format, trained here on a
                               slice of WikiText-2 (Gemma's own files are not available): byte
                               fallback, user-defined symbols (<start_of_turn>, <end_of_turn>,
                               runs of newlines and spaces, ...), no dummy prefix, no whitespace
                               removal, identity normalization, split digits, pad/eos/bos/unk =
                               0/1/2/3;
  gemma-style/expected.json    {"cases": [{"text": ..., "ids": [...]}]} by SentencePieceProcessor;
  mistral-<v>.json             the same for the Mistral sentencepiece files in SHARED_DIR.
The test strings are llama.cpp's 46 tokenizer test strings plus strings that exercise the
user-defined and control pieces. Needs Debian's python3-sentencepiece (0.1.97).
"""
import json
import os
import sys

import sentencepiece as spm

SEPARATOR = "\n__ggml_vocab_test__\n"

MISTRAL_FILES = {
    "v1": "tokenizer.model.v1",
    "v2": "mistral_instruct_tokenizer_240216.model.v2",
    "v3": "mistral_instruct_tokenizer_240323.model.v3",
    "v7": "mistral_instruct_tokenizer_241114.model.v7",
}

# Gemma's chat and markup symbols, and runs of whitespace, as user-defined pieces.
GEMMA_USER_SYMBOLS = (
    ["<mask>", "[@BOS@]", "<start_of_turn>", "<end_of_turn>", "<table>", "</table>", "<h1>"]
    + ["\n" * n for n in range(1, 6)]
    + ["\u2581" * n for n in range(2, 6)]
    + ["\t\t"]
)

EXTRA_STRINGS = [
    "<start_of_turn>user\nWhat is 1234 + 5678?<end_of_turn>\n<start_of_turn>model\n",
    "a<mask>b [@BOS@]  <table>x</table>\n\n\n\ny",
    "a[IMG]b [REFERENCE_DOC_3] x [INST] y [/INST]",
    "    four spaces,\t\ttwo tabs\n\n\n\n\nfive newlines",
    "\u00e9t\u00e9 \u0391\u03b8\u03ae\u03bd\u03b1 \u05e9\u05dc\u05d5\u05dd \U0001F999\U0001F680",
]


def test_strings(shared_dir):
    path = os.path.join(shared_dir, "data", "tokenizers", "llama3", "ggml-vocab-llama-bpe.gguf.inp")
    with open(path, encoding="utf-8") as f:
        strings = f.read().split(SEPARATOR)[:-1]
    return strings + EXTRA_STRINGS


def write_expected(path, model_file, strings):
    processor = spm.SentencePieceProcessor(model_file=model_file)
    cases = [{"text": s, "ids": processor.encode(s)} for s in strings]
    with open(path, "w", encoding="utf-8") as f:
        json.dump({"model": os.path.basename(model_file), "cases": cases}, f, ensure_ascii=False)


def training_text(shared_dir, limit=300_000):
    path = os.path.join(shared_dir, "data", "wikitext-2-raw", "wiki.test.raw")
    with open(path, encoding="utf-8") as f:
        return f.read(limit)


def train_gemma_style(out_dir, shared_dir):
    os.makedirs(out_dir, exist_ok=True)
    corpus = os.path.join(out_dir, "corpus.txt")
    with open(corpus, "w", encoding="utf-8") as f:
        f.write(training_text(shared_dir))
    spm.SentencePieceTrainer.train(
        input=corpus,
        model_prefix=os.path.join(out_dir, "tokenizer"),
        model_type="bpe",
        vocab_size=4000,
        character_coverage=0.9995,
        byte_fallback=True,
        split_digits=True,
        allow_whitespace_only_pieces=True,
        user_defined_symbols=GEMMA_USER_SYMBOLS,
        normalization_rule_name="identity",
        add_dummy_prefix=False,
        remove_extra_whitespaces=False,
        pad_id=0,
        eos_id=1,
        bos_id=2,
        unk_id=3,
        pad_piece="<pad>",
        eos_piece="<eos>",
        bos_piece="<bos>",
        unk_piece="<unk>",
        num_threads=1,
        minloglevel=2,
    )
    os.remove(corpus)
    os.remove(os.path.join(out_dir, "tokenizer.vocab"))


def main():
    out_dir, shared_dir = os.path.join(sys.argv[1], "tokenizers"), sys.argv[2]
    strings = test_strings(shared_dir)
    gemma_dir = os.path.join(out_dir, "gemma-style")
    train_gemma_style(gemma_dir, shared_dir)
    model = os.path.join(gemma_dir, "tokenizer.model")
    write_expected(os.path.join(gemma_dir, "expected.json"), model, strings)
    mistral_dir = os.path.join(shared_dir, "data", "tokenizers", "mistral")
    for version, name in MISTRAL_FILES.items():
        out = os.path.join(out_dir, f"mistral-{version}.json")
        write_expected(out, os.path.join(mistral_dir, name), strings)


if __name__ == "__main__":
    main()
