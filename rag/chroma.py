"""Talking to Chroma: the client (embedded or a `chroma run` server), error classification,
and reading pages ahead."""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

from rag.errors import CollectionError, StoreUnavailable

if TYPE_CHECKING:
    from rag.settings import Settings

log = logging.getLogger("paperchat.store")


def make_client(settings: Settings, *, fresh: bool = False) -> Any:
    """A Chroma client: HTTP when PAPERCHAT_CHROMA_URL is set, else embedded on disk.

    Every HTTP request is bounded by `settings.chroma_timeout` seconds (a timeout becomes
    StoreUnavailable), so a server that stops answering fails requests instead of holding
    them forever. `fresh` (embedded): a client that reads the data dir as it is now, see
    `_forget_embedded_system`."""
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    chroma_settings = ChromaSettings(anonymized_telemetry=False, allow_reset=False)
    if settings.chroma_url:
        url = urlparse(settings.chroma_url)
        if not url.hostname:
            raise CollectionError(f"PAPERCHAT_CHROMA_URL is not a URL: {settings.chroma_url!r}")
        port = url.port or 8000
        try:
            # HttpClient() already sends requests, with no timeout: check the server first.
            _heartbeat(f"{url.scheme}://{url.hostname}:{port}", settings.chroma_timeout)
            client = chromadb.HttpClient(host=url.hostname, port=port,
                                         ssl=url.scheme == "https", settings=chroma_settings)
        except Exception as e:  # chromadb raises plain ValueError/ConnectionError here
            raise StoreUnavailable(f"cannot reach the Chroma server at {settings.chroma_url}: "
                                   "is `chroma run` up?") from e
        _bound_requests(client, settings.chroma_timeout)
        return client
    settings.chroma_path.mkdir(parents=True, exist_ok=True)
    if fresh:
        _forget_embedded_system(str(settings.chroma_path))
    return chromadb.PersistentClient(path=str(settings.chroma_path), settings=chroma_settings)


def _forget_embedded_system(path: str) -> None:
    """Make the next client for `path` load it anew.

    chromadb 1.5 keeps one System per path per process (SharedSystemClient's cache), and
    that System's vector index never sees vectors another process wrote after it loaded
    them: a long-lived reader missed new papers in dense search until restarted. A new
    System loads them. chromadb has no public call for one path (`clear_system_cache`
    forgets every path), so the entry is dropped from its private map; clients made before
    captured their System's API and keep working on it, so searches in flight finish.
    tests/rag/test_freshness.py fails if this stops working."""
    from chromadb.api.shared_system_client import SharedSystemClient

    SharedSystemClient._identifier_to_system.pop(path, None)


def _heartbeat(base_url: str, timeout: float) -> None:
    import httpx

    httpx.get(f"{base_url}/api/v2/heartbeat", timeout=timeout).raise_for_status()


def _bound_requests(client: Any, timeout: float) -> None:
    """Give the client's HTTP session a timeout. chromadb 1.5 builds it with timeout=None and
    has no setting for it (chromadb/api/fastapi.py), so it is set on the session;
    tests/reliability/test_chroma_restart.py fails if this stops working."""
    import httpx

    session = getattr(getattr(client, "_server", None), "_session", None)
    if isinstance(session, httpx.Client):
        session.timeout = httpx.Timeout(timeout)
    else:
        log.warning("cannot bound Chroma request time: this chromadb has no httpx session "
                    "where 1.5 had it; a stalled server will block requests")


def is_missing(e: Exception) -> bool:
    """Chroma says the collection does not exist. A handle to a collection that another
    client dropped or renamed (a `--rebuild` swap) reports its segments missing, or fails
    "getting" it, instead."""
    text = f"{type(e).__name__} {e}".lower()
    return any(s in text for s in ("does not exist", "notfound", "not found",
                                   "missing metadata segment", "missing vector segment",
                                   "error getting collection"))


def unreachable(e: Exception) -> bool:
    """A transport failure (refused, reset, timed out), not an answer from Chroma."""
    import httpx

    if isinstance(e, httpx.TransportError | ConnectionError | TimeoutError):
        return True
    text = f"{type(e).__name__}: {e}".lower()
    return any(s in text for s in ("connect", "timed out", "timeout", "refused"))


def prefetched(pages: Iterator[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """`pages`, each fetched in a helper thread while the previous one is consumed.

    Chroma reads release the GIL, so reading and indexing overlap. At most one page
    waits in the queue; the thread stops when the pages end, fail or the consumer leaves."""
    slot: queue.Queue[tuple[str, Any]] = queue.Queue(maxsize=1)
    stop = threading.Event()

    def put(item: tuple[str, Any]) -> bool:
        while not stop.is_set():
            try:
                slot.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def run() -> None:
        try:
            for page in pages:
                if not put(("page", page)):
                    return
            put(("end", None))
        except BaseException as e:  # handed to the consumer, raised there
            put(("error", e))

    thread = threading.Thread(target=run, name="chroma-prefetch", daemon=True)
    thread.start()
    try:
        while True:
            kind, item = slot.get()
            if kind == "end":
                return
            if kind == "error":
                raise item
            yield item
    finally:
        stop.set()
        thread.join(timeout=5)
