"""`paperchat eval retrieval|qa|compare`: a thin front end over evals.* and rag.*."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from rag.console import err, interactive, print_json, progress_bar
from rag.vocab import K_MAX, MODES

eval_app = typer.Typer(help="Retrieval and answer-quality evaluation suites; every run writes "
                       "report.json, report.md and report.html.", no_args_is_help=True)

OutOpt = Annotated[Path | None, typer.Option(
    "--out", help="Report folder (default: ./reports/<kind>-<timestamp>/).")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print the results as JSON.")]
MinOpt = Annotated[list[str] | None, typer.Option(
    "--min", metavar="METRIC=VALUE", help="Fail (exit 1) if METRIC is below VALUE; repeatable.")]
MaxOpt = Annotated[list[str] | None, typer.Option(
    "--max", metavar="METRIC=VALUE", help="Fail (exit 1) if METRIC is above VALUE "
    "(e.g. latency_p95_ms); repeatable.")]


def _bundled_beir() -> Path:
    from evals.suite import bundled_suite_path

    return bundled_suite_path().parent / "beir"


def _finish(result: dict[str, Any], out: Path | None, thresholds: list[Any],
            metrics: dict[str, float | None]) -> list[str]:
    """Apply thresholds, write the three reports, say where."""
    from evals.report import default_out_dir, write_reports
    from evals.thresholds import check

    failed = check(thresholds, metrics)
    result["thresholds"] = {"checked": [f"{t.metric} {'>=' if t.op == 'min' else '<='} "
                                        f"{t.value:g}" for t in thresholds], "failed": failed}
    out_dir = out or default_out_dir(result["kind"])
    paths = write_reports(result, out_dir)
    result["report"] = str(out_dir)
    err(f"report: {paths['html']} (also report.md, report.json)")
    return failed


def _exit_on(failed: list[str]) -> None:
    for message in failed:
        err(f"threshold not met: {message}")
    if failed:
        raise typer.Exit(code=1)


@eval_app.command("retrieval")
def retrieval_command(
    beir: Annotated[Path | None, typer.Option(
        "--beir", help="BEIR dataset folder (corpus.jsonl, queries.jsonl, qrels/test.tsv). "
        "Default: the bundled collection's.")] = None,
    modes: Annotated[str, typer.Option(
        help=f"Comma-separated: {', '.join(MODES)} (default always runs).")
    ] = "default,bm25,dense",
    k: Annotated[int, typer.Option("--k", "-k", min=10, max=K_MAX,
                                   help="Papers ranked per query.")] = K_MAX,
    split: Annotated[str, typer.Option(help="qrels/<split>.tsv to score against.")] = "test",
    out: OutOpt = None,
    as_json: JsonOpt = False,
    min_: Annotated[list[str] | None, typer.Option(
        "--min", metavar="METRIC=VALUE", help="Fail (exit 1) if the default mode's METRIC "
        "(e.g. ndcg@10) is below VALUE; repeatable.")] = None,
    max_: MaxOpt = None,
) -> None:
    """Score paper rankings on a BEIR dataset: nDCG@10, Recall@10/100, MRR@10, MAP@100."""
    from evals.beir import load_beir
    from evals.metrics import RETRIEVAL_METRICS
    from evals.retrieval import open_index, parse_modes, run_retrieval, summary
    from evals.thresholds import parse_thresholds
    from rag.settings import load_settings

    settings = load_settings()
    thresholds = parse_thresholds(min_ or [], max_ or [], RETRIEVAL_METRICS)
    mode_list = parse_modes(modes)
    if k < 100:
        err(f"note: with --k {k}, recall@100 and map@100 only see the top {k} papers")
    dataset = load_beir(beir or _bundled_beir(), split)
    for warning in dataset.warnings:
        err(f"warning: {warning}")
    with progress_bar("Indexing the corpus", enabled=interactive()) as bar:
        library, index = open_index(settings, dataset, bar)
    with progress_bar("Running queries", enabled=interactive()) as bar:
        result = run_retrieval(library, index, dataset, mode_list, k, bar)
    failed = _finish(result, out, thresholds, result["results"]["default"])
    if as_json:
        print_json({**summary(result), "report": result["report"]})
    else:
        names = list(RETRIEVAL_METRICS)
        typer.echo(f"{result['dataset']}: {result['queries']} queries, {result['corpus']} "
                   f"papers, embedder {result['embedder']}")
        typer.echo(f"{'mode':<8} " + " ".join(f"{n:>10}" for n in names))
        for mode, scores in result["results"].items():
            typer.echo(f"{mode:<8} " + " ".join(f"{scores[n]:>10.4f}" for n in names))
    _exit_on(failed)


@eval_app.command("qa")
def qa_command(
    suite: Annotated[Path | None, typer.Argument(
        help="Suite JSONL: {id, question, gold, facts, kind} a line. Default: the bundled "
        "suite.")] = None,
    engine: Annotated[str | None, typer.Option(
        help="auto (LLM when an endpoint is configured), llm or extractive.")] = None,
    judge: Annotated[bool, typer.Option(
        "--judge", help="Also score faithfulness and answer relevance with the configured "
        "LLM (RAGAS definitions).")] = False,
    collection: Annotated[str | None, typer.Option(help="Collection name.")] = None,
    out: OutOpt = None,
    as_json: JsonOpt = False,
    min_: MinOpt = None,
    max_: MaxOpt = None,
) -> None:
    """Ask every suite question; score retrieval, citations, facts, refusals and latency."""
    from evals.judge import Judge
    from evals.qa import JUDGE_METRICS, QA_METRICS, run_qa
    from evals.suite import bundled_suite_path, load_suite
    from evals.thresholds import parse_thresholds
    from ingest.pipeline import ensure_ingested
    from rag.answer.service import Assistant
    from rag.errors import ConfigError, InputError
    from rag.library import Library
    from rag.settings import load_settings

    settings = load_settings(collection=collection)
    thresholds = parse_thresholds(min_ or [], max_ or [], [*QA_METRICS, *JUDGE_METRICS])
    needs_judge = [t.metric for t in thresholds if t.metric in JUDGE_METRICS]
    if needs_judge and not judge:
        raise InputError(f"{needs_judge[0]} is only measured with --judge")
    if judge and not settings.llm.configured:
        raise ConfigError("--judge needs an LLM endpoint: set OPENAI_API_KEY, or "
                          "PAPERCHAT_LLM_BASE_URL for a local OpenAI-compatible server")
    questions = load_suite(suite or bundled_suite_path())
    library = Library(settings)
    with progress_bar("First run: indexing the bundled collection",
                      enabled=interactive()) as bar:
        if ensure_ingested(library, progress=bar) is not None:
            err("indexed the bundled collection")
    assistant = Assistant(settings, library)
    with progress_bar(f"Asking {len(questions.questions)} questions",
                      enabled=interactive()) as bar:
        result = run_qa(library, assistant, questions, engine=engine,
                        judge=Judge(settings, library.embedder) if judge else None,
                        progress=bar)
    failed = _finish(result, out, thresholds, result["metrics"])
    if as_json:
        print_json(result)
    else:
        passed = sum(q["passed"] for q in result["per_question"])
        typer.echo(f"{result['suite']}: {result['questions']} questions, engine "
                   f"{result['engine']}, {passed} passed")
        for name, value in result["metrics"].items():
            typer.echo(f"  {name:<20} {'–' if value is None else f'{value:.4f}'}")
    _exit_on(failed)


@eval_app.command("compare")
def compare_command(
    a: Annotated[Path, typer.Argument(help="Earlier report.json (or its folder).")],
    b: Annotated[Path, typer.Argument(help="Later report.json (or its folder).")],
    as_json: JsonOpt = False,
) -> None:
    """Metric deltas (B - A) and the questions whose outcome changed."""
    from evals.compare import compare, load_report, render

    diff = compare(load_report(a), load_report(b))
    if as_json:
        print_json({"a": str(a), "b": str(b), **diff})
    else:
        typer.echo(render(diff))
