"""One pydantic-settings object, built at each entry point and passed down.

Precedence: explicit overrides (CLI flags) > environment (`PAPERCHAT_*`, plus the usual
`OPENAI_API_KEY` / `OPENAI_BASE_URL`) > TOML file (`PAPERCHAT_CONFIG` or
`<home>/config.toml`) > defaults.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from rag.vocab import K_MAX, Fusion


def default_home() -> Path:
    """The platform's user data dir (e.g. ~/.local/share/paperchat)."""
    from platformdirs import user_data_path

    return user_data_path("paperchat", appauthor=False)


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class EmbedSettings(_Section):
    provider: Literal["minilm", "openai", "fake"] = Field(
        "minilm", description="minilm: bundled all-MiniLM-L6-v2; openai: an OpenAI-compatible "
        "embeddings endpoint; fake: deterministic hashing embedder for tests.")
    runtime: Literal["onnx", "torch"] = Field(
        "onnx", description="How minilm runs: onnx (exported once from the bundled weights, "
        "fast start) or torch (sentence-transformers).")
    model: str = Field("all-MiniLM-L6-v2", description="Embedding model name recorded in the "
                       "collection; for provider=openai the model sent to the endpoint.")
    base_url: str | None = Field(None, description="Embeddings endpoint for provider=openai.")
    api_key: SecretStr | None = Field(None, description="API key for provider=openai.")
    dimensions: int = Field(384, ge=8, le=8192, description="Vector size (fake/openai).")
    batch_size: int = Field(32, ge=1, le=1024, description="Texts embedded per call.")
    threads: int = Field(0, ge=0, description="Inference threads; 0 = all cores.")


class ChunkSettings(_Section):
    # 256 tiktoken tokens ~ MiniLM's 256-word-piece window, so the model sees all of a chunk.
    # Bundled abstracts: median 245 tokens with the title; 67/119 stay one chunk (170 chunks).
    # Measured (default pipeline, bundled eval set, R@5/MRR@10): 128 -> .950/.987,
    # 256 -> .954/.992, 384 -> .954/.988 (dense alone prefers 384: .901/.942 vs .881/.909).
    chunk_size: int = Field(256, ge=32, le=2048, description="Max tokens per chunk (tiktoken).")
    chunk_overlap: int = Field(32, ge=0, le=512, description="Tokens shared by adjacent chunks.")


class RetrievalSettings(_Section):
    k: int = Field(10, ge=1, le=K_MAX, description="Papers a search returns by default.")
    fusion: Fusion = Field(
        "zscore", description="How dense and BM25 rankings combine (see BENCHMARKS.md).")
    # Measured on evals/suites/bundled_qa.jsonl (112 answerable questions, MiniLM):
    # BM25 R@5 .949 MRR .979; dense .881/.909; RRF .943/.967; zscore w=.2 .955/.987,
    # w=.35 .954/.992, w=.6 .947/.976. 0.3-0.35 is the peak; BENCHMARKS.md has the table.
    dense_weight: float = Field(0.35, ge=0.0, le=1.0, description="Weight of the dense "
                                "z-score in zscore fusion; BM25 gets the rest.")
    rrf_k: int = Field(60, ge=1, description="Constant of reciprocal-rank fusion.")
    candidates: int = Field(50, ge=5, le=1000, description="Chunks fetched per component.")


class LLMSettings(_Section):
    base_url: str | None = Field(None, description="OpenAI-compatible endpoint "
                                 "(PAPERCHAT_LLM_BASE_URL, else OPENAI_BASE_URL).")
    api_key: SecretStr | None = Field(None, description="Key for the endpoint "
                                      "(PAPERCHAT_LLM_API_KEY, else OPENAI_API_KEY).")
    model: str = Field("gpt-4o-mini", description="Chat model name sent to the endpoint.")
    timeout: float = Field(60.0, gt=0, description="Seconds before one LLM request fails.")
    max_retries: int = Field(2, ge=0, le=10, description="Retries on 429/5xx with backoff.")
    temperature: float = Field(0.0, ge=0.0, le=2.0, description="Sampling temperature.")
    max_tokens: int = Field(512, ge=16, description="Tokens reserved for the answer.")
    context_window: int = Field(8192, ge=512, description="Prompt + answer token budget.")
    fallback_extractive: bool = Field(True, description="On LLM failure answer "
                                      "extractively with degraded=true instead of failing.")

    @property
    def configured(self) -> bool:
        return bool(self.base_url or self.api_key)


class AnswerSettings(_Section):
    engine: Literal["auto", "llm", "extractive"] = Field(
        "auto", description="auto = llm when an endpoint is configured, else extractive.")
    k: int = Field(5, ge=1, le=20, description="Papers given to the answer engine.")
    max_sentences: int = Field(6, ge=1, le=30, description="Extractive answer length.")
    support_threshold: float = Field(0.5, ge=0.0, le=1.0, description="Answer sentences "
                                     "whose best cosine to a cited source is below are flagged.")
    history_messages: int = Field(20, ge=2, le=1000, description="Stored messages of a chat "
                                  "session read for a follow-up turn (the latest ones).")
    guard: bool = Field(True, description="Grounding guard: an LLM answer that cites no "
                        "source, or whose sentences are mostly unsupported, is replaced by the "
                        "extractive answer (degraded=true, with a notice).")
    guard_max_unsupported: float = Field(0.5, ge=0.0, le=1.0, description="The guard's "
                                         "bar: the largest share of an LLM answer's claims "
                                         "that may be unsupported.")


