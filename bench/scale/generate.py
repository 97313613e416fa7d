"""Synthetic paper collections of any size, recombined from the bundled abstracts.

Run:  python bench/scale/generate.py N out.jsonl [--seed 0] [--start 0]

Each paper is built from sentences of several different bundled abstracts (an opening
sentence, middle sentences, a closing sentence, in the proportions of the real ones), a
fresh title recombined from two title halves, an often fresh method name that replaces
the source papers' own names in their sentences (so the vocabulary keeps growing with the
collection, as it does in arXiv), perturbed numbers, and made-up authors, year and
categories. Paper `i` depends only on (seed, i), so `--start N` continues a collection
with papers that are new to it. No network; ~100k papers in a few seconds.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from rag.models import Paper  # noqa: E402 - needs the repo root on sys.path first

# Sentence ends, but not after "e.g." / "i.e." / "et al." / "vs." / "cf.".
_SENTENCE = re.compile(
    r"(?<!e\.g\.)(?<!i\.e\.)(?<!al\.)(?<!vs\.)(?<!cf\.)(?<=[.!?])\s+(?=[A-Z(\[])")
_NUMBER = re.compile(r"\d+\.\d+|\d{2,}")
_CONNECTORS = (" for ", " via ", " with ", " using ", " from ", " in ", " on ", " of ")
_SYLLABLES = ("ba", "cor", "den", "fi", "gra", "hel", "io", "ka", "lum", "mor", "nex", "or",
              "pa", "quin", "ra", "sel", "tor", "u", "vi", "xa", "zen", "tra", "mi", "lo")
_SUFFIXES = ("Net", "Former", "BERT", "GPT", "-XL", "GNN", "ViT", "Mix", "CLR", "Diff", "")
_NAME_SPACE = len(_SYLLABLES) ** 3 * len(_SUFFIXES)
_NAME_STEP = 48271  # prime, coprime with the name space (2^a 3^b 11): a permutation
_FIRST = ("Ana", "Bo", "Chen", "Dario", "Elena", "Fatima", "Gustavo", "Hana", "Ivan", "Jun",
          "Kofi", "Lena", "Marta", "Nikhil", "Olga", "Pablo", "Qiang", "Rosa", "Sven", "Tomoko",
          "Umar", "Vera", "Wei", "Ximena", "Yusuf", "Zoe", "Amir", "Beatriz", "Carlos", "Daniela")
_LAST = ("Adeyemi", "Bauer", "Costa", "Dubois", "Eriksen", "Fernandez", "Garcia", "Huang",
         "Ivanova", "Jensen", "Kim", "Li", "Moreau", "Nakamura", "Okafor", "Petrov", "Quinn",
         "Rossi", "Schmidt", "Tanaka", "Uddin", "Varga", "Wang", "Xu", "Yamamoto", "Zhang",
         "Novak", "Silva", "Kowalski", "Haddad", "Singh", "Murphy", "Larsen", "Ortiz", "Sato")
_CATEGORIES = ("cs.LG", "cs.CV", "cs.CL", "cs.AI", "stat.ML", "cs.NE", "eess.AS", "eess.IV",
               "q-bio.QM", "cs.IR", "cs.RO", "physics.comp-ph")


@dataclass(frozen=True)
class _Sentence:
    text: str
    source: int
    name: str | None  # the source paper's own method name, if this sentence mentions it


def bundled_sources() -> list[Paper]:
    """The bundled abstracts, parsed the way `paperchat ingest` parses them."""
    from ingest.bundled import bundled_collection_path
    from ingest.parsers import parse_file

    return parse_file(bundled_collection_path()).papers


def _own_name(title: str) -> str | None:
    head, sep, _ = title.partition(":")
    return head.strip() if sep and len(head.split()) <= 2 else None


class Generator:
    """Deterministic synthetic papers: `paper(i)` is the same for the same seed and i."""

    def __init__(self, sources: list[Paper], seed: int = 0) -> None:
        if len(sources) < 3:
            raise ValueError("need at least 3 source abstracts to recombine")
        self.seed = seed
        self.first: list[_Sentence] = []
        self.middle: list[_Sentence] = []
        self.last: list[_Sentence] = []
        self.lengths: list[int] = []
        lefts, rights, whole = [], [], []
        for n, p in enumerate(sources):
            name = _own_name(p.title)
            parts = [s.strip() for s in _SENTENCE.split(p.abstract) if s.strip()]
            self.lengths.append(len(parts))
            for pos, text in enumerate(parts):
                s = _Sentence(text, n, name if name and name in text else None)
                pool = self.first if pos == 0 else self.last if pos == len(parts) - 1 \
                    else self.middle
                pool.append(s)
            tail = p.title.partition(":")[2].strip() if name else p.title
            cut = min((i for c in _CONNECTORS if (i := tail.find(c)) > 0), default=-1)
            if cut > 0:
                lefts.append(tail[:cut])
                rights.append(tail[cut:])
            else:
                whole.append(tail)
        self.lefts, self.rights, self.whole = lefts, rights, whole
        if not self.middle:
            self.middle = self.first + self.last

    def _name(self, i: int) -> str:
        """A method name unique to paper i (titles must differ: the parser merges equal ones)."""
        # An affine permutation of the name space scatters neighbouring i over names.
        j = (i * _NAME_STEP + self.seed * 7) % _NAME_SPACE
        j, suffix = divmod(j, len(_SUFFIXES))
        letters = []
        for _ in range(3):
            j, d = divmod(j, len(_SYLLABLES))
            letters.append(_SYLLABLES[d])
        version = i // _NAME_SPACE
        return "".join(letters).capitalize() + _SUFFIXES[suffix] + (f"-{version + 1}"
                                                                    if version else "")

    def _title(self, rng: random.Random, name: str) -> str:
        if self.lefts and rng.random() < 0.8:
            title = rng.choice(self.lefts) + rng.choice(self.rights)
        else:
            title = rng.choice(self.whole or self.lefts)
        roll = rng.random()
        if roll < 0.25 or ":" in title:
            return f"{title} with {name}"
        if roll < 0.8:
            return f"{name}: {title}"
        return f"{name}: {rng.choice(self.lefts or self.whole)}"

    def _pick(self, rng: random.Random, pool: list[_Sentence], used: set[int]) -> _Sentence:
        for _ in range(8):  # prefer a source abstract not used yet in this paper
            s = rng.choice(pool)
            if s.source not in used:
                break
        used.add(s.source)
        return s

    def paper(self, i: int) -> Paper:
        """The i-th synthetic paper."""
        rng = random.Random(self.seed * 1_000_003 + i)
        name = self._name(i)
        n = max(3, rng.choice(self.lengths))
        used: set[int] = set()
        picked = [self._pick(rng, self.first, used)]
        picked += [self._pick(rng, self.middle, used) for _ in range(n - 2)]
        picked.append(self._pick(rng, self.last, used))
        sentences = []
        for s in picked:
            text = s.text.replace(s.name, name) if s.name else s.text
            text = _NUMBER.sub(lambda m: _perturb(m.group(0), rng), text)
            sentences.append(text)
        authors = tuple(f"{rng.choice(_FIRST)} {rng.choice(_LAST)}"
                        for _ in range(rng.randint(1, 6)))
        categories = tuple(sorted(set(rng.sample(_CATEGORIES, rng.randint(1, 3)))))
        return Paper(id=f"synth{self.seed}-{i:07d}", title=self._title(rng, name),
                     abstract=" ".join(sentences), authors=authors,
                     year=rng.randint(2012, 2025), categories=categories)

    def papers(self, n: int, start: int = 0) -> Iterator[Paper]:
        for i in range(start, start + n):
            yield self.paper(i)


def _perturb(number: str, rng: random.Random) -> str:
    if "." in number:
        whole, frac = number.split(".")
        return f"{rng.randint(0, 10 ** len(whole) - 1)}.{rng.randint(0, 10 ** len(frac) - 1)}"
    if len(number) == 4 and number.startswith(("19", "20")):
        return number  # a year: keep it
    return str(rng.randint(10 ** (len(number) - 1), 10 ** len(number) - 1))


def write_jsonl(path: Path, papers: Iterator[Paper]) -> int:
    """Write papers as JSON Lines (the `jsonl` ingest format); returns how many."""
    count = 0
    with path.open("w", encoding="utf-8") as fh:
        for p in papers:
            d = {k: v for k, v in p.model_dump(mode="json").items() if v not in (None, [], ())}
            fh.write(json.dumps(d, ensure_ascii=False) + "\n")
            count += 1
    return count


def read_jsonl(path: Path) -> list[Paper]:
    """Read a file written by `write_jsonl` without the full parser (fast, for benchmarks)."""
    out = []
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            d = json.loads(line)
            d["authors"] = tuple(d.get("authors", ()))
            d["categories"] = tuple(d.get("categories", ()))
            out.append(Paper(**d))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("n", type=int, help="number of papers")
    ap.add_argument("out", type=Path, help="output .jsonl file")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--start", type=int, default=0, help="index of the first paper")
    args = ap.parse_args()
    gen = Generator(bundled_sources(), seed=args.seed)
    count = write_jsonl(args.out, gen.papers(args.n, args.start))
    print(f"wrote {count} papers to {args.out}")


if __name__ == "__main__":
    main()
