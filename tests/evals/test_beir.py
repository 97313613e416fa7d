"""BEIR loading: cross-checks, file:line errors, stable per-corpus collection names."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from evals.beir import index_collection_name, load_beir
from rag.errors import InputError, ParseError
from rag.settings import Settings
from tests.evals.conftest import BEIR_DIR


def _copy(tmp_path: Path) -> Path:
    return Path(shutil.copytree(BEIR_DIR, tmp_path / "ds"))


def test_loads_judged_queries_and_graded_qrels() -> None:
    ds = load_beir(BEIR_DIR)
    assert ds.name == "evals_beir" and len(ds.corpus) == 12
    assert set(ds.queries) == {"r1", "r2", "r3", "r4", "r5", "r6"}  # r9 has no judgement
    assert ds.qrels["r4"] == {"med": 2, "mae": 1}
    assert ds.qrels["r5"] == {"code": 1, "mae": 0}
    untitled = next(p for p in ds.corpus if p.id == "event")
    assert untitled.title == "Self-supervised pretraining on neuromorphic event camera data " \
        "reaches 64.83 percent top-1 accuracy"


def test_title_duplicates_are_kept_distinct(tmp_path: Path) -> None:
    ds_dir = _copy(tmp_path)
    with (ds_dir / "corpus.jsonl").open("a") as fh:
        fh.write('{"_id": "mae-2", "title": "Masked Autoencoders Are Scalable Vision '
                 'Learners", "text": "A second passage of the same article."}\n')
    ds = load_beir(ds_dir)
    assert {"mae", "mae-2"} <= {p.id for p in ds.corpus}


@pytest.mark.parametrize(("file", "text", "where", "message"), [
    ("qrels/test.tsv", "query-id\tcorpus-id\tscore\nr1\tmae\n", "test.tsv:2",
     "expected 3 tab-separated columns"),
    ("qrels/test.tsv", "r1\tmae\thigh\n", "test.tsv:1", "score 'high' is not a number"),
    ("qrels/test.tsv", "r1\tmae\t1\nr1\tmed\tinf\n", "test.tsv:2",
     "score 'inf' is not a finite number"),
    ("qrels/test.tsv", "r1\tmae\t1e400\n", "test.tsv:1", "score '1e400' is not a finite number"),
    ("qrels/test.tsv", "r1\tmae\tnan\n", "test.tsv:1", "score 'nan' is not a finite number"),
    ("queries.jsonl", '{"_id": "r1", "text": "ok"}\n{"_id": "r2"}\n', "queries.jsonl:2",
     "expected a non-empty string 'text'"),
    ("corpus.jsonl", '{"_id": "a", "title": "A", "text": "x"}\n{"title": "B", "text": "y"}\n',
     "corpus.jsonl:2", "missing '_id'"),
    ("corpus.jsonl", '{"_id": "a", "title": "A", "text": "x"}\n{"_id": "a", "title": "B", '
     '"text": "y"}\n', "corpus.jsonl:2", "duplicate _id 'a' (first on line 1)"),
])
def test_malformed_files_name_file_and_line(tmp_path: Path, file: str, text: str, where: str,
                                            message: str) -> None:
    ds_dir = _copy(tmp_path)
    (ds_dir / file).write_text(text)
    with pytest.raises(ParseError) as info:
        load_beir(ds_dir)
    assert where in str(info.value) and message in str(info.value)


def test_missing_parts_and_unjudged_dataset(tmp_path: Path) -> None:
    ds_dir = _copy(tmp_path)
    with pytest.raises(InputError, match=r"qrels/dev\.tsv: not found"):
        load_beir(ds_dir, split="dev")
    (ds_dir / "qrels" / "test.tsv").write_text("r1\tmae\t0\n")
    with pytest.raises(InputError, match=r"no query in qrels/test\.tsv has a relevant document"):
        load_beir(ds_dir)


def test_unknown_judged_ids_are_warnings(tmp_path: Path) -> None:
    ds_dir = _copy(tmp_path)
    with (ds_dir / "qrels" / "test.tsv").open("a") as fh:
        fh.write("r1\tghost\t1\nzz\tmae\t1\n")
    ds = load_beir(ds_dir)
    assert any("1 judged documents are not in corpus.jsonl" in w for w in ds.warnings)
    assert any("1 judged queries are not in queries.jsonl" in w for w in ds.warnings)
    assert "zz" not in ds.queries


def test_collection_name_depends_on_corpus_embedder_and_chunking(tmp_path: Path) -> None:
    ds = load_beir(BEIR_DIR)
    base = Settings(home=tmp_path, embed={"provider": "fake"})  # type: ignore[arg-type]
    name = index_collection_name(ds, base)
    assert name.startswith("eval-") and len(name) == len("eval-") + 12
    assert index_collection_name(load_beir(BEIR_DIR), base) == name
    assert index_collection_name(ds, base.with_overrides(embed__dimensions=128)) != name
    assert index_collection_name(ds, base.with_overrides(chunk__chunk_size=128)) != name
    ds.corpus.pop()
    assert index_collection_name(ds, base) != name
