"""The CLI contract scripts rely on: JSON shapes, exit codes, messages, fast --help."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def cli(*args: str, home: Path, check: bool = True, extra: dict[str, str] | None = None
        ) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PAPERCHAT_HOME": str(home), "PAPERCHAT_EMBED_PROVIDER": "fake",
           "PYTHONPATH": str(ROOT), **(extra or {})}
    proc = subprocess.run([sys.executable, "-m", "paperchat", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)
    if check:
        assert proc.returncode == 0, proc.stderr
    return proc


def test_help_does_not_import_heavy_libraries() -> None:
    code = ("import sys; import paperchat.main; "
            "heavy = [m for m in ('chromadb', 'torch', 'llama_index', 'onnxruntime', "
            "'sentence_transformers', 'textual', 'fastapi', 'openai', 'matplotlib') "
            "if m in sys.modules]; print(','.join(heavy))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                         text=True, check=True)
    assert out.stdout.strip() == ""


def test_ingest_search_papers_json_contract(tmp_path: Path) -> None:
    home = tmp_path / "home"
    first = json.loads(cli("ingest", "--json", home=home).stdout)
    assert set(first) == {"collection", "papers", "added", "updated", "unchanged", "removed",
                          "chunks", "seconds"}
    assert first["papers"] == first["added"] == 119 and first["chunks"] >= 119
    again = json.loads(cli("ingest", "--json", home=home).stdout)
    assert again["unchanged"] == again["papers"] == 119 and again["added"] == 0

    found = json.loads(cli("search", "brachytherapy segmentation", "-k", "3", "--json",
                           home=home).stdout)
    assert set(found) == {"query", "results", "timings"} and "total_ms" in found["timings"]
    assert [r["rank"] for r in found["results"]] == [1, 2, 3]
    assert set(found["results"][0]) == {"rank", "paper_id", "title", "score", "snippet"}
    assert "Brachytherapy" in found["results"][0]["title"]

    queries = tmp_path / "q.jsonl"
    queries.write_text('{"id": "a", "query": "graph pretraining"}\n'
                       '{"id": "b", "query": "speech"}\n')
    lines = cli("search", "--queries", str(queries), "-k", "2", "--json",
                home=home).stdout.splitlines()
    rows = [json.loads(line) for line in lines]
    assert [r["id"] for r in rows] == ["a", "b"] and all(len(r["results"]) == 2 for r in rows)

    listing = json.loads(cli("papers", "--json", home=home).stdout)
    assert listing["count"] == 119 and len(listing["papers"]) == 119


def test_malformed_file_names_the_line_and_leaves_the_index_untouched(tmp_path: Path) -> None:
    home = tmp_path / "home"
    cli("ingest", "--json", home=home)
    bad = tmp_path / "more.jsonl"
    bad.write_text('{"title": "Fine", "abstract": "ok text"}\n'
                   '{"title": "Broken", "abstract": 3}\n')
    proc = cli("ingest", str(bad), "--prune", home=home, check=False)
    assert proc.returncode == 3
    assert "more.jsonl:2" in proc.stderr and "Traceback" not in proc.stderr
    listing = json.loads(cli("papers", "--json", home=home).stdout)
    assert listing["count"] == 119
    assert "Fine" not in {p["title"] for p in listing["papers"]}


def test_search_on_empty_collection_says_what_to_do(tmp_path: Path) -> None:
    proc = cli("search", "anything", home=tmp_path / "home", check=False)
    assert proc.returncode != 0 and "paperchat ingest" in proc.stderr


def test_an_empty_query_is_named_before_the_empty_collection(tmp_path: Path) -> None:
    proc = cli("search", "  ", home=tmp_path / "home", check=False)
    assert proc.returncode == 2 and "the query is empty" in proc.stderr


def test_ask_fills_only_the_default_collection_with_the_bundled_papers(tmp_path: Path) -> None:
    """A mistyped --collection must not quietly become a copy of the bundled collection."""
    home = tmp_path / "home"
    mine = tmp_path / "mine.jsonl"
    mine.write_text('{"title": "Zebrafish fins", "abstract": "We study fin regrowth."}\n')
    cli("ingest", str(mine), "--collection", "mypapers", home=home)
    typo = cli("ask", "fin regrowth?", "--collection", "mypaper", home=home, check=False)
    assert typo.returncode == 4 and "collection 'mypaper' is empty" in typo.stderr
    assert json.loads(cli("papers", "--json", "--collection", "mypaper",
                          home=home).stdout)["count"] == 0
    first = cli("ask", "which papers pretrain graph networks?", "--json", home=home)
    assert json.loads(first.stdout)["citations"]  # the default collection: first-run ingest
    assert json.loads(cli("papers", "--json", home=home).stdout)["count"] == 119


@pytest.mark.parametrize("args", [["search"], ["search", "x", "--queries", "f.jsonl"]])
def test_search_needs_exactly_one_query_source(tmp_path: Path, args: list[str]) -> None:
    proc = cli(*args, home=tmp_path / "home", check=False)
    assert proc.returncode == 2 and "QUERY or --queries" in proc.stderr
