"""The CLI contract scripts rely on: JSON shapes, exit codes, messages, fast --help."""

from __future__ import annotations

import json
import os
import shutil
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


@pytest.mark.slow  # CLI processes with an ingest
def test_ingest_search_papers_json_contract(tmp_path: Path) -> None:
    home = tmp_path / "home"
    first = json.loads(cli("ingest", "--json", home=home).stdout)
    assert set(first) == {"collection", "papers", "added", "updated", "unchanged", "removed",
                          "backfilled", "chunks", "seconds"}
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


@pytest.mark.slow  # CLI processes with an ingest
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


@pytest.mark.slow  # CLI processes with an ingest
def test_search_on_a_fresh_home_indexes_the_bundled_collection_first(tmp_path: Path) -> None:
    """Like `ask`: the first search fills the default collection, with progress on stderr."""
    proc = cli("search", "brachytherapy segmentation", "-k", "2", home=tmp_path / "home")
    assert "Brachytherapy" in proc.stdout.splitlines()[0]
    # Not a TTY: plain progress lines, the first at 0 and the last at 119 of 119.
    lines = [ln for ln in proc.stderr.splitlines() if ln.startswith("First run: indexing")]
    assert lines[0].startswith("First run: indexing the bundled collection: 0/119 (0%")
    assert lines[-1].startswith("First run: indexing the bundled collection: 119/119 (100%")
    assert "indexed the bundled collection" in proc.stderr
    # --json keeps stderr free of progress (scripts read stdout; nothing to index anyway).
    again = cli("search", "speech", "--json", home=tmp_path / "home")
    assert json.loads(again.stdout)["results"] and "First run" not in again.stderr


@pytest.mark.slow  # five CLI processes
def test_an_empty_named_collection_names_the_exact_command(tmp_path: Path) -> None:
    home = tmp_path / "home"
    for command in (["search", "graphs"], ["ask", "graphs?"]):
        proc = cli(*command, "--collection", "mine", home=home, check=False)
        assert proc.returncode == 4, proc.stderr
        assert ("collection 'mine' is empty; run `paperchat ingest FILE... --collection mine` "
                "(or `paperchat ingest --collection mine` for the bundled papers)"
                in proc.stderr)
    listing = cli("papers", "--collection", "mine", home=home)
    assert listing.stdout == "" and "`paperchat ingest FILE... --collection mine`" in (
        listing.stderr)
    assert "run `paperchat ingest` (the bundled papers)" in cli("papers", home=home).stderr


@pytest.mark.slow  # CLI processes with an ingest
def test_ingest_prints_progress_lines_when_not_on_a_terminal(tmp_path: Path) -> None:
    proc = cli("ingest", home=tmp_path / "home")
    lines = [ln for ln in proc.stderr.splitlines() if ln.startswith("Embedding papers: ")]
    assert lines[0].startswith("Embedding papers: 0/119") and "119/119 (100%" in lines[-1]
    assert "119 papers (119 added" in proc.stdout
    # Nothing to embed the second time: no progress lines at all.
    assert "Embedding papers" not in cli("ingest", home=tmp_path / "home").stderr


@pytest.mark.parametrize(
    "args", [["ask", "  "], ["search", ""], ["ask", "--questions", "no.jsonl"]])
def test_bad_input_fails_before_any_heavy_import(args: list[str]) -> None:
    """Cheap checks run before chromadb, the model or the answer engine are imported."""
    code = ("import sys, paperchat.main as m\n"
            "try:\n"
            f"    m.app({args!r}, standalone_mode=False)\n"
            "except Exception as e:\n"
            "    print(type(e).__name__)\n"
            "heavy = ('chromadb', 'onnxruntime', 'numpy', 'llama_index', 'tiktoken', 'bm25s', "
            "'openai', 'textual', 'fastapi', 'torch', 'rag.library', 'rag.answer')\n"
            "print(sorted(m for m in heavy if m in sys.modules))\n")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                         text=True, timeout=60)
    error, loaded = out.stdout.splitlines()
    assert error in {"InputError", "ParseError"} and loaded == "[]", out.stdout + out.stderr


def test_papers_into_a_closed_pipe_exits_quietly(tmp_path: Path, bundled_fake_home: Path
                                                ) -> None:
    """`paperchat papers | head -1`: no traceback, no 'exit 1' for the reader leaving early."""
    home = shutil.copytree(bundled_fake_home, tmp_path / "home")
    env = {**os.environ, "PAPERCHAT_HOME": str(home), "PAPERCHAT_EMBED_PROVIDER": "fake",
           "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-m", "paperchat", "papers"], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout is not None and proc.stderr is not None
    first = proc.stdout.readline()
    proc.stdout.close()  # what `head -1` does after one line
    stderr = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == 0, stderr
    assert b"\t" in first and "Traceback" not in stderr and "Broken pipe" not in stderr


def test_an_empty_query_is_named_before_the_empty_collection(tmp_path: Path) -> None:
    proc = cli("search", "  ", home=tmp_path / "home", check=False)
    assert proc.returncode == 2 and "the query is empty" in proc.stderr


@pytest.mark.slow  # CLI processes with an ingest
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
