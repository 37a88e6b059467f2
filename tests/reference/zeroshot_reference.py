#!/usr/bin/python3
"""Zero-shot task loglikelihoods as lm-evaluation-harness computes them, for ptq eval --tasks.

    /usr/bin/python3 zeroshot_reference.py OUT_DIR SHARED_DIR

Writes two random LLaMA-architecture checkpoints with real tokenizers,
  OUT_DIR/zeroshot_gpt2/   vocab 50257, GPT-2's vocab.json + merges.txt (no BOS, as HF GPT2Tokenizer)
  OUT_DIR/zeroshot_llama/  vocab 32000, LLaMA-2's sentencepiece tokenizer.model (BOS, as HF
                           LlamaTokenizer)
and OUT_DIR/reference/zeroshot_<name>.json: for each task the first LIMITS[task] examples of
SHARED_DIR/data/zeroshot (ARC and HellaSwag: of OUT_DIR/zeroshot_user_tasks, records written
here in those datasets' original formats) with every request's loglikelihood and greedy flag,
and the task's acc (and acc_norm) per example.

Written from the rules in docs/zeroshot.md (lm_eval/api/task.py construct_requests,
lm_eval/api/model.py _encode_pair, lm_eval/models/huggingface.py _loglikelihood_tokens, the task
yaml files), not from ptq: the prompts, the pair encoding and the scoring are re-derived here, the
GPT-2 tokenizer is a from-scratch byte-level BPE (bytes_to_unicode + the GPT-2 pre-tokenizer
regex spelled out over unicodedata categories + rank-ordered merges), the LLaMA tokenizer is
python3-sentencepiece itself, and the forward pass is make_fixtures.py's fp64 llama_forward.
"""
import json
import math
import os
import re
import shutil
import sys
import unicodedata

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_fixtures  # noqa: E402

LIMITS = {"lambada_openai": 6, "piqa": 6, "winogrande": 6, "boolq": 4,
          "arc_easy": 3, "arc_challenge": 3, "hellaswag": 3}
# ARC and HellaSwag are not in SHARED_DIR (a user brings them): a few records written here in
# their original file formats, with the cases their rules must handle (numeric answer keys,
# 3 and 5 choices; " [title]", bracketed tags, double spaces, a capitalised ctx_b).
USER_TASKS = {
    "arc_easy": ("ARC-Easy-Test.jsonl", [
        {"id": "e1", "question": {"stem": "Which of these is a source of light?", "choices": [
            {"text": "the Sun", "label": "A"}, {"text": "a rock", "label": "B"},
            {"text": "a shadow", "label": "C"}, {"text": "the Moon's far side", "label": "D"}]},
         "answerKey": "A"},
        {"id": "e2", "question": {"stem": "What do plants need to make food?", "choices": [
            {"text": "sunlight", "label": "1"}, {"text": "sand", "label": "2"},
            {"text": "noise", "label": "3"}]}, "answerKey": "1"},
        {"id": "e3", "question": {"stem": "Water freezes at what temperature in Celsius?",
                                  "choices": [{"text": "100 degrees", "label": "A"},
                                              {"text": "0 degrees", "label": "B"},
                                              {"text": "50 degrees", "label": "C"},
                                              {"text": "-40 degrees", "label": "D"},
                                              {"text": "10 degrees", "label": "E"}]},
         "answerKey": "B"}]),
    "arc_challenge": ("ARC-Challenge-Test.jsonl", [
        {"id": "c1", "question": {"stem": "A student mixes baking soda and vinegar. Which observation "
                                          "shows a chemical change?", "choices": [
            {"text": "Bubbles form.", "label": "A"}, {"text": "The cup is cold.", "label": "B"},
            {"text": "The liquid is clear.", "label": "C"}, {"text": "The cup is full.", "label": "D"}]},
         "answerKey": "A"},
        {"id": "c2", "question": {"stem": "Which layer of Earth is liquid?", "choices": [
            {"text": "crust", "label": "1"}, {"text": "mantle", "label": "2"},
            {"text": "outer core", "label": "3"}, {"text": "inner core", "label": "4"}]},
         "answerKey": "3"},
        {"id": "c3", "question": {"stem": "Why does a metal spoon feel colder than a wooden one?",
                                  "choices": [{"text": "Metal conducts heat away faster.", "label": "A"},
                                              {"text": "Metal is always colder.", "label": "B"},
                                              {"text": "Wood makes heat.", "label": "C"}]},
         "answerKey": "A"}]),
    "hellaswag": ("hellaswag_val.jsonl", [
        {"ind": 1, "activity_label": "Baking cookies", "ctx_a": "A woman pours flour into a bowl.",
         "ctx_b": "she", "ctx": "A woman pours flour into a bowl. she", "split": "val",
         "split_type": "indomain", "label": 2, "source_id": "x1",
         "endings": ["drives a car to  the store.", "paints the wall [header] blue.",
                     "adds two eggs and stirs the batter.", "sings a song."]},
        {"ind": 2, "activity_label": "Home and Garden", "ctx_a": "[header] How to water a plant"
         " [title] Fill a watering can.", "ctx_b": "Pour the Water slowly", "ctx": "", "split": "val",
         "split_type": "zeroshot", "label": 0, "source_id": "x2",
         "endings": [" around the base of the plant.  ", "[step] into the oven.",
                     "onto the ceiling.", "over the keyboard [substeps] quickly."]},
        {"ind": 3, "activity_label": "Running", "ctx_a": "A man ties his shoes.",
         "ctx_b": "THE man", "ctx": "", "split": "val", "split_type": "indomain", "label": 1,
         "source_id": "x3", "endings": ["eats the shoes.", "starts jogging down the road.",
                                        "falls asleep on the track.", "reads a  book."]}]),
}
GPT2_SEED, LLAMA_SEED = 2001, 2002


