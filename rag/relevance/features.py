"""Features of (question, candidate paper) pairs that keep their meaning across collections.

Nothing here depends on how many papers a collection holds: cosines are absolute (the
embedder's scale), BM25 enters only relative to the best candidate or as a z-score within
the candidate list (its scale changes with the collection and the index), ranks are
within the first stage's list, and term coverage counts the question's own words.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from itertools import pairwise

import numpy as np

from rag.answer.text import content_terms

_WORD = re.compile(r"[a-z0-9]+")
_NUMBER = re.compile(r"\d+(?:\.\d+)?")
PRF_DEPTH = 3  # first-stage papers whose mean sentence vector feeds the query (dense PRF)


@dataclass(frozen=True)
class Candidate:
    """One first-stage paper with what the features read."""

    paper_id: str
    rank: int  # 1-based rank in the first stage
    fused: float  # the first stage's fused score
    dense: float | None  # best chunk cosine (None: not a dense candidate)
    bm25: float | None  # best chunk BM25 (None: not a keyword candidate)
    text: str  # title + abstract
    sentences: np.ndarray  # [n, dim] L2-normalised sentence vectors (n may be 0)
    title: np.ndarray | None = None  # the title's vector
    sentence_texts: tuple[str, ...] = ()  # the sentences `sentences` embeds
    title_text: str = ""


FEATURE_NAMES: tuple[str, ...] = (
    "dense", "dense_gap", "dense_z",
    "bm25_rel", "bm25_z",
    "fused_z", "log_rank",
    "sent1", "sent2", "sent1_gap", "sent1_z",
    "cover", "cover_w",
    "top_dense", "top_sent1", "absent",
    "title", "title_z", "mean_vec", "mean_vec_z", "sent_lse",
    "dense_rank", "bm25_rank", "sent_rank",
    "prf_mean", "prf_sent", "prf_z",
    "sent_cover", "sent_cover_w", "sent_cover_gap", "title_cover", "bigram",
    "num_match", "has_num",
)


@lru_cache(maxsize=65536)
def _terms(text: str) -> tuple[str, ...]:
    return tuple(content_terms(text))


def _bigrams(texts: Sequence[str]) -> set[tuple[str, str]]:
    out: set[tuple[str, str]] = set()
    for t in texts:
        terms = _terms(t)
        out.update(pairwise(terms))
    return out


def _lexical(question: str, q_terms: Sequence[str], weight: np.ndarray,
             cands: Sequence[Candidate]) -> dict[str, np.ndarray]:
    """Where the question's words sit in each candidate: the best single sentence's share
    of them (plain and in-list-idf weighted), the title's share, the question's adjacent
    content-word pairs found adjacent in a sentence or the title, its numbers found."""
    n = len(cands)
    out = {k: np.zeros(n) for k in ("sent_cover", "sent_cover_w", "title_cover", "bigram",
                                    "num_match")}
    q_pairs = set(pairwise(q_terms))
    numbers = set(_NUMBER.findall(question))
    total = float(weight.sum())
    for i, c in enumerate(cands):
        for s in c.sentence_texts:
            have = set(_terms(s))
            hit = np.array([t in have for t in q_terms], dtype=float)
            if len(hit):
                out["sent_cover"][i] = max(out["sent_cover"][i], float(hit.mean()))
                if total > 0:
                    share = float(hit @ weight) / total
                    out["sent_cover_w"][i] = max(out["sent_cover_w"][i], share)
        if q_terms:
            title = set(_terms(c.title_text))
            out["title_cover"][i] = sum(t in title for t in q_terms) / len(q_terms)
        if q_pairs:
            found = _bigrams([c.title_text, *c.sentence_texts])
            out["bigram"][i] = len(q_pairs & found) / len(q_pairs)
        if numbers:
            out["num_match"][i] = len(numbers & set(_NUMBER.findall(c.text))) / len(numbers)
    out["sent_cover_gap"] = out["sent_cover"] - out["sent_cover"].max()
    out["has_num"] = np.full(n, float(bool(numbers)))
    return out


def _z(values: np.ndarray) -> np.ndarray:
    sd = values.std()
    return (values - values.mean()) / sd if sd > 1e-9 else np.zeros_like(values)


def _log_ranks(values: np.ndarray) -> np.ndarray:
    """log(1 + rank) of each value within the list (0 = the largest)."""
    return np.log(1 + np.argsort(np.argsort(-values, kind="stable")))


def _present(term: str, stems: set[str], text: str) -> bool:
    return term in stems or (len(term) >= 4 and term in text)


def features(question: str, qvec: np.ndarray, cands: Sequence[Candidate],
             absent: int = 0) -> np.ndarray:
    """[len(cands), len(FEATURE_NAMES)] float64 matrix, rows in `cands` order.

    `absent`: question terms the whole collection never uses (a question-level signal).
    """
    n = len(cands)
    out = np.zeros((n, len(FEATURE_NAMES)))
    if n == 0:
        return out
    dense = np.array([c.dense if c.dense is not None else np.nan for c in cands])
    floor = np.nanmin(dense) if np.isfinite(dense).any() else 0.0
    dense = np.where(np.isfinite(dense), dense, floor)
    bm25 = np.array([c.bm25 or 0.0 for c in cands])
    fused = np.array([c.fused for c in cands])
    sent = np.zeros((n, 2))
    title = np.zeros(n)
    meanv = np.zeros(n)
    lse = np.zeros(n)
    means = np.zeros((n, len(qvec)))  # L2-normalised mean sentence vectors (0: none)
    for i, c in enumerate(cands):
        if len(c.sentences):
            raw = c.sentences @ qvec
            sims = np.sort(raw)[::-1]
            sent[i, 0] = sims[0]
            sent[i, 1] = sims[1] if len(sims) > 1 else sims[0]
            mv = c.sentences.mean(axis=0)
            means[i] = mv / max(float(np.linalg.norm(mv)), 1e-9)
            meanv[i] = float(means[i] @ qvec)
            lse[i] = np.log(np.exp(10 * raw).sum()) / 10
        else:
            sent[i] = dense[i]
            meanv[i] = lse[i] = dense[i]
        title[i] = float(c.title @ qvec) if c.title is not None else dense[i]
    # Dense pseudo-relevance feedback: the question moved towards the first stage's top few.
    prf = qvec + means[:PRF_DEPTH].mean(axis=0)
    prf = prf / max(float(np.linalg.norm(prf)), 1e-9)
    prf_mean = means @ prf
    prf_sent = np.array([float((c.sentences @ prf).max()) if len(c.sentences) else prf_mean[i]
                         for i, c in enumerate(cands)])
    q_terms = content_terms(question)
    texts = [" ".join(_WORD.findall(c.text.lower())) for c in cands]
    stems = [set(content_terms(c.text)) for c in cands]
    has = np.array([[_present(t, stems[i], texts[i]) for t in q_terms] for i in range(n)],
                   dtype=float).reshape(n, len(q_terms))
    # A term most candidates contain says little about which one answers (in-list idf).
    weight = np.array([math.log((n + 1) / (has[:, j].sum() + 0.5)) for j in
                       range(len(q_terms))])
    cover = has.mean(axis=1) if q_terms else np.zeros(n)
    cover_w = has @ weight / weight.sum() if q_terms and weight.sum() > 0 else cover
    top_bm25 = bm25.max()
    lexical = _lexical(question, q_terms, weight, cands)
    cols = {
        "dense": dense,
        "dense_gap": dense - dense.max(),
        "dense_z": _z(dense),
        "bm25_rel": bm25 / top_bm25 if top_bm25 > 0 else np.zeros(n),
        "bm25_z": _z(bm25),
        "fused_z": _z(fused),
        "log_rank": np.log([c.rank for c in cands]),
        "sent1": sent[:, 0],
        "sent2": sent[:, 1],
        "sent1_gap": sent[:, 0] - sent[:, 0].max(),
        "sent1_z": _z(sent[:, 0]),
        "cover": cover,
        "cover_w": cover_w,
        "top_dense": np.full(n, dense.max()),
        "top_sent1": np.full(n, sent[:, 0].max()),
        "absent": np.full(n, float(absent)),
        "title": title,
        "title_z": _z(title),
        "mean_vec": meanv,
        "mean_vec_z": _z(meanv),
        "sent_lse": lse,
        "dense_rank": _log_ranks(dense),
        "bm25_rank": _log_ranks(bm25),
        "sent_rank": _log_ranks(sent[:, 0]),
        "prf_mean": prf_mean,
        "prf_sent": prf_sent,
        "prf_z": _z(prf_mean),
        **lexical,
    }
    for j, name in enumerate(FEATURE_NAMES):
        out[:, j] = cols[name]
    return out


QUESTION_FEATURES: tuple[str, ...] = ("top_logit", "absent", "bm25_per_term", "wig",
                                      "absent_share", "miss_rare")


@dataclass(frozen=True)
class QuestionEvidence:
    """What the question model reads of one search, beyond the pair model's best logit."""

    term_df: Mapping[str, int]  # question terms -> live chunks containing them (0: absent)
    chunks: int  # live chunks in the collection (0: unknown)
    bm25: Sequence[float | None]  # the candidates' BM25 scores
    dense: Sequence[float | None]  # the candidates' best chunk cosines (None: not dense)
    mean_cosine: float | None  # the question's cosine to the collection's mean chunk vector
    top_text: str  # title + abstract of the candidate with the best pair logit