class RelevanceSettings(_Section):
    stage: Literal["calibrated", "first-stage"] = Field(
        "calibrated", description="calibrated: the shipped relevance model decides which "
        "papers are cited and when to refuse (rag/relevance); first-stage: the top k papers, "
        "refused by the older fixed thresholds (also used when the embedder is not the one "
        "the model was fitted on).")
    # On by default: on SciFact train it lifts nDCG@10 from 0.731 to 0.757 (5-fold CV by
    # claim; BENCHMARKS.md) for the cost of scoring 30 papers per search; the answer path
    # applies the stage either way.
    rerank: bool = Field(True, description="Search's default mode also re-orders the "
                         "first stage's top 30 papers by the relevance model's ranker, as mode "
                         "'rerank' does (needs the calibrated stage; false = the first "
                         "stage's order).")
    store_sentences: bool = Field(True, description="Store each paper's abstract-sentence "
                                  "and title vectors at ingest for the calibrated stage (about "
                                  "2x the ingest embedding work; BENCHMARKS.md). Off: faster "
                                  "ingest, and the stage embeds each candidate's sentences when "
                                  "a question first retrieves it (kept in memory).")
    cite_bar: float | None = Field(None, ge=0.0, le=1.0, description="Calibrated P(relevant) "
                                   "a paper needs to be cited; unset = the model's (0.5).")
    refuse_bar: float | None = Field(None, ge=0.0, le=1.0, description="Refuse when the "
                                     "calibrated P(answerable) is below; unset = the model's.")
    # Every paper on the topic answers a list question: at 0.25 the bundled suite's
    # multi-paper questions cite 1.8 papers instead of 1.4 (citation recall 0.40 -> 0.46,
    # precision 1.00 -> 0.96); BENCHMARKS.md ("List questions").
    list_cite_bar: float = Field(0.25, ge=0.0, le=1.0, description="Calibrated P(relevant) "
                                 "a paper needs to be cited when the question asks for papers "
                                 "on a topic ('which papers ...', 'find work on ...'; "
                                 "rag.relevance.intent).")


class ServerSettings(_Section):
    host: str = Field("127.0.0.1", description="Bind address.")
    port: int = Field(8000, ge=0, le=65535, description="Bind port.")
    cors_origins: list[str] = Field(default_factory=list, description="Allowed CORS origins.")
    max_question_chars: int = Field(2000, ge=1, description="Longest accepted question.")
    max_upload_bytes: int = Field(20 * 1024 * 1024, ge=1, description="Largest ingest body.")
    max_request_bytes: int = Field(64 * 1024, ge=1024, description="Largest body of the "
                                   "question and session routes (413 past it).")
    max_chat_bytes: int = Field(1024 * 1024, ge=1024, description="Largest body of "
                                "/v1/chat/completions, which carries the whole conversation.")
    max_answers: int = Field(16, ge=1, le=1024, description="Answers generated at once "
                             "(ask, ask/stream, chat/completions); more wait in a queue.")
    max_queued_answers: int = Field(64, ge=0, le=100_000, description="Answers waiting for "
                                    "a slot; past that a request gets 503 with Retry-After.")
    ingest_embedding: Literal["auto", "process", "inline"] = Field(
        "auto", description="Where an HTTP ingest embeds its papers: process = a worker "
        "process at lower CPU priority (ingest_nice), so answers keep their speed meanwhile; "
        "inline = in the server process; auto = process for the local minilm model, inline "
        "for the fake and openai embedders.")
    ingest_nice: int = Field(10, ge=0, le=19, description="Niceness of the ingest worker "
                             "process (higher = lower priority than answering).")
    ingest_threads: int = Field(1, ge=1, le=64, description="Model threads of the ingest "
                                "worker process: the cores an ingest may take from answering.")
    prune_max_share: float = Field(0.2, ge=0.0, le=1.0, description="A prune over HTTP that "
                                   "would remove more than this share of the collection "
                                   "needs confirm=true.")


class TuiSettings(_Section):
    resume_last: bool = Field(True, description="The terminal chat reopens the most recent "
                              "session on start (`paperchat chat --new` starts a new one).")