# ---------------------------------------------------------------------------------------------
# GPT-2 byte-level BPE.


def bytes_to_unicode():
    printable = list(range(33, 127)) + list(range(161, 173)) + list(range(174, 256))
    table, extra = {}, 0
    for b in range(256):
        if b in printable:
            table[b] = chr(b)
        else:
            table[b] = chr(256 + extra)
            extra += 1
    return table


def char_class(c):
    if c.isspace():
        return "s"
    cat = unicodedata.category(c)
    return "L" if cat[0] == "L" else "N" if cat[0] == "N" else "o"


CONTRACTIONS = ["'s", "'t", "'re", "'ve", "'m", "'ll", "'d"]


def gpt2_pretokenize(text):
    """The GPT-2 split regex 's|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+"""
    pieces, i, n = [], 0, len(text)
    while i < n:
        match = next((c for c in CONTRACTIONS if text.startswith(c, i)), None)
        if match:
            pieces.append(match)
            i += len(match)
            continue
        start = i
        if text[i] == " " and i + 1 < n and char_class(text[i + 1]) != "s":
            i += 1
        cls = char_class(text[i])
        if cls != "s":
            while i < n and char_class(text[i]) == cls:
                i += 1
            pieces.append(text[start:i])
            continue
        j = i
        while j < n and char_class(text[j]) == "s":
            j += 1
        # \s+(?!\S): the run minus its last character when a non-space follows; else \s+.
        end = j - 1 if j < n and j - 1 > i else j
        pieces.append(text[i:end])
        i = end
    return pieces


class Gpt2Tokenizer:
    def __init__(self, vocab_path, merges_path):
        with open(vocab_path, encoding="utf-8") as f:
            self.vocab = json.load(f)
        with open(merges_path, encoding="utf-8") as f:
            lines = [l.rstrip("\n") for l in f if l.rstrip("\n") and not l.startswith("#version")]
        self.ranks = {tuple(l.split(" ")): r for r, l in enumerate(lines)}
        self.byte_map = bytes_to_unicode()
        self.cache = {}

    def bpe(self, word):
        if word in self.cache:
            return self.cache[word]
        parts = list(word)
        while len(parts) > 1:
            pairs = [(self.ranks.get((a, b), math.inf), k) for k, (a, b) in enumerate(zip(parts, parts[1:]))]
            rank, k = min(pairs)
            if rank == math.inf:
                break
            first, second = parts[k], parts[k + 1]
            merged, k = [], 0
            while k < len(parts):
                if k + 1 < len(parts) and parts[k] == first and parts[k + 1] == second:
                    merged.append(first + second)
                    k += 2
                else:
                    merged.append(parts[k])
                    k += 1
            parts = merged
        self.cache[word] = parts
        return parts

    def encode(self, text):
        ids = []
        for piece in gpt2_pretokenize(text):
            word = "".join(self.byte_map[b] for b in piece.encode("utf-8"))
            ids.extend(self.vocab[t] for t in self.bpe(word))
        return ids


