"""server.cutoff: max_tokens and stop applied to a streamed reply, split anywhere."""

from __future__ import annotations

import pytest

from rag.tokens import count_tokens
from server.cutoff import Cutoff, cut

TEXT = ("Graph networks are pretrained with contrastive objectives [1]. Masked attribute "
        "prediction also helps [2].\n\nSources:\n[1] A paper (p1)\n[2] Another (p2)")


def _streamed(text: str, size: int, **kwargs: object) -> tuple[str, str | None]:
    cutoff = Cutoff(**kwargs)  # type: ignore[arg-type]
    out = "".join(cutoff.feed(text[i:i + size]) for i in range(0, len(text), size))
    return out + cutoff.close(), cutoff.finish_reason


@pytest.mark.parametrize("size", [1, 3, 7, 1000])
def test_max_tokens_cuts_at_exactly_that_many_tokens(size: int) -> None:
    for limit in (1, 5, 12):
        out, reason = _streamed(TEXT, size, max_tokens=limit)
        assert reason == "length" and count_tokens(out) == limit and TEXT.startswith(out)
    out, reason = _streamed(TEXT, size, max_tokens=10_000)
    assert (out, reason) == (TEXT, None)


@pytest.mark.parametrize("size", [1, 2, 5, 1000])
def test_stop_cuts_before_the_first_stop_string_split_anywhere(size: int) -> None:
    assert _streamed(TEXT, size, stop=["\n\nSources:"]) == (TEXT.split("\n\nSources:")[0],
                                                            "stop")
    assert _streamed(TEXT, size, stop=["[2]", "Masked"]) == (TEXT.split("Masked")[0], "stop")
    assert _streamed(TEXT, size, stop=["not in it", "[9]"]) == (TEXT, None)
    assert _streamed(TEXT, size, stop=["p2)"])[0] == TEXT[:-3]


def test_the_earlier_limit_wins() -> None:
    assert cut(TEXT, max_tokens=3, stop=["Sources"]) == (cut(TEXT, max_tokens=3)[0], "length")
    assert cut(TEXT, max_tokens=500, stop=["[1]"]) == (TEXT.split("[1]")[0], "stop")
    assert cut(TEXT) == (TEXT, "stop")
    assert cut(TEXT, stop=["", ""]) == (TEXT, "stop")  # empty stop strings are no-ops


def test_multibyte_text_is_never_split_inside_a_character() -> None:
    text = "Über Sprachmodelle für 蛋白质 🧬 sequences"
    for limit in range(1, count_tokens(text)):
        out, _ = cut(text, max_tokens=limit)
        assert "\ufffd" not in out and text.startswith(out)