def normalised_idf(df: int, chunks: int) -> float:
    """log((N+1)/(df+0.5)) / log(N+1): 1 for a term in no chunk, ~0 for one in all of them,
    on the same 0-1 scale whatever the collection's size N."""
    n = max(chunks, df, 1)
    return min(1.0, max(0.0, math.log((n + 1) / (min(df, n) + 0.5)) / math.log(n + 1)))


def question_features(question: str, top_logit: float, ev: QuestionEvidence) -> np.ndarray:
    """[len(QUESTION_FEATURES)] signals of whether anything answers the question at all.

    - top_logit: the pair model's best logit among the candidates;
    - absent / absent_share: question terms the collection never uses (count, share);
    - bm25_per_term: the best candidate BM25 divided by the question's content terms (a
      near-miss question shares only generic words);
    - wig: the candidates' best chunk cosine minus the question's mean cosine to the whole
      collection (its cosine to the mean chunk vector), the weighted-information-gain
      predictor of query performance on the dense side: a question close to what the
      collection is about in general but to no paper in particular scores low. NaN without
      a dense side or the collection's mean vector (the caller puts the fitted mean there:
      no evidence);
    - miss_rare: the normalised idf of the collection's rarest question term that the most
      relevant candidate lacks (0 when it has them all): the specific word an off-topic
      best match misses ("hallucinate" in a summarisation question whose best paper only
      shares "pretrained LLMs").
    """
    best = max((b or 0.0 for b in ev.bm25), default=0.0)
    per_term = best / max(len(content_terms(question)), 1)
    absent = sum(1 for df in ev.term_df.values() if df == 0)
    share = absent / max(len(ev.term_df), 1)
    top = max((d for d in ev.dense if d is not None), default=None)
    wig = top - ev.mean_cosine if top is not None and ev.mean_cosine is not None else math.nan
    have = set(_terms(ev.top_text))
    miss = max((normalised_idf(df, ev.chunks) for t, df in ev.term_df.items()
                if df > 0 and t not in have), default=0.0)
    return np.array([top_logit, float(absent), per_term, wig, share, miss])