class SentencepieceTokenizer:
    def __init__(self, model_path, bos):
        import sentencepiece as spm

        self.processor = spm.SentencePieceProcessor(model_file=model_path)
        self.bos = bos

    def encode(self, text):
        return [self.bos] + self.processor.encode(text)


# ---------------------------------------------------------------------------------------------
# lm-eval's tasks, requests and scoring.


def read_jsonl(path, limit):
    with open(path, encoding="utf-8") as f:
        return [json.loads(l) for l in f if l.strip()][:limit]


def task_docs(task, root, limit):
    """[(requests [(context, continuation)], choices, gold)] as the task yaml builds them."""
    d = os.path.join(root, task)
    docs = []
    if task == "lambada_openai":
        for doc in read_jsonl(os.path.join(d, "lambada_test.jsonl"), limit):
            words = doc["text"].split(" ")
            docs.append(([(" ".join(words[:-1]), " " + words[-1])], None, 0))
    elif task == "piqa":
        with open(os.path.join(d, "valid-labels.lst")) as f:
            labels = [int(l) for l in f.read().split()]
        for doc, label in zip(read_jsonl(os.path.join(d, "valid.jsonl"), limit), labels):
            ctx = "Question: " + doc["goal"] + "\nAnswer:"
            choices = [doc["sol1"], doc["sol2"]]
            docs.append(([(ctx, " " + c) for c in choices], choices, label))
    elif task == "winogrande":
        for doc in read_jsonl(os.path.join(d, "dev.jsonl"), limit):
            i = doc["sentence"].index("_")
            target = doc["sentence"][i + 1:].strip()
            choices = [doc["sentence"][:i] + doc["option1"], doc["sentence"][:i] + doc["option2"]]
            docs.append(([(c, " " + target) for c in choices], choices, {"1": 0, "2": 1}[doc["answer"]]))
    elif task in ("arc_easy", "arc_challenge"):
        # lm-eval arc_easy.yaml: "Question: {{question}}\nAnswer:", choices.text,
        # target choices.label.index(answerKey) (the HF dataset's question is the stem).
        for doc in read_jsonl(os.path.join(d, USER_TASKS[task][0]), limit):
            q = doc["question"]
            choices = [c["text"] for c in q["choices"]]
            gold = [c["label"] for c in q["choices"]].index(doc["answerKey"])
            docs.append(([("Question: " + q["stem"] + "\nAnswer:", " " + c) for c in choices],
                         choices, gold))
    elif task == "hellaswag":
        # lm-eval hellaswag/utils.py: preprocess(), ctx = ctx_a + " " + ctx_b.capitalize(),
        # query = preprocess(activity_label + ": " + ctx), gold = int(label).
        def preprocess(text):
            text = text.strip().replace(" [title]", ". ")
            return re.sub("\\[.*?\\]", "", text).replace("  ", " ")
        for doc in read_jsonl(os.path.join(d, USER_TASKS[task][0]), limit):
            ctx = doc["ctx_a"] + " " + doc["ctx_b"].capitalize()
            query = preprocess(doc["activity_label"] + ": " + ctx)
            choices = [preprocess(e) for e in doc["endings"]]
            docs.append(([(query, " " + c) for c in choices], choices, int(doc["label"])))
    elif task == "boolq":
        for doc in read_jsonl(os.path.join(d, "dev.jsonl"), limit):
            ctx = doc["passage"] + "\nQuestion: " + doc["question"] + "?\nAnswer:"
            docs.append(([(ctx, " no"), (ctx, " yes")], ["no", "yes"], 1 if doc["answer"] else 0))
    return docs


def encode_pair(tok, context, continuation):
    n_spaces = len(context) - len(context.rstrip())
    if n_spaces > 0:
        continuation = context[-n_spaces:] + continuation
        context = context[:-n_spaces]
    whole = tok.encode(context + continuation)
    ctx = tok.encode(context)
    return ctx, whole[len(ctx):]


