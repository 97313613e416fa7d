"""Stable paper ids and title normalisation."""

from __future__ import annotations

import hashlib
import re
import unicodedata

_NON_WORD = re.compile(r"[^a-z0-9]+")


def normalise_title(title: str) -> str:
    """Lower-case, accent-free, punctuation-free title used to spot duplicates."""
    text = unicodedata.normalize("NFKD", title)
    text = "".join(c for c in text if not unicodedata.combining(c)).lower()
    return _NON_WORD.sub(" ", text).strip()


def slugify_title(title: str, max_words: int = 8) -> str:
    """A stable, readable id from a title: first words plus a short hash of the full title.

    The hash keeps two titles that share their first words apart.
    """
    norm = normalise_title(title)
    words = norm.split()[:max_words]
    digest = hashlib.sha1(norm.encode("utf-8")).hexdigest()[:6]
    return "-".join([*words, digest]) if words else digest
