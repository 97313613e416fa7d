"""The small error hierarchy; front ends convert these at their edges."""

from __future__ import annotations


class PaperchatError(Exception):
    """Base class: a problem the user can act on. `code` is a stable machine-readable tag."""

    code = "error"
    exit_code = 1


class ConfigError(PaperchatError):
    """Settings are invalid or inconsistent."""

    code = "config_error"
    exit_code = 2


class InputError(PaperchatError):
    """A request or argument is invalid (empty question, k out of range...)."""

    code = "invalid_input"
    exit_code = 2


class PruneRefused(InputError):
    """A prune would remove more of the collection than allowed without confirmation;
    nothing was written."""

    code = "prune_unconfirmed"

    def __init__(self, message: str, *, would_remove: int, papers: int) -> None:
        self.would_remove = would_remove
        self.papers = papers
        super().__init__(message)


class NotFoundError(PaperchatError):
    """A paper, session or collection does not exist."""

    code = "not_found"


class ParseError(PaperchatError):
    """A collection file is malformed. Carries the file and line (1-based) where known."""

    code = "parse_error"
    exit_code = 3

    def __init__(self, reason: str, *, path: str | None = None, line: int | None = None) -> None:
        self.reason = reason
        self.path = path
        self.line = line
        where = path or "<input>"
        if line is not None:
            where = f"{where}:{line}"
        super().__init__(f"{where}: {reason}")


class IngestError(PaperchatError):
    """Ingest could not complete; the previous index is left as it was."""

    code = "ingest_error"
    exit_code = 3


class IngestBusy(IngestError):
    """Another ingest into the same collection holds the write lock; nothing was written."""

    code = "ingest_busy"
    exit_code = 7


class CollectionError(PaperchatError):
    """The collection or store cannot be opened or used."""

    code = "collection_error"
    exit_code = 4


class EmptyCollection(CollectionError):
    """The collection holds no papers; the message names the exact command that fills it."""

    def __init__(self, collection: str, *, default: bool) -> None:
        self.collection = collection
        super().__init__(f"the collection '{collection}' is empty; "
                         f"{fill_hint(collection, default=default)}")


def fill_hint(collection: str, *, default: bool) -> str:
    """The command that fills `collection`. `default`: it is the default collection, which
    `paperchat ingest` without arguments fills; any other needs `--collection NAME`."""
    if default:
        return "run `paperchat ingest` (the bundled papers) or `paperchat ingest FILE...`"
    return (f"run `paperchat ingest FILE... --collection {collection}` "
            f"(or `paperchat ingest --collection {collection}` for the bundled papers)")


class EmbedderMismatch(CollectionError):
    """The collection was built with another embedding model or dimension."""

    code = "embedder_mismatch"


class StoreUnavailable(CollectionError):
    """The Chroma server cannot be reached."""

    code = "store_unavailable"


class DatabaseError(PaperchatError):
    """The shared-state database (sessions, ingest leases) cannot be used as it is."""

    code = "database_error"
    exit_code = 4


class DatabaseUnavailable(DatabaseError):
    """The database server cannot be reached (or the SQLite file opened)."""

    code = "database_unavailable"


class EmbedderError(PaperchatError):
    """The embedding model cannot be loaded or called."""

    code = "embedder_error"
    exit_code = 5


class LLMUnavailable(PaperchatError):
    """The configured LLM endpoint failed (timeout, auth, rate limit, server error, refused)."""

    code = "llm_unavailable"
    exit_code = 6

    def __init__(self, message: str, *, endpoint: str | None = None, status: int | None = None):
        self.endpoint = endpoint
        self.status = status
        super().__init__(message)
