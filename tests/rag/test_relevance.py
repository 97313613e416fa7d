"""The calibrated relevance stage: bounded monotone calibration, the citation bar, refusal
without an LLM call on a small collection the model was never fitted on (real MiniLM)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from rag.answer.service import Assistant
from rag.answer.vectors import SentenceVectors
from rag.library import Library
from rag.relevance.calibration import (
    Model,
    RelevanceModel,
    Trees,
    fit_isotonic,
    fit_logistic,
    logistic_model,
)
from rag.relevance.features import (
    FEATURE_NAMES,
    QUESTION_FEATURES,
    Candidate,
    QuestionEvidence,
    features,
    normalised_idf,
    question_features,
)
from rag.relevance.stage import CalibratedRelevance, make_relevance_stage
from rag.settings import Settings
from tests.rag.conftest import ANSWER_PAPERS, OUT_OF_SCOPE, TEST_KEY
from tests.utils.fake_openai import FakeOpenAI

MAE_Q = "Which method masks 75 percent of image patches and reaches 87.8 percent on ImageNet?"


def test_the_shipped_model_matches_the_feature_code() -> None:
    model = RelevanceModel.load()
    assert set(model.pair.names) <= set(FEATURE_NAMES)
    assert model.ranker is not None and model.ranker.names == FEATURE_NAMES
    assert model.ranker.trees is not None
    assert model.question.names == QUESTION_FEATURES
    assert 0.0 < model.refuse_bar < model.cite_bar < 1.0
    assert model.embedder == "all-MiniLM-L6-v2"


@pytest.mark.parametrize("part", ["pair", "question", "ranker"])
def test_probability_is_bounded_and_monotone_in_the_logit(part: str) -> None:
    model: Model = getattr(RelevanceModel.load(), part)
    rng = np.random.default_rng(0)
    x = model.mean + model.scale * rng.normal(0, 3, (500, len(model.names)))
    x[:5] *= 1e6  # far outside anything seen in fitting
    p = model.probability(x)
    assert np.all((p >= 0.0) & (p <= 1.0)) and np.isfinite(p).all()
    order = np.argsort(model.logit(x))
    assert np.all(np.diff(p[order]) >= 0)


def test_isotonic_step_keeps_the_probability_monotone_and_bounded() -> None:
    rng = np.random.default_rng(1)
    raw = rng.uniform(0, 1, 2000)
    y = (rng.uniform(0, 1, 2000) < raw ** 2).astype(float)
    kx, ky = fit_isotonic(raw, y, min_block=50)
    assert np.all(np.diff(kx) > 0) and np.all(np.diff(ky) >= 0)
    assert ky[0] >= 0 and ky[-1] <= 1
    m = Model(("a",), np.zeros(1), np.ones(1), np.ones(1), 0.0, kx, ky, {})
    p = m.probability(np.linspace(-50, 50, 101)[:, None])
    assert np.all(np.diff(p) >= 0) and p.min() >= 0 and p.max() <= 1
    # The calibrated probability tracks the observed rate (raw**2), not the raw score.
    assert abs(float(np.interp(0.5, kx, ky)) - 0.25) < 0.08


def test_logistic_fit_learns_the_signal_and_round_trips_through_json(tmp_path: Path) -> None:
    rng = np.random.default_rng(2)
    x = rng.normal(0, 1, (1000, 2))
    y = (x[:, 0] + 0.1 * rng.normal(0, 1, 1000) > 0).astype(float)
    _mean, _scale, w, _b = fit_logistic(x, y)
    assert w[0] > 3 and abs(w[1]) < 0.5
    pair = logistic_model(("a", "b"), x, y)
    model = RelevanceModel(pair, pair, 0.5, 0.1, 30, "emb", {})
    model.save(tmp_path / "m.json")
    again = RelevanceModel.load(tmp_path / "m.json")
    assert np.allclose(again.pair.probability(x), model.pair.probability(x))
    assert (again.cite_bar, again.refuse_bar, again.depth) == (0.5, 0.1, 30)


def _two_trees() -> Trees:
    """Tree 0: x0 <= 0.5 (NaN left) -> 1.0 else (x1 <= 2 (NaN right) -> 2.0 else 3.0);
    tree 1: a single leaf 0.25 (padded to tree 0's width)."""
    return Trees(feature=np.array([[0, 0, 1, 0, 0], [0, 0, 0, 0, 0]]),
                 threshold=np.array([[0.5, 0, 2.0, 0, 0], [0, 0, 0, 0, 0]]),
                 nan_left=np.array([[1, 0, 0, 0, 0], [0, 0, 0, 0, 0]], dtype=bool),
                 left=np.array([[1, 0, 3, 0, 0], [0, 0, 0, 0, 0]]),
                 right=np.array([[2, 0, 4, 0, 0], [0, 0, 0, 0, 0]]),
                 value=np.array([[0, 1.0, 0, 2.0, 3.0], [0.25, 0, 0, 0, 0]]),
                 leaf=np.array([[0, 1, 0, 1, 1], [1, 1, 1, 1, 1]], dtype=bool))


def test_trees_walk_to_the_right_leaves_and_round_trip_through_json() -> None:
    trees = _two_trees()
    x = np.array([[0.5, 9.0], [0.6, 2.0], [0.6, 2.1], [np.nan, 9.0], [0.7, np.nan]])
    assert trees.score(x).tolist() == [1.25, 2.25, 3.25, 1.25, 3.25]
    model = Model(("a", "b"), np.zeros(2), np.ones(2), np.zeros(2), -1.0, np.zeros(0),
                  np.zeros(0), {}, trees)
    again = Model.from_json(model.to_json())
    assert np.allclose(again.logit(x), trees.score(x) - 1.0)
    p = again.probability(np.vstack([x, [[1e9, -1e9]]]))
    assert np.all((p > 0) & (p < 1))
    order = np.argsort(again.logit(x))
    assert np.all(np.diff(again.probability(x)[order]) >= 0)


def _candidate(pid: str, title: str, sentences: tuple[str, ...], dim: int = 4) -> Candidate:
    rng = np.random.default_rng(len(pid))
    vecs = rng.normal(size=(len(sentences), dim))
    vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
    return Candidate(pid, 1, 1.0, 0.5, 1.0, f"{title} {' '.join(sentences)}", vecs,
                     None, sentences, title)


def test_lexical_features_see_phrases_titles_sentences_and_numbers() -> None:
    q = "Does masked autoencoding of 75 percent of patches help vision transformers?"
    cands = [
        _candidate("phrase", "Masked autoencoders are scalable vision learners",
                   ("We mask 75 percent of the patches.", "Vision transformers learn well.")),
        _candidate("scattered", "Learners at scale",
                   ("Transformers for vision.", "Autoencoding with masks of patches.")),
        _candidate("none", "Protein folding", ("Proteins fold.", "Structure is predicted.")),
    ]
    x = features(q, np.ones(4) / 2, cands)
    col = {name: x[:, FEATURE_NAMES.index(name)] for name in FEATURE_NAMES}
    assert col["bigram"][0] > col["bigram"][1] == col["bigram"][2] == 0
    assert col["title_cover"][0] > col["title_cover"][1] >= col["title_cover"][2] == 0
    assert col["num_match"].tolist() == [1.0, 0.0, 0.0] and set(col["has_num"]) == {1.0}
    assert col["sent_cover"][2] == 0 < col["sent_cover"][1]
    assert col["sent_cover_gap"].max() == 0
    assert np.isfinite(x).all() and x.shape == (3, len(FEATURE_NAMES))


SUMMARY_Q = "How often do pretrained LLMs hallucinate in abstractive summarization?"
SUMMARY_DF = {"often": 10, "pretrain": 90, "llms": 5, "hallucin": 0, "abstract": 2,
              "summar": 3}


def _question(top_text: str, mean_cosine: float | None = 0.25) -> dict[str, float]:
    ev = QuestionEvidence(SUMMARY_DF, 170, [4.0, None, 2.0], [0.35, None, 0.55],
                          mean_cosine, top_text)
    return dict(zip(QUESTION_FEATURES, question_features(SUMMARY_Q, 1.5, ev), strict=True))


def test_question_features_weigh_the_best_match_against_the_whole_collection() -> None:
    near_miss = _question("Efficient pretraining for LLMs. We summarize the results often.")
    assert near_miss["top_logit"] == 1.5
    # The best candidate cosine (0.55) over the question's cosine to the mean chunk (0.25).
    assert near_miss["wig"] == pytest.approx(0.30)
    assert near_miss["absent"] == 1 and near_miss["absent_share"] == pytest.approx(1 / 6)
    # The best match lacks "abstract" (in 2 of 170 chunks): the rarest term it misses.
    assert near_miss["miss_rare"] == pytest.approx(normalised_idf(2, 170))
    on_topic = _question("Abstractive summarization with pretrained LLMs, often.")
    assert on_topic["miss_rare"] == 0.0
    missing_common = _question("Abstractive summarization with LLMs.")  # lacks "often"
    assert 0.0 < missing_common["miss_rare"] < near_miss["miss_rare"]
    # Without the collection's mean vector there is no wig evidence: NaN, for the stage to
    # fill with the fitted mean.
    assert np.isnan(_question("x", mean_cosine=None)["wig"])


def test_normalised_idf_is_bounded_and_falls_with_the_document_frequency() -> None:
    for n in (100, 10_000, 1_000_000):
        values = [normalised_idf(df, n) for df in (0, 1, 10, n // 3, n)]
        assert values[0] == 1.0 and values[-1] >= 0.0
        assert values == sorted(values, reverse=True) and len(set(values)) == len(values)


def test_missing_collection_evidence_reads_as_the_fitted_mean() -> None:
    """A stage with no mean vector (a producer that cannot give one) still decides, with the
    wig column at the fitted mean: between the answers for a low and a high wig."""
    model = RelevanceModel.load()
    q = model.question
    col = QUESTION_FEATURES.index("wig")
    x = q.mean.copy()
    low, high = x.copy(), x.copy()
    low[col] -= 2 * q.scale[col]
    high[col] += 2 * q.scale[col]
    p_low, p_mean, p_high = q.probability(np.vstack([low, x, high]))
    assert p_low < p_mean < p_high


@pytest.fixture(scope="module")
def small_minilm(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Six papers (none of them in SciFact or the bundled suite) embedded with MiniLM."""
    home = tmp_path_factory.mktemp("relevance-minilm")
    Library(Settings(home=home, embed={"provider": "minilm"})).ingest(  # type: ignore[arg-type]
        ANSWER_PAPERS)
    return home


@pytest.fixture
def minilm_small(small_minilm: Path, monkeypatch: pytest.MonkeyPatch) -> Library:
    monkeypatch.setenv("PAPERCHAT_HOME", str(small_minilm))
    monkeypatch.setenv("PAPERCHAT_EMBED_PROVIDER", "minilm")
    return Library(Settings(home=small_minilm, embed={"provider": "minilm"}))  # type: ignore[arg-type]


@pytest.mark.slow  # real MiniLM: ~40 s to build the small collection once
def test_the_calibrated_stage_is_the_default_with_minilm_only(minilm_small: Library,
                                                                library: Library) -> None:
    vectors = SentenceVectors(minilm_small.embedder)
    stage = make_relevance_stage(minilm_small.settings, minilm_small, vectors)
    assert isinstance(stage, CalibratedRelevance)
    # The fake embedder's cosines mean nothing to the model: the first-stage fallback.
    fake = make_relevance_stage(library.settings, library, SentenceVectors(library.embedder))
    assert not isinstance(fake, CalibratedRelevance)
    off = minilm_small.settings.with_overrides(relevance__stage="first-stage")
    assert not isinstance(make_relevance_stage(off, minilm_small, vectors), CalibratedRelevance)


@pytest.mark.slow
@pytest.mark.parametrize("bar", [0.5, 0.05, 0.99])
def test_a_paper_below_the_bar_is_never_cited(minilm_small: Library, bar: float) -> None:
    stage = CalibratedRelevance(RelevanceModel.load(), SentenceVectors(minilm_small.embedder),
                                cite_bar=bar)
    response = minilm_small.search(MAE_Q, stage.depth(5))
    verdict = stage.assess(MAE_Q, response, 5)
    assert not verdict.refuse
    assert verdict.citable[0].paper_id == "mae"
    best = max(j.relevance or 0.0 for j in verdict.papers)
    for j in verdict.papers:
        assert j.relevance is not None and 0.0 <= j.relevance <= 1.0
        assert j.hit.relevance == j.relevance
        # Cited: clears the bar, or is the one best paper of a question the stage answers.
        assert j.cited == (j.relevance >= bar or j.relevance == best)
    # Citable first, then related, each by relevance.
    flags = [j.cited for j in verdict.papers]
    assert flags == sorted(flags, reverse=True)
    if bar == 0.99:
        assert len(verdict.citable) == 1 and len(verdict.related) == len(verdict.papers) - 1


@pytest.mark.slow
def test_answers_cite_only_papers_that_clear_the_bar(minilm_small: Library,
                                                     fake_openai: FakeOpenAI) -> None:
    assistant = Assistant(minilm_small.settings, minilm_small)
    answer = assistant.ask(MAE_Q, engine="extractive")
    assert not answer.refused
    assert [c.paper_id for c in answer.citations] == ["mae"]
    assert answer.answer.startswith("1 paper in the collection answers this")
    bar = minilm_small.settings.relevance.cite_bar or RelevanceModel.load().cite_bar
    by_id = {s.paper_id: s for s in answer.sources}
    assert by_id["mae"].relevance is not None and by_id["mae"].relevance >= bar
    others = [s for s in answer.sources if s.paper_id != "mae"]
    assert all(s.relevance is not None and s.relevance < bar for s in others)


@pytest.mark.slow
def test_out_of_scope_is_refused_without_an_llm_call(minilm_small: Library,
                                                     fake_openai: FakeOpenAI) -> None:
    settings = minilm_small.settings.with_overrides(llm__base_url=fake_openai.base_url,
                                                    llm__api_key=TEST_KEY, llm__max_retries=0)
    assistant = Assistant(settings, minilm_small)
    for question in (OUT_OF_SCOPE, "How are quantum error correcting codes decoded?"):
        answer = assistant.ask(question)
        assert answer.refused and answer.citations == [] and answer.sources == []
    assert fake_openai.chat_requests == []
    # The same assistant answers (and calls the model) when a paper answers.
    answer = assistant.ask(MAE_Q)
    assert not answer.refused and len(fake_openai.chat_requests) == 1


@pytest.mark.slow
def test_search_reranks_by_relevance_in_mode_rerank(minilm_small: Library) -> None:
    reranked = minilm_small.search(MAE_Q, 5, mode="rerank")
    assert reranked.results[0].paper_id == "mae"
    probs = [h.relevance for h in reranked.results]
    assert all(p is not None and 0.0 <= p <= 1.0 for p in probs)
    assert [h.rank for h in reranked.results] == [1, 2, 3, 4, 5]
    # Ordered by the model's ranker; a model without one orders by P(relevant).
    model = RelevanceModel.load()
    plain = CalibratedRelevance(replace(model, ranker=None),
                                SentenceVectors(minilm_small.embedder))
    first = minilm_small.search(MAE_Q, plain.depth(5), mode="zscore")
    by_p = [h.relevance for h in plain.rerank(MAE_Q, first, 5).results]
    assert by_p == sorted(by_p, reverse=True)  # type: ignore[type-var]
    assert "rerank_ms" in reranked.timings
    # The default mode re-ranks too (relevance.rerank is on by default); a fusion named
    # explicitly, or relevance.rerank off, is the first stage alone.
    assert [h.paper_id for h in minilm_small.search(MAE_Q, 5).results] == [
        h.paper_id for h in reranked.results]
    assert all(h.relevance is None for h in minilm_small.search(MAE_Q, 5, mode="zscore").results)
    off = Library(minilm_small.settings.with_overrides(relevance__rerank=False))
    assert all(h.relevance is None for h in off.search(MAE_Q, 5).results)


@pytest.mark.slow
def test_sentence_vectors_are_stored_at_ingest_and_follow_prune(tmp_path: Path) -> None:
    from rag.relevance.store import SUFFIX

    settings = Settings(home=tmp_path / "h", embed={"provider": "minilm"})  # type: ignore[arg-type]
    lib = Library(settings)
    lib.ingest(ANSWER_PAPERS[:3])
    got = lib.companion(SUFFIX).fetch(include=["metadatas"])
    by_paper: dict[str, int] = {}
    for meta in got["metadatas"]:
        by_paper[meta["paper_id"]] = by_paper.get(meta["paper_id"], 0) + 1
    assert set(by_paper) == {p.id for p in ANSWER_PAPERS[:3]}
    # A changed paper replaces its records; a pruned one loses them.
    changed = ANSWER_PAPERS[0].model_copy(update={"abstract": "One sentence only."})
    lib.ingest([changed, ANSWER_PAPERS[1]], prune=True)
    got = lib.companion(SUFFIX).fetch(include=["metadatas", "documents"])
    papers = {m["paper_id"] for m in got["metadatas"]}
    assert papers == {changed.id, ANSWER_PAPERS[1].id}
    mine = [d for d, m in zip(got["documents"], got["metadatas"], strict=True)
            if m["paper_id"] == changed.id]
    assert sorted(mine) == sorted([changed.title, "One sentence only."])
    # The stage reads them (no query-time embedding for stored papers).
    stage = lib.reranker()
    assert stage is not None
    hits = lib.search("masked autoencoders", 2, mode="zscore").results
    found = stage.sentences.sentences(hits)
    assert found[changed.id].texts == ("One sentence only.",)
    assert found[changed.id].title is not None


@pytest.mark.slow
def test_a_question_asking_for_papers_is_cited_at_the_list_bar(minilm_small: Library) -> None:
    # Bars far apart, so the bar used is visible in what is cited.
    stage = CalibratedRelevance(RelevanceModel.load(), SentenceVectors(minilm_small.embedder),
                                cite_bar=0.99, list_cite_bar=0.02)
    listing = "Which papers pretrain vision transformers on images?"
    verdict = stage.assess(listing, minilm_small.search(listing, stage.depth(5)), 5)
    assert not verdict.refuse
    best = max(j.relevance or 0.0 for j in verdict.papers)
    assert [j.cited for j in verdict.papers] == [
        (j.relevance or 0.0) >= 0.02 or j.relevance == best for j in verdict.papers]
    assert {"mae", "medvit"} <= {h.paper_id for h in verdict.citable}
    # The same stage answers a fact question with its one best paper.
    fact = stage.assess(MAE_Q, minilm_small.search(MAE_Q, stage.depth(5)), 5)
    assert [h.paper_id for h in fact.citable] == ["mae"]
    # The list bar never exceeds the general one.
    assert CalibratedRelevance(RelevanceModel.load(), SentenceVectors(minilm_small.embedder),
                               cite_bar=0.3, list_cite_bar=0.6).list_cite_bar == 0.3