def loglikelihood(cfg, weights, ctx, cont):
    max_length = cfg["max_position_embeddings"]
    inp = (ctx + cont)[-(max_length + 1):][:-1]
    with torch.no_grad():
        logits = make_fixtures.llama_forward(cfg, weights, torch.tensor([inp]))[0]
    log_probs = torch.log_softmax(logits[len(inp) - len(cont):], -1)
    target = torch.tensor(cont)
    ll = log_probs.gather(-1, target[:, None]).sum().item()
    greedy = bool((log_probs.argmax(-1) == target).all())
    return ll, greedy


def score_task(cfg, weights, tok, task, root):
    examples = []
    for requests, choices, gold in task_docs(task, root, LIMITS[task]):
        scores = [loglikelihood(cfg, weights, *encode_pair(tok, c, x)) for c, x in requests]
        lls = np.array([s[0] for s in scores])
        example = {"gold": gold, "loglikelihoods": lls.tolist(), "greedy": [s[1] for s in scores]}
        if choices is None:
            example["acc"] = 1.0 if scores[0][1] else 0.0
        else:
            example["acc"] = 1.0 if int(np.argmax(lls)) == gold else 0.0
            lengths = np.array([float(len(c)) for c in choices])
            example["acc_norm"] = 1.0 if int(np.argmax(lls / lengths)) == gold else 0.0
        examples.append(example)
    return {"limit": LIMITS[task], "examples": examples}


def write_fixture(out_dir, name, vocab_size, seed, tokenizer_files):
    cfg = make_fixtures.llama_config(vocab_size=vocab_size, max_position_embeddings=2048,
                                     tie_word_embeddings=True)
    weights = make_fixtures.llama_weights(cfg, seed, torch.float32)
    # Unit-variance tied embeddings give logits of O(100), whose fp32 log-softmax sums lose
    # 1e-4; a quarter of that scale gives a trained model's O(10).
    embed = "model.embed_tokens.weight"
    weights.stored[embed] = weights.stored[embed] * 0.25
    model_dir = os.path.join(out_dir, name)
    make_fixtures.write_checkpoint(model_dir, cfg, weights.stored)
    for source, target in tokenizer_files:
        shutil.copyfile(source, os.path.join(model_dir, target))
    return cfg, weights.fp64()


def main():
    out_dir, shared = sys.argv[1], sys.argv[2]
    root = os.path.join(shared, "data", "zeroshot")
    user_root = os.path.join(out_dir, "zeroshot_user_tasks")
    for task, (file_name, records) in USER_TASKS.items():
        os.makedirs(os.path.join(user_root, task), exist_ok=True)
        with open(os.path.join(user_root, task, file_name), "w") as f:
            f.writelines(json.dumps(r) + "\n" for r in records)
    os.makedirs(os.path.join(out_dir, "reference"), exist_ok=True)
    gpt2_dir = os.path.join(shared, "data", "gpt2-tokenizer")
    llama_model = os.path.join(shared, "models", "llama2-tokenizer", "tokenizer.model")
    fixtures = {
        "zeroshot_gpt2": (50257, GPT2_SEED,
                          [(os.path.join(gpt2_dir, f), f) for f in ("vocab.json", "merges.txt")],
                          lambda: Gpt2Tokenizer(os.path.join(gpt2_dir, "vocab.json"),
                                                os.path.join(gpt2_dir, "merges.txt"))),
        "zeroshot_llama": (32000, LLAMA_SEED, [(llama_model, "tokenizer.model")],
                           lambda: SentencepieceTokenizer(llama_model, bos=1)),
    }
    for name, (vocab, seed, files, make_tokenizer) in fixtures.items():
        cfg, weights = write_fixture(out_dir, name, vocab, seed, files)
        tok = make_tokenizer()
        reference = {task: score_task(cfg, weights, tok, task,
                                      user_root if task in USER_TASKS else root)
                     for task in LIMITS}
        with open(os.path.join(out_dir, "reference", name + ".json"), "w") as f:
            json.dump(reference, f, indent=1)
        print(name, {t: sum(e["acc"] for e in r["examples"]) for t, r in reference.items()})


if __name__ == "__main__":
    main()
