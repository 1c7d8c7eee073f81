#!/usr/bin/env python3
"""gensim's Word2Vec on the same WordNet sentences, for a reference point.

Prints training throughput (tokens/s) and the held-out Spearman rho of a ridge regression from
the embeddings to VADER ratings (70/30 split), the same measure as the `norms` probe's `ridge`.
Usage: gensim_reference.py [--dim 64] [--window 4] [--epochs 1] [--max-sentences N] [--json OUT]
"""
import argparse, json, os, re, time

import numpy as np
from gensim.models import Word2Vec
from scipy.stats import spearmanr

TOKEN = re.compile(r"[^\w']+")


def tokens(text):
    return [t.strip("'").lower() for t in TOKEN.split(text) if t.strip("'")]


def wordnet_sentences(root="/usr/share/wordnet", max_sentences=0):
    parts = ["noun", "verb", "adj", "adv"]
    per_part = -(-max_sentences // len(parts)) if max_sentences else 0
    out = []
    for part in parts:
        n = 0
        with open(os.path.join(root, f"data.{part}"), encoding="utf-8") as f:
            for line in f:
                if line.startswith(" ") or "|" not in line:
                    continue
                head, gloss = line.split("|", 1)
                fields = head.split()
                words = []
                for k in range(int(fields[3], 16)):
                    words += tokens(fields[4 + 2 * k].split("(")[0].replace("_", " "))
                words += tokens(gloss)
                if words:
                    out.append(words)
                    n += 1
                if per_part and n >= per_part:
                    break
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dim", type=int, default=64)
    ap.add_argument("--window", type=int, default=4)
    ap.add_argument("--negatives", type=int, default=5)
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--min-count", type=int, default=5)
    ap.add_argument("--max-sentences", type=int, default=0)
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--json")
    a = ap.parse_args()
    sentences = wordnet_sentences(max_sentences=a.max_sentences)
    n_tokens = sum(map(len, sentences))
    t0 = time.perf_counter()
    model = Word2Vec(sentences, vector_size=a.dim, window=a.window, negative=a.negatives, sg=1,
                     min_count=a.min_count, sample=1e-3, epochs=a.epochs, workers=a.workers, seed=1)
    secs = time.perf_counter() - t0
    import vaderSentiment
    lex = os.path.join(os.path.dirname(vaderSentiment.__file__), "vader_lexicon.txt")
    rated = {}
    for line in open(lex, encoding="utf-8"):
        f = line.split("\t")
        if len(f) > 1 and f[0] in model.wv:
            rated[f[0]] = float(f[1]) / 4
    words = sorted(rated)
    rng = np.random.default_rng(0)
    rng.shuffle(words)
    cut = round(0.7 * len(words))
    train, test = words[:cut], words[cut:]
    def emb(ws):
        x = np.array([model.wv[w] for w in ws], dtype=np.float64)
        x -= np.array([model.wv[w] for w in model.wv.index_to_key]).mean(0)
        return x / np.linalg.norm(x, axis=1, keepdims=True)
    xtr, xte = emb(train), emb(test)
    ytr, yte = np.array([rated[w] for w in train]), np.array([rated[w] for w in test])
    mx, my = xtr.mean(0), ytr.mean()
    w = np.linalg.solve((xtr - mx).T @ (xtr - mx) + np.eye(a.dim), (xtr - mx).T @ (ytr - my))
    rho = spearmanr(xte @ w + my - mx @ w, yte).statistic
    res = {"tool": "gensim", "version": __import__("gensim").__version__, "tokens": n_tokens,
           "epochs": a.epochs, "seconds": secs, "tokens_per_s": n_tokens * a.epochs / secs,
           "ridge_rho": rho, "rated_words": len(words), "workers": a.workers}
    print(json.dumps(res))
    if a.json:
        json.dump(res, open(a.json, "w"))


if __name__ == "__main__":
    main()