class Settings(BaseSettings):
    """Everything configurable. Env prefix PAPERCHAT_, sections as PAPERCHAT_<SECTION>_<FIELD>."""

    model_config = SettingsConfigDict(
        env_prefix="PAPERCHAT_", env_nested_delimiter="_", env_nested_max_split=1,
        extra="forbid",
    )

    home: Path = Field(default_factory=default_home, description="Data directory.")
    collection: str = Field("papers", pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{1,62}$",
                            description="Collection name in Chroma.")
    chroma_url: str | None = Field(None, description="Chroma server URL; unset = embedded.")
    chroma_timeout: float = Field(10.0, gt=0, description="Seconds before one request to the "
                                  "Chroma server fails (store_unavailable).")
    database_url: SecretStr | None = Field(None, description="Shared state (chat sessions, "
                                           "ingest leases) as a SQLAlchemy URL, e.g. "
                                           "postgresql://user:pw@host/paperchat; unset = the "
                                           "SQLite file <home>/sessions.sqlite3.")
    database_timeout: float = Field(5.0, gt=0, description="Seconds before connecting to the "
                                    "database fails (database_unavailable).")
    ingest_lease: float = Field(30.0, ge=1.0, le=3600.0, description="With database_url "
                                "set: seconds an ingest's lease on its collection lasts "
                                "without a heartbeat; a killed writer's lease is taken over "
                                "after this.")
    ingest_wait: float = Field(600.0, ge=0, description="Seconds an ingest waits for another "
                               "process's ingest into the same collection before giving up.")
    api_key: SecretStr | None = Field(None, description="Bearer key required by /v1 routes "
                                      "(one user; see api_keys for several).")
    api_keys: dict[str, SecretStr] = Field(default_factory=dict, description="Several users: "
                                           "user name -> bearer key (JSON in "
                                           "PAPERCHAT_API_KEYS). Each user has their own "
                                           "chat sessions.")
    api_keys_file: Path | None = Field(None, description="File of `<user> <key>` lines, "
                                       "added to api_keys ('#' starts a comment).")
    admin_key: SecretStr | None = Field(None, description="Bearer key for POST /v1/ingest.")
    embed: EmbedSettings = Field(default_factory=EmbedSettings)  # type: ignore[arg-type]
    chunk: ChunkSettings = Field(default_factory=ChunkSettings)  # type: ignore[arg-type]
    retrieval: RetrievalSettings = Field(default_factory=RetrievalSettings)  # type: ignore[arg-type]
    llm: LLMSettings = Field(default_factory=LLMSettings)  # type: ignore[arg-type]
    answer: AnswerSettings = Field(default_factory=AnswerSettings)  # type: ignore[arg-type]
    relevance: RelevanceSettings = Field(default_factory=RelevanceSettings)  # type: ignore[arg-type]
    server: ServerSettings = Field(default_factory=ServerSettings)  # type: ignore[arg-type]
    tui: TuiSettings = Field(default_factory=TuiSettings)  # type: ignore[arg-type]

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, _TomlSource(settings_cls))

    @model_validator(mode="after")
    def _openai_env_fallbacks(self) -> Settings:
        # The openai SDK's own variables count when ours are not set.
        if self.llm.base_url is None and os.environ.get("OPENAI_BASE_URL"):
            self.llm.base_url = os.environ["OPENAI_BASE_URL"]
        if self.llm.api_key is None and os.environ.get("OPENAI_API_KEY"):
            self.llm.api_key = SecretStr(os.environ["OPENAI_API_KEY"])
        return self

    @property
    def is_default_collection(self) -> bool:
        """The default collection: the one a first `ask`/`search`/`chat` fills with the bundled
        papers, and the one `paperchat ingest` without --collection writes."""
        return self.collection == type(self).model_fields["collection"].default

    @property
    def chroma_path(self) -> Path:
        return self.home / "chroma"

    def with_overrides(self, **overrides: Any) -> Settings:
        """A copy with CLI-flag values applied (None values are ignored)."""
        data = self.model_dump()
        for key, value in overrides.items():
            if value is None:
                continue
            section, _, name = key.partition("__")
            if name:
                data[section][name] = value
            else:
                data[key] = value
        return Settings.model_validate(data)


class _TomlSource(PydanticBaseSettingsSource):
    """Reads `PAPERCHAT_CONFIG` or `<home>/config.toml` if present."""

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        path_str = os.environ.get("PAPERCHAT_CONFIG")
        if path_str:
            path = Path(path_str)
        else:
            home = os.environ.get("PAPERCHAT_HOME")
            path = (Path(home) if home else default_home()) / "config.toml"
        if not path.is_file():
            if path_str:
                from rag.errors import ConfigError

                raise ConfigError(f"{path}: config file not found (PAPERCHAT_CONFIG)")
            return {}
        try:
            with path.open("rb") as fh:
                return tomllib.load(fh)
        except tomllib.TOMLDecodeError as e:
            from rag.errors import ConfigError

            raise ConfigError(f"{path}: invalid TOML: {e}") from e


def load_settings(**overrides: Any) -> Settings:
    """Build settings from env + file, then apply non-None overrides (section__field keys)."""
    from pydantic import ValidationError

    from rag.errors import ConfigError

    try:
        settings = Settings()
        return settings.with_overrides(**overrides) if overrides else settings
    except ValidationError as e:
        first = e.errors()[0]
        loc = ".".join(str(p) for p in first["loc"])
        raise ConfigError(f"invalid setting {loc}: {first['msg']}") from e
