"""`paperchat eval retrieval|qa|compare`: JSON shapes, reports, thresholds and exit codes."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from paperchat.main import app, run
from rag.library import Library
from tests.evals.conftest import BEIR_DIR, QA_SUITE

RETRIEVAL_KEYS = {"ndcg@10", "recall@10", "recall@100", "mrr@10", "map@100"}


def invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, ["eval", *args])
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr


def run_main(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
             *args: str) -> tuple[int, str]:
    """Through the console-script entry, which turns our errors into exit codes."""
    monkeypatch.setattr(sys, "argv", ["paperchat", "eval", *args])
    with pytest.raises(SystemExit) as info:
        run()
    return int(info.value.code or 0), capsys.readouterr().err


def _assert_reports(folder: Path) -> dict[str, object]:
    html = (folder / "report.html").read_text()
    assert html.count("src='data:image/png;base64,iVBORw0KGgo") >= 2  # embedded PNGs
    assert "<script" not in html and "http" not in html.split("<body>")[1]  # self-contained
    assert (folder / "report.md").read_text().startswith("# ")
    data: dict[str, object] = json.loads((folder / "report.json").read_text())
    return data


@pytest.mark.slow  # two eval runs in CLI processes
def test_retrieval_json_reports_and_index_cache(tmp_path: Path) -> None:
    code, out, err = invoke("retrieval", "--beir", str(BEIR_DIR), "--modes", "bm25,dense",
                            "--k", "20", "--json", "--out", str(tmp_path / "r1"))
    assert code == 0, err
    data = json.loads(out)
    assert {"dataset", "queries", "corpus", "results"} <= set(data)
    assert (data["dataset"], data["queries"], data["corpus"]) == ("evals_beir", 6, 12)
    assert list(data["results"]) == ["default", "bm25", "dense"]
    assert all(set(s) == RETRIEVAL_KEYS for s in data["results"].values())
    assert all(0 <= v <= 1 for s in data["results"].values() for v in s.values())
    assert data["results"]["bm25"]["recall@10"] > 0.8
    assert data["index"]["embedded"] == 12
    assert f"report: {tmp_path / 'r1' / 'report.html'}" in err
    report = _assert_reports(tmp_path / "r1")
    assert set(report["per_query"]["r4"]) == {"default", "bm25", "dense"}  # type: ignore[index]
    assert len(report["recall_curve"]["default"]) == 20  # type: ignore[index]

    code, out, _ = invoke("retrieval", "--beir", str(BEIR_DIR), "--modes", "default",
                          "--json", "--out", str(tmp_path / "r2"))
    again = json.loads(out)
    assert code == 0 and again["index"]["embedded"] == 0 and again["index"]["unchanged"] == 12
    assert again["index"]["collection"] == data["index"]["collection"]
    assert again["results"]["default"] == data["results"]["default"]


def test_retrieval_rejects_unknown_mode(monkeypatch: pytest.MonkeyPatch,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    code, err = run_main(monkeypatch, capsys, "retrieval", "--beir", str(BEIR_DIR),
                         "--modes", "bm25,sparse")
    assert code == 2 and "unknown mode 'sparse'" in err


def test_qa_json_reports_and_default_out_dir(qa_library: Library, tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    code, out, err = invoke("qa", str(QA_SUITE), "--engine", "extractive", "--json")
    assert code == 0, err
    data = json.loads(out)
    assert set(data["metrics"]) == {"recall@5", "mrr@10", "citation_precision",
                                    "citation_precision_single", "citation_precision_multi",
                                    "supported_precision", "citation_recall", "fact_recall",
                                    "refusal_accuracy", "false_refusal_rate",
                                    "unsupported_rate",
                                    "latency_p50_ms", "latency_p95_ms"}
    assert len(data["per_question"]) == 6
    folders = list((tmp_path / "reports").iterdir())
    assert len(folders) == 1 and folders[0].name.startswith("qa-")
    assert data["report"] == str(folders[0])
    report = _assert_reports(folders[0])
    assert report["metrics"] == data["metrics"]
    md = (folders[0] / "report.md").read_text()
    failing = md.split("## Failing questions")[1]
    s6 = failing.split("s6 (single)")[1].split("\n- ")[0]  # s6 misses a fact: it fails
    assert "why: " in s6 and "gold: Protein Language Models Learn Structure (prot)" in s6
    assert "retrieved: 1. " in s6 and "cited: " in s6 and "answer: " in s6
    assert "s1 (single)" not in failing


def test_thresholds_set_exit_code_and_name_the_metric(qa_library: Library, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch,
                                                      capsys: pytest.CaptureFixture[str]
                                                      ) -> None:
    base = ["qa", str(QA_SUITE), "--engine", "extractive", "--out", str(tmp_path / "r")]
    code, err = run_main(monkeypatch, capsys, *base, "--min", "fact_recall=0.99",
                         "--min", "recall@5=0.1", "--max", "latency_p95_ms=0.001")
    assert code == 1
    lines = [ln for ln in err.splitlines() if ln.startswith("threshold not met")]
    assert len(lines) == 2
    assert "fact_recall" in lines[0] and "< 0.99" in lines[0]
    assert "latency_p95_ms" in lines[1] and "> 0.00" in lines[1]
    report = json.loads((tmp_path / "r" / "report.json").read_text())
    assert len(report["thresholds"]["failed"]) == 2  # the report is written either way

    code, _ = run_main(monkeypatch, capsys, *base, "--min", "recall@5=0.5")
    assert code == 0


@pytest.mark.parametrize(("flag", "message"), [
    ("fact_recal=0.5", "unknown metric 'fact_recal'; known metrics: recall@5"),
    ("fact_recall", "expected METRIC=VALUE"),
    ("fact_recall=high", "'high' is not a number"),
])
def test_bad_thresholds_fail_before_running(monkeypatch: pytest.MonkeyPatch,
                                            capsys: pytest.CaptureFixture[str],
                                            flag: str, message: str) -> None:
    code, err = run_main(monkeypatch, capsys, "qa", str(QA_SUITE), "--min", flag)
    assert code == 2 and message in err
    assert not (Path(os.environ["PAPERCHAT_HOME"]) / "chroma").exists()  # nothing was run


def test_malformed_suite_exit_code_names_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    suite = tmp_path / "bad.jsonl"
    suite.write_text(QA_SUITE.read_text().splitlines()[0] + '\n{"id": "x"}\n')
    code, err = run_main(monkeypatch, capsys, "qa", str(suite))
    assert code == 3 and f"{suite}:2: missing 'question', 'gold', 'kind'" in err


def _qa_report(tmp_path: Path, name: str, passed: dict[str, bool], fact_recall: float) -> Path:
    rows = [{"id": qid, "question": f"question {qid}", "passed": ok} for qid, ok in
            passed.items()]
    path = tmp_path / f"{name}.json"
    path.write_text(json.dumps({"kind": "qa", "metrics": {"fact_recall": fact_recall,
                                                          "refusal_accuracy": None},
                                "per_question": rows}))
    return path


def test_compare_prints_deltas_and_changed_questions(tmp_path: Path) -> None:
    a = _qa_report(tmp_path, "a", {"q1": True, "q2": False, "q3": True}, 0.5)
    b = _qa_report(tmp_path, "b", {"q1": False, "q2": True, "q3": True}, 0.75)
    code, out, _ = invoke("compare", str(a), str(b))
    assert code == 0
    assert "fact_recall" in out and "+0.250" in out
    assert "2 changed outcome (1 now pass, 1 now fail)" in out
    assert "q1: pass -> fail  question q1" in out and "q2: fail -> pass" in out
    assert "q3" not in out

    code, out, _ = invoke("compare", str(a), str(b), "--json")
    diff = json.loads(out)
    assert diff["deltas"]["fact_recall"] == {"a": 0.5, "b": 0.75, "delta": 0.25}
    assert diff["deltas"]["refusal_accuracy"]["delta"] is None
    assert [(c["id"], c["a"], c["b"]) for c in diff["changed"]] == [
        ("q1", "pass", "fail"), ("q2", "fail", "pass")]


def test_compare_rejects_mixed_or_foreign_files(tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    qa = _qa_report(tmp_path, "a", {"q1": True}, 0.5)
    other = tmp_path / "r.json"
    other.write_text(json.dumps({"kind": "retrieval", "results": {}}))
    code, err = run_main(monkeypatch, capsys, "compare", str(qa), str(other))
    assert code == 2 and "cannot compare a qa report with a retrieval report" in err
    junk = tmp_path / "junk.json"
    junk.write_text("[1]")
    code, err = run_main(monkeypatch, capsys, "compare", str(qa), str(junk))
    assert code == 2 and "not an eval report" in err
