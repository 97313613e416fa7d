"""LLM-as-judge scores, defined as RAGAS defines them.

- faithfulness: the answer is broken into standalone claims (one LLM call), each claim is
  verified against the retrieved context (one call); score = supported claims / claims.
  No claims -> None (RAGAS: NaN).
- answer_relevance: the LLM writes N questions the answer would answer (one call); score =
  mean cosine similarity, with the library's embedder, between the question and each.

Calls go through the project's chat transport (rag.answer.llm.ChatModel, which builds its
client with rag.llm_client.make_openai_client from settings.llm). A judge failure on one
question is recorded on that row as `judge_error`, not fatal to the run.
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any

from rag.errors import LLMUnavailable

if TYPE_CHECKING:
    from rag.answer.llm import ChatModel
    from rag.answer.models import Answer
    from rag.embedders import Embedder
    from rag.settings import Settings

N_QUESTIONS = 3  # RAGAS's default "strictness"
MIN_TOKENS = 1024  # verdict lists need room even when answers are capped lower

CLAIMS_PROMPT = """\
Given a question and an answer, break every sentence of the answer down into one or more \
fully understandable statements (claims). Each statement must stand on its own: no \
pronouns, no references to "the paper" without naming what it is about. Leave out \
sentences that make no claim (greetings, lead-ins such as "3 papers speak to this:").
Reply with JSON only: {{"statements": ["...", "..."]}}

Question: {question}
Answer: {answer}"""

VERIFY_PROMPT = """\
Your task is to judge the faithfulness of a series of statements based on a given context. \
For each statement return verdict 1 if the statement can be directly inferred from the \
context, or 0 if it cannot. Keep the statements in the given order.
Reply with JSON only: {{"verdicts": [{{"statement": "...", "reason": "...", "verdict": 0 or 1}}]}}

Context:
{context}

Statements:
{statements}"""

QUESTIONS_PROMPT = """\
Write {n} different questions that the given answer answers. Each question should be \
one a user could have asked to get this answer.
Reply with JSON only: {{"questions": ["...", "..."]}}

Answer: {answer}"""


class JudgeError(Exception):
    """The judge's reply could not be used."""


def parse_json(text: str) -> Any:
    """The JSON object in a reply, tolerating code fences and prose around it."""
    text = re.sub(r"^```(?:json)?|```$", "", text.strip(), flags=re.MULTILINE).strip()
    start, end = text.find("{"), text.rfind("}")
    if start < 0 or end < start:
        raise JudgeError(f"no JSON object in the judge's reply: {text[:80]!r}")
    try:
        return json.loads(text[start:end + 1])
    except json.JSONDecodeError as e:
        raise JudgeError(f"invalid JSON in the judge's reply: {e.msg}") from e
    except (ValueError, RecursionError) as e:  # int digit limit, nesting too deep
        raise JudgeError(f"invalid JSON in the judge's reply: {str(e)[:80]}") from e


def _list_of(obj: Any, key: str) -> list[Any]:
    value = obj.get(key) if isinstance(obj, dict) else None
    if not isinstance(value, list):
        raise JudgeError(f"the judge's reply has no list {key!r}")
    return value


class Judge:
    """Scores answers with an LLM; the embedder is the library's (for answer relevance)."""

    def __init__(self, settings: Settings, embedder: Embedder, *, chat: ChatModel | None = None,
                 n_questions: int = N_QUESTIONS) -> None:
        from rag.answer.llm import ChatModel

        self.settings = settings
        self.embedder = embedder
        self.chat = chat or ChatModel(settings.llm)
        self.n_questions = n_questions
        self.usage: dict[str, int] = {"prompt_tokens": 0, "completion_tokens": 0}

    def _ask(self, prompt: str) -> Any:
        usage: dict[str, int] = {}
        text = self.chat.complete([{"role": "user", "content": prompt}], usage=usage,
                                  max_tokens=max(self.settings.llm.max_tokens, MIN_TOKENS))
        for key in self.usage:
            self.usage[key] += usage.get(key, 0)
        return parse_json(text)

    def claims(self, question: str, answer: str) -> list[str]:
        reply = self._ask(CLAIMS_PROMPT.format(question=question, answer=answer))
        return [s.strip() for s in _list_of(reply, "statements") if isinstance(s, str)
                and s.strip()]

    def verify(self, claims: list[str], context: str) -> list[bool]:
        listing = "\n".join(f"{i}. {c}" for i, c in enumerate(claims, 1))
        reply = self._ask(VERIFY_PROMPT.format(context=context, statements=listing))
        verdicts = _list_of(reply, "verdicts")
        if len(verdicts) != len(claims):
            raise JudgeError(f"{len(verdicts)} verdicts for {len(claims)} statements")
        out = []
        for v in verdicts:
            value = v.get("verdict") if isinstance(v, dict) else v
            if str(value).strip() not in ("0", "1"):
                raise JudgeError(f"verdict {value!r} is not 0 or 1")
            out.append(str(value).strip() == "1")
        return out

    def faithfulness(self, question: str, answer: str, context: str
                     ) -> tuple[float | None, list[dict[str, Any]]]:
        claims = self.claims(question, answer)
        if not claims:
            return None, []
        verdicts = self.verify(claims, context)
        detail = [{"claim": c, "supported": v} for c, v in zip(claims, verdicts, strict=True)]
        return sum(verdicts) / len(claims), detail

    def answer_relevance(self, question: str, answer: str) -> tuple[float | None, list[str]]:
        reply = self._ask(QUESTIONS_PROMPT.format(n=self.n_questions, answer=answer))
        generated = [q.strip() for q in _list_of(reply, "questions")
                     if isinstance(q, str) and q.strip()][: self.n_questions]
        if not generated:
            return None, []
        qvec = self.embedder.embed_query(question)
        gvecs = self.embedder.embed_documents(generated)
        return float((gvecs @ qvec).mean()), generated

    def score(self, question: str, answer: Answer) -> dict[str, Any]:
        """Row fields: faithfulness, answer_relevance and what they were computed from."""
        from rag.answer.text import strip_markers

        text = strip_markers(answer.answer)
        context = "\n\n".join(f"[{i}] {h.title}\n{h.abstract or h.snippet}"
                              for i, h in enumerate(answer.sources, 1))
        try:
            faith, claims = self.faithfulness(question, text, context)
            relevance, generated = self.answer_relevance(question, text)
        except (JudgeError, LLMUnavailable) as e:
            return {"faithfulness": None, "answer_relevance": None, "judge_error": str(e)}
        return {"faithfulness": faith, "answer_relevance": relevance, "claims": claims,
                "generated_questions": generated}
