"""POST /v1/ingest: index an uploaded collection file or a JSON list of papers.

Only the request's bytes are read, never a path on the server. The body limit is
server.max_upload_bytes (413 past it); a malformed file is a 422 naming the line.
"""

from __future__ import annotations

import json
import re
from pathlib import PurePath
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import ValidationError
from starlette.datastructures import UploadFile

from ingest.formats import Format
from ingest.parsers import decode_utf8, parse_text
from ingest.pipeline import ingest_parsed
from rag.errors import InputError, ParseError
from rag.models import IngestReport
from server.deps import IngestEmbedderDep, LibraryDep, SettingsDep
from server.errors import BadParameter
from server.schemas import PaperIn, error_responses

router = APIRouter(tags=["ingest"], responses=error_responses(400, 403, 409, 415, 503))

_PAPERS = {"type": "array", "minItems": 1, "items": PaperIn.model_json_schema()}
_BODY = {
    "required": True,
    "content": {
        "multipart/form-data": {"schema": {
            "type": "object", "required": ["file"],
            "properties": {"file": {"type": "string", "format": "binary",
                                    "description": "A collection file (any format "
                                    "`paperchat ingest` reads)."}}}},
        "application/json": {"schema": {"anyOf": [
            _PAPERS,
            {"type": "object", "required": ["papers"], "properties": {"papers": _PAPERS}}]}},
    },
}
_UNSAFE = re.compile(r"[^\w .+-]")
_PARAMETERS = {"format", "prune", "confirm"}


@router.post("/ingest", response_model=IngestReport, openapi_extra={"requestBody": _BODY})
async def ingest(
    request: Request,
    library: LibraryDep,
    settings: SettingsDep,
    embedder: IngestEmbedderDep,
    format: Annotated[Format | None, Query(description="Format of an uploaded file; "
                                           "detected when absent. Not for JSON bodies.")] = None,
    prune: Annotated[bool, Query(description="Remove papers not in this upload.")] = False,
    confirm: Annotated[bool, Query(description="Allow a prune that removes more than "
                                   "server.prune_max_share of the collection.")] = False,
) -> IngestReport:
    """Parse and index papers; returns the ingest counts.

    Send a collection file as multipart/form-data (field `file`), or a JSON list of papers
    (`title`, `abstract`, optional `id`, `authors`, `year`, `url`, `doi`, `categories`).
    Needs the admin key when PAPERCHAT_ADMIN_KEY is set; without one, only a server bound
    to loopback accepts it. Unknown query parameters, and `format` with a JSON body, are 400.

    A prune that would remove more than server.prune_max_share (default 20%) of the
    collection is refused with 409 `prune_unconfirmed`, saying how many papers it would
    remove (`would_remove`, `papers`), unless `confirm=true`; nothing is written then.

    Questions keep being answered meanwhile: the papers are embedded in a separate worker
    process at lower CPU priority (server.ingest_embedding). What readers see while it runs:
    the papers are written in batches of 64, each paper whole (its old or its new version,
    never neither), so the paper count and semantic (dense) search grow batch by batch;
    keyword (BM25) matches for the new text arrive when the whole ingest has finished; a
    prune removes papers at the end. If the ingest fails midway, the batches already
    written stay; sending the same upload again completes it.
    """
    unknown = sorted(set(request.query_params) - _PARAMETERS)
    if unknown:
        raise BadParameter(f"unknown query parameter(s) {', '.join(map(repr, unknown))[:200]}; "
                           f"this route takes {', '.join(sorted(_PARAMETERS))}")
    text, source, fmt = await _read_upload(request, format)
    parsed = await run_in_threadpool(lambda: parse_text(text, format=fmt, source=source))
    share = None if confirm else settings.server.prune_max_share
    # No `rebuild` over HTTP: it only matters after changing the embedding model, which
    # needs a restart anyway, and its collection swap is not yet safe for concurrent reads.
    # Another process's ingest (the CLI) holds the collection: 409 at once rather than a
    # request hanging for minutes; ingests of this server queue on the in-process lock.
    return await run_in_threadpool(lambda: ingest_parsed(
        library, parsed, prune=prune, wait=0, max_prune_share=share, embedder=embedder))


async def _read_upload(request: Request, format: str | None) -> tuple[str, str, str | None]:
    """(text, source name for messages, format) from a multipart or JSON body."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type == "multipart/form-data":
        async with request.form(max_files=1, max_fields=8) as form:
            upload = form.get("file")
            if not isinstance(upload, UploadFile):
                raise InputError('the multipart body needs a file in the "file" field')
            data = await upload.read()
            source = _UNSAFE.sub("_", PurePath(upload.filename or "upload").name)[:80]
        return decode_utf8(data, source or "upload"), source or "upload", format
    if content_type == "application/json" or content_type.endswith("+json"):
        if format is not None and format != "json":
            raise BadParameter(f"format={format} applies to uploaded files; a JSON body is "
                               "always a list of papers (leave format out)")
        text = decode_utf8(await request.body(), "<request body>")
        _check_papers(text)
        return text, "<request body>", "json"
    raise HTTPException(415, "send multipart/form-data with a file, or application/json")


def _check_papers(text: str) -> None:
    """ParseError naming the paper and field when a JSON body's documented fields have the
    wrong type (`"doi": 0`); malformed JSON and missing fields are the parser's to report,
    which also knows the aliases (`text` or `summary` for `abstract`)."""
    try:
        data = json.loads(text)
    except ValueError:
        return
    papers = data.get("papers") if isinstance(data, dict) else data
    for i, paper in enumerate(papers if isinstance(papers, list) else []):
        try:
            PaperIn.model_validate(paper)
        except ValidationError as e:
            for error in e.errors():
                if error["type"] != "missing":
                    field = ".".join(str(p) for p in error["loc"]) or "paper"
                    raise ParseError(f"paper {i + 1}: {field}: {error['msg']}",
                                     path="<request body>") from None
