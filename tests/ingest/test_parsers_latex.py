"""The LaTeX-leftover cleaner used by the trending, arXiv and BibTeX parsers."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ingest.latex import latex_to_text


@pytest.mark.parametrize(
    ("latex", "text"),
    [
        ("sparse view 360{\\deg} reconstruction", "sparse view 360° reconstruction"),
        ("50\\% of \\texttt{Avg-K} and \\textbf{\\emph{bold}}", "50% of Avg-K and bold"),
        ("(e.g.~RoBERTa) and Fig.~3", "(e.g. RoBERTa) and Fig. 3"),
        ("M{\\\"u}ller, Caf\\'e, \\c{c}a, {\\'\\i}", "Müller, Café, ça, í"),
        ("$\\alpha$-weighted \\Gamma, 3 \\pm 1, 5 \\times 5", "$α$-weighted Γ, 3 ± 1, 5 × 5"),
        ("in ``stone'' weights", "in “stone” weights"),
        ("see \\href{https://x.org}{our site}", "see our site"),
        ("https://x.org/a_b{https://x.org/a\\_b}.", "https://x.org/a_b."),
        ("\\cite{vaswani} stays", "\\cite{vaswani} stays"),  # unknown: shown, not guessed
    ],
)
def test_known_leftovers_become_text(latex, text):
    assert latex_to_text(latex) == text


@pytest.mark.parametrize(
    "plain",
    [
        "31% reduction; 0.837 +/- 0.068; $5 budget; flan_nas; a -- b; 2.2702 ~ 5.9563",
        "ranges 5~6 and http://host.org/~user/x stay; {architecture, accuracy} pairs & more",
    ],
)
def test_plain_text_is_left_alone(plain):
    assert latex_to_text(plain) == plain


def test_bibtex_mode_strips_case_protecting_braces_only():
    assert latex_to_text("{BERT}: {\\{}x{\\}} 50\\%", strip_braces=True) == "BERT: {x} 50%"
    assert latex_to_text("{BERT}") == "{BERT}"


@given(st.text().filter(lambda t: "\\" not in t and "~" not in t and "``" not in t))
def test_text_without_backslash_tilde_or_quotes_is_unchanged(text):
    assert latex_to_text(text) == text


@given(st.text(alphabet=st.sampled_from(list("\\{}~`'\"^=.cvuHkrdegalph%_$ ")), max_size=40))
def test_any_latex_like_input_returns_a_string(text):
    assert isinstance(latex_to_text(text, strip_braces=True), str)
