#!/usr/bin/env python3
"""Chooses the words of scenarios/battery/semantic_generalisation.toml from WordNet (Debian
`wordnet-base`, /usr/share/wordnet): for each conditioned noun, its synonyms (single-word
lemmas of its first sense's synset), its hypernyms' single-word lemmas (related, one step
less similar), and for each synonym an unrelated noun of about the same frequency in the
glosses the cortex reads (within ±25%, sharing no synset with the conditioned word), picked by a
fixed seed (not also an adjective, so that it is read as a noun). Prints the TOML lists; the scenario holds the output, so the choice is reproducible.

    python3 scripts/semantic_generalisation_words.py [WORDNET_DIR]
"""
import collections
import random
import re
import sys
from pathlib import Path

WN = Path(sys.argv[1] if len(sys.argv) > 1 else "/usr/share/wordnet")
CONDITIONED = ["car", "doctor", "child", "stone", "road", "battle"]

synsets = {}  # offset -> (lemmas, hypernym offsets)
counts = collections.Counter()
for part in ["noun", "verb", "adj", "adv"]:
    for line in open(WN / f"data.{part}", encoding="latin-1"):
        if line.startswith("  "):
            continue
        head, _, gloss = line.partition("| ")
        for w in re.findall(r"[a-z]+", gloss.lower()):
            counts[w] += 1
        if part != "noun":
            continue
        f = head.split()
        n = int(f[3], 16)
        lemmas = [f[4 + 2 * i].lower() for i in range(n)]
        for lemma in lemmas:
            for w in lemma.split("_"):
                counts[w] += 1
        k = 4 + 2 * n
        pointers = int(f[k])
        hypernyms = [f[k + 1 + 4 * i + 1] for i in range(pointers) if f[k + 1 + 4 * i] == "@"]
        synsets[f[0]] = (lemmas, hypernyms)

by_lemma = collections.defaultdict(list)
for off, (lemmas, _) in synsets.items():
    for l in lemmas:
        by_lemma[l].append(off)
first_sense = {}
for line in open(WN / "index.noun", encoding="latin-1"):
    if line.startswith("  "):
        continue
    f = line.split()
    first_sense[f[0]] = f[-int(f[2]):][0]

single = lambda ws: [w for w in ws if re.fullmatch(r"[a-z]+", w) and counts[w] >= 20]
rng = random.Random(7)
adjectives = {l.split()[0] for l in open(WN / "index.adj", encoding="latin-1") if not l.startswith("  ")}
nouns = sorted(w for w in by_lemma if re.fullmatch(r"[a-z]+", w) and counts[w] >= 20 and w not in adjectives)
taken = set()
out = {"conditioned": [], "synonyms": [], "related": [], "unrelated": []}
for c in CONDITIONED:
    lemmas, hyper = synsets[first_sense[c]]
    syn = [w for w in single(lemmas) if w != c]
    rel = [w for h in hyper for w in single(synsets[h][0]) if w != c and w not in syn]
    near = set(sum((synsets[o][0] for o in by_lemma[c]), []))
    out["conditioned"].append(c)
    out["synonyms"] += syn
    out["related"] += rel[:2]
    for s in syn:
        pool = [w for w in nouns if abs(counts[w] - counts[s]) <= 0.25 * counts[s]
                and w not in near and w not in taken and w not in CONDITIONED]
        pick = rng.choice(pool)
        taken.add(pick)
        out["unrelated"].append(pick)
    taken.update(syn)
for k, ws in out.items():
    print(f"# {k}: " + ", ".join(f"{w} ({counts[w]})" for w in ws))
for k, ws in out.items():
    print(f'{k} = [' + ", ".join(f'"{w}"' for w in ws) + "]")
