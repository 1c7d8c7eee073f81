#!/usr/bin/env python3
"""gensim's Word2Vec on the same sentences as valence's cortex, for a reference point.

Prints training throughput (tokens/s) and the held-out Spearman rho of a ridge regression from
the embeddings to VADER ratings (70/30 split), the same measure as the `norms` probe's `ridge`.
Usage: gensim_reference.py [--dim 64] [--window 4] [--epochs 1] [--max-sentences N] [--json OUT]

With --sentences FILE it reads one sentence a line (`valence corpus SCENARIO --dump FILE` writes
the exact token stream of a `corpora` world) and, with --condition SET --also SET,SET, follows the
`norms` probe's protocol with `also` over --split-seeds seeds: a ridge fitted on 70% of SET's
rated words, scored on the other 30%; each `also` set scored on the words it rates outside that
70%, with a ridge fitted to its own ratings of the 70%; and all sets on the held-out words every
set rates. Reported per set: mean and sd over split seeds, for the input vectors and for input +
output vectors (valence's `readout = "sum"`). --condition A,B,C follows the protocol once per
conditioned set (`by_condition` in the JSON; `rho` is the first's), on one trained model;
--save FILE keeps the model, --load FILE scores a saved one without training.
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


def line_sentences(path):
    with open(path, encoding="utf-8") as f:
        return [line.split() for line in f if line.strip()]


def norms(name):
    """(word -> rating rescaled to -1..1) of a set of norms, as valence's lexicon world reads it."""
    import importlib.util
    def data(pkg, *rel):
        return os.path.join(list(importlib.util.find_spec(pkg).submodule_search_locations)[0], *rel)
    out = {}
    if name == "vader":
        for line in open(data("vaderSentiment", "vader_lexicon.txt"), encoding="utf-8"):
            f = line.split("\t")
            if len(f) > 1:
                out.setdefault(f[0], float(f[1]) / 4)
    elif name == "warriner":
        lines = open(data("labMTsimple", "data", "WK", "BRM-emot-submit.csv"), encoding="utf-8").read().splitlines()
        head = lines[0].split(",")
        w, v = head.index("Word"), head.index("V.Mean.Sum")
        for line in lines[1:]:
            f = line.split(",")
            if len(f) > v:
                out.setdefault(f[w].strip(), (float(f[v]) - 5) / 4)
    elif name == "labmt":
        for line in open(data("labMTsimple", "data", "LabMT", "labMT1.txt"), encoding="utf-8").read().splitlines()[1:]:
            f = line.split("\t")
            if len(f) > 2:
                out.setdefault(f[0], (float(f[2]) - 5) / 4)
    else:
        raise SystemExit(f"unknown norms {name}: vader, warriner or labmt")
    return out


def ridge_rho(x, words_tr, y_tr, words_te, y_te, lam=1.0):
    xtr, xte = x(words_tr), x(words_te)
    mx, my = xtr.mean(0), y_tr.mean()
    w = np.linalg.solve((xtr - mx).T @ (xtr - mx) + lam * np.eye(xtr.shape[1]), (xtr - mx).T @ (y_tr - my))
    return spearmanr(xte @ w + my - mx @ w, y_te).statistic


def protocol(model, condition, also, seeds, splits=None):
    """The norms probe's protocol with `also`, for each split seed and both readouts. `splits`:
    valence's own splits of the conditioned set (`valence corpus --splits`), used instead of
    seeded shuffles, so that both score the very same words."""
    vocab = model.wv.key_to_index
    sets = {name: {w: r for w, r in norms(name).items() if w in vocab} for name in [condition] + also}
    vectors = {"input": model.wv.vectors, "sum": model.wv.vectors + model.syn1neg}
    results = {}
    for readout, table in vectors.items():
        mean = table.mean(0)
        def x(ws, table=table, mean=mean):
            v = np.array([table[vocab[w]] for w in ws], dtype=np.float64) - mean
            return v / np.linalg.norm(v, axis=1, keepdims=True)
        per_seed = []
        for seed in range(len(splits) if splits else seeds):
            if splits:
                train = [w for w in splits[seed]["train"] if w in sets[condition]]
                held = [w for w in splits[seed]["held_out"] if w in sets[condition]]
            else:
                words = sorted(sets[condition])
                np.random.default_rng(seed).shuffle(words)
                cut = round(0.7 * len(words))
                train, held = words[:cut], words[cut:]
            trained = set(train)
            r = {}
            for name, rated in sets.items():
                tr = [w for w in train if w in rated]
                te = held if name == condition else sorted(w for w in rated if w not in trained)
                r[name] = ridge_rho(x, tr, np.array([rated[w] for w in tr]), te, np.array([rated[w] for w in te]))
            common = [w for w in held if all(w in rated for rated in sets.values())]
            r["common_words"] = len(common)
            per_seed.append(r)
        results[readout] = {k: {"mean": float(np.mean([r[k] for r in per_seed])),
                                "sd": float(np.std([r[k] for r in per_seed]))} for k in per_seed[0]}
    return results


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
    ap.add_argument("--sentences", help="one sentence a line (valence corpus --dump); default WordNet")
    ap.add_argument("--condition", default="",
                    help="vader|warriner|labmt (or several, comma-separated): the norms probe's protocol")
    ap.add_argument("--splits", default="",
                    help="comma-separated JSON files of valence's splits (valence corpus SCENARIO --splits FILE):"
                         " a conditioned set's splits are taken from the files of that set, not drawn here")
    ap.add_argument("--save", help="write the trained model here")
    ap.add_argument("--load", help="score this saved model instead of training one")
    ap.add_argument("--also", default="", help="comma-separated other norm sets")
    ap.add_argument("--split-seeds", type=int, default=5)
    a = ap.parse_args()
    if a.sentences:
        sentences = line_sentences(a.sentences)
    else:
        sentences = wordnet_sentences(max_sentences=a.max_sentences)
    n_tokens = sum(map(len, sentences))
    t0 = time.perf_counter()
    if a.load:
        model = Word2Vec.load(a.load)
    else:
        model = Word2Vec(sentences, vector_size=a.dim, window=a.window, negative=a.negatives, sg=1,
                         min_count=a.min_count, sample=1e-3, epochs=a.epochs, workers=a.workers, seed=1)
    secs = time.perf_counter() - t0
    if a.save:
        model.save(a.save)
    if a.condition:
        also = [x for x in a.also.split(",") if x]
        conditions = [c for c in a.condition.split(",") if c]
        # Conditioned on each set in turn, the others (`also`, or every other listed) scored beside it.
        given = {}
        for f in [f for f in a.splits.split(",") if f]:
            d = json.load(open(f))
            given.setdefault(d["norms"], []).extend(d["splits"])
        by = {c: protocol(model, c, [x for x in (also or conditions) if x != c], a.split_seeds, given.get(c))
              for c in conditions}
        res = {"tool": "gensim", "version": __import__("gensim").__version__, "tokens": n_tokens,
               "epochs": a.epochs, "seconds": secs, "tokens_per_s": n_tokens * a.epochs / secs,
               "trained": not a.load, "workers": a.workers, "condition": conditions[0], "split_seeds": a.split_seeds,
               "splits": {c: [sp["split_seed"] for sp in v] for c, v in given.items()},
               "rho": by[conditions[0]], "by_condition": by}
        print(json.dumps(res, indent=1))
        if a.json:
            json.dump(res, open(a.json, "w"), indent=1)
        return
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
