"""Eval loaders fuzzed like the ingest parsers (issue 7: every parser, hostile input).

A suite file, a BEIR corpus/queries/qrels file or a whole BEIR folder gives a clean result
or one of the project's errors (a ParseError naming the file, an InputError) - never another
exception, which would be a traceback from `paperchat eval`. The judge's reply parser has its
own contract: a usable value or JudgeError, which the judge records on the row.
FUZZ_N=3000 digs deeper.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from evals.beir import load_beir, load_corpus, load_qrels, load_queries
from evals.judge import Judge, JudgeError, parse_json
from evals.suite import KINDS, load_suite
from rag.embedders.fake import HashingEmbedder
from rag.errors import PaperchatError, ParseError
from tests.ingest.test_parsers_fuzz import SCALAR, VALUE

FAST = settings(max_examples=int(os.environ.get("FUZZ_N", "50")), deadline=None,
                suppress_health_check=[HealthCheck.too_slow,
                                       HealthCheck.function_scoped_fixture])

JUNK = st.sampled_from(["", " ", "{", "[]", "null", "1", '"s"', "{}", "[" * 3000 + "]" * 3000,
                        "9" * 5000, '{"a": NaN}', "\ufeff{}", "\t"]) | st.text(max_size=12)


def lines(good: st.SearchStrategy[Any], bad: st.SearchStrategy[Any]) -> st.SearchStrategy[str]:
    """JSON Lines: mostly `good` records (so the loader's checks past the first line run),
    with up to two `bad` records or junk lines put anywhere."""
    wrong = bad.map(json.dumps) | JUNK | JUNK.map('{{"_id": "1", "text": {}}}'.format)
    return mixed(good.map(json.dumps), wrong)


def mixed(good: st.SearchStrategy[str], wrong: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    """Up to four `good` lines with up to two `wrong` ones inserted anywhere."""

    def mix(ok: list[str], extra: list[tuple[int, str]]) -> str:
        for at, line in extra:
            ok.insert(at % (len(ok) + 1), line)
        return "\n".join(ok)

    return st.builds(mix, st.lists(good, max_size=4),
                     st.lists(st.tuples(st.integers(0, 5), wrong), max_size=2))


def raw_file() -> st.SearchStrategy[bytes]:
    """Bytes that are not necessarily UTF-8 (read_text's ParseError path)."""
    return st.binary(max_size=40) | st.text(max_size=40).map(str.encode)


@pytest.fixture(scope="module")
def workdir() -> Iterator[Path]:
    with tempfile.TemporaryDirectory() as d:
        yield Path(d)


def check(load: Callable[[Path], Any], path: Path, data: str | bytes,
          read: tuple[Path, ...] = ()) -> Any:
    """The contract: a value, or a PaperchatError; a ParseError names the file it read
    (`path`, or one of the other files `read` by the loader)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    try:
        return load(path)
    except ParseError as e:
        assert e.path in {str(p) for p in (path, *read)}
        assert str(e).startswith(str(e.path))
    except PaperchatError:
        pass
    return None


# --- QA suites -----------------------------------------------------------------------------

QUESTION = st.dictionaries(
    st.sampled_from(["id", "question", "gold", "facts", "kind"]) | st.text(max_size=3),
    VALUE | st.sampled_from(KINDS) | st.lists(SCALAR, max_size=3), max_size=6)
NAME = st.sampled_from(["a", "b", "c", " d ", ""]) | st.text(max_size=3)
GOOD_QUESTION = st.sampled_from(KINDS).flatmap(lambda kind: st.fixed_dictionaries({
    "id": NAME | st.integers(0, 3), "question": st.text(min_size=1, max_size=8),
    "kind": st.just(kind),
    "gold": st.lists(NAME, min_size=kind != "none", max_size=2 * (kind != "none"))},
    optional={"facts": st.lists(NAME, max_size=2)}))


@FAST
@given(text=lines(GOOD_QUESTION, QUESTION))
def test_suite_lines(workdir: Path, text: str) -> None:
    suite = check(load_suite, workdir / "suite.jsonl", text)
    if suite is not None:
        assert suite.questions
        ids = [q.id for q in suite.questions]
        assert len(set(ids)) == len(ids) and all(ids)
        for q in suite.questions:
            assert q.kind in KINDS and q.question and (q.kind == "none") == (not q.gold)


@FAST
@given(data=raw_file())
def test_suite_bytes(workdir: Path, data: bytes) -> None:
    check(load_suite, workdir / "suite.jsonl", data)


# --- BEIR ----------------------------------------------------------------------------------

BEIR_KEYS = st.sampled_from(["_id", "title", "text", "metadata", "id", "abstract"])
BEIR_OBJECT = st.dictionaries(BEIR_KEYS | st.text(max_size=3), VALUE, max_size=5)
GOOD_DOC = st.fixed_dictionaries({"_id": NAME | st.integers(0, 3),
                                  "text": st.text(min_size=1, max_size=20)},
                                 optional={"title": st.text(max_size=8)})
GOOD_QUERY = st.fixed_dictionaries({"_id": st.sampled_from(["q1", "q2"]) | NAME,
                                    "text": st.text(min_size=1, max_size=8)})
SCORE = (st.sampled_from(["0", "1", "2", "-1", "2.5", "inf", "-inf", "nan", "1e400", "-1e400",
                          "1e308", "1_0", " 1 ", "", "x", "0x1", "9" * 5000, "Infinity"])
         | st.floats().map(repr) | st.integers().map(str) | st.text(max_size=4))
QREL_LINE = (st.tuples(st.sampled_from(["q1", "q2"]) | NAME,
                       st.sampled_from(["a", "b", "1", "2"]) | NAME, SCORE)
             .map("\t".join)
             | st.lists(st.text(max_size=3), max_size=5).map("\t".join)
             | st.sampled_from(["query-id\tcorpus-id\tscore", "qid\tdoc\tscore", ""]))
GOOD_QREL = st.tuples(st.sampled_from(["q1", "q2"]), st.sampled_from(["a", "b", "1"]),
                      st.sampled_from(["0", "1", "2"])).map("\t".join)
QRELS = st.builds(lambda header, body: header + body,
                  st.sampled_from(["", "query-id\tcorpus-id\tscore\n"]),
                  mixed(GOOD_QREL, QREL_LINE))


@FAST
@given(text=lines(GOOD_DOC, BEIR_OBJECT))
def test_beir_corpus(workdir: Path, text: str) -> None:
    papers = check(load_corpus, workdir / "corpus.jsonl", text)
    if papers is not None:
        ids = [p.id for p in papers]
        assert ids and len(set(ids)) == len(ids)
        assert all(p.id and p.title for p in papers)


@FAST
@given(text=lines(GOOD_QUERY, BEIR_OBJECT))
def test_beir_queries(workdir: Path, text: str) -> None:
    queries = check(load_queries, workdir / "queries.jsonl", text)
    if queries is not None:
        assert all(isinstance(k, str) and v and v == v.strip() for k, v in queries.items())


@FAST
@example(text="query-id\tcorpus-id\tscore\nq1\t1\tinf")  # OverflowError before 52b0863
@example(text="q1\t1\t1e400")
@example(text="q1\t1\t" + "9" * 5000)
@given(text=QRELS)
def test_beir_qrels(workdir: Path, text: str) -> None:
    qrels = check(load_qrels, workdir / "qrels.tsv", text)
    if qrels is not None:
        for judged in qrels.values():
            assert all(isinstance(g, int) for g in judged.values())


@FAST
@given(corpus=lines(GOOD_DOC, BEIR_OBJECT) | raw_file(), queries=lines(GOOD_QUERY, GOOD_DOC),
       qrels=QRELS | raw_file())
def test_beir_folder(workdir: Path, corpus: str | bytes, queries: str, qrels: str | bytes
                     ) -> None:
    folder = workdir / "beir"
    (folder / "qrels").mkdir(parents=True, exist_ok=True)
    (folder / "queries.jsonl").write_text(queries)
    (folder / "qrels" / "test.tsv").write_bytes(qrels if isinstance(qrels, bytes)
                                                else qrels.encode())
    ds = check(lambda p: load_beir(p.parent), folder / "corpus.jsonl", corpus,
               read=(folder / "queries.jsonl", folder / "qrels" / "test.tsv"))
    if ds is not None:
        assert ds.queries and set(ds.queries) == set(ds.qrels)


# --- the judge's replies -------------------------------------------------------------------

REPLY_VALUE = st.recursive(
    SCALAR | st.sampled_from([0, 1, "0", "1", " 1 ", True]),
    lambda inner: (st.lists(inner, max_size=3)
                   | st.dictionaries(st.sampled_from(["statements", "verdicts", "questions",
                                                      "verdict", "statement"])
                                     | st.text(max_size=3), inner, max_size=3)),
    max_leaves=8)
REPLY = (REPLY_VALUE.map(json.dumps)
         | st.tuples(st.sampled_from(["", "Sure: ", "```json\n", "```\n"]),
                     REPLY_VALUE.map(json.dumps), st.sampled_from(["", "\n```", " ok}"]))
         .map("".join)
         | st.lists(st.sampled_from(["{", "}", "```", "json", '"', ":", "[", "]", "1"])
                    | st.text(max_size=3), max_size=12).map("".join)
         | JUNK
         | JUNK.map('{{"statements": {}}}'.format))


@FAST
@example(text='{"verdicts": ' + "[" * 3000 + "]" * 3000 + "}")  # RecursionError escaped
@example(text='{"questions": ' + "9" * 5000 + "}")  # ValueError (int digit limit) escaped
@given(text=REPLY)
def test_judge_reply_parser(text: str) -> None:
    with contextlib.suppress(JudgeError):
        parse_json(text)


class _Chat:
    """A chat model that replies with one fixed text."""

    def __init__(self, text: str) -> None:
        self.text = text

    def complete(self, messages: list[dict[str, str]], *, usage: dict[str, int],
                 max_tokens: int) -> str:
        return self.text


@FAST
@given(text=REPLY, n_claims=st.integers(0, 3))
def test_judge_replies_to_each_prompt(text: str, n_claims: int) -> None:
    judge = Judge(SimpleNamespace(llm=SimpleNamespace(max_tokens=256)),  # type: ignore[arg-type]
                  HashingEmbedder(16), chat=_Chat(text))  # type: ignore[arg-type]
    claims = [f"claim {i}" for i in range(n_claims)]
    for call in (lambda: judge.claims("q", "a"), lambda: judge.verify(claims, "ctx"),
                 lambda: judge.answer_relevance("q", "a")):
        try:
            out = call()
        except JudgeError:
            continue
        if isinstance(out, tuple):
            score, generated = out
            assert score is None or np.isfinite(score)
            assert all(isinstance(g, str) and g for g in generated)
        else:
            assert isinstance(out, list)
