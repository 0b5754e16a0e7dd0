"""The offline provider: what answers when no model endpoint is configured.

It is a real fallback, not a mock. It writes the summary from the facts and findings the
graph computed, with fixed templates (no randomness: the same facts give the same words),
so every figure it states is a computed fact and every statement is true. It streams the
text in word chunks through the same interface as the OpenAI-compatible client, counts those
chunks as its completion tokens, and says in its notice and its last sentence that no
language model wrote it.
"""

from __future__ import annotations

import re
import time

from agents.models import OFFLINE, Completion, Prompt, TokenSink, Usage

MODEL = "numbors-offline-1"
NOTICE = (
    "Written by the offline provider from the computed facts with fixed templates; "
    "no language model was configured or used."
)
CLOSING = "(Offline summary: written from the computed figures without a language model.)"
MOST_FINDINGS = 4
TITLES = {
    "profit_and_loss": "Profit and loss",
    "balance_sheet": "Balance sheet",
    "cash_flow": "Cash flow",
    "aged_receivables": "Aged receivables",
    "aged_payables": "Aged payables",
}
CHUNK = re.compile(r"\S+\s*")


def opening(subject: dict[str, object]) -> str:
    title = TITLES.get(str(subject.get("report")), "Report")
    start, end = subject.get("from"), subject.get("to")
    when = f"from {start} to {end}" if start else f"at {end}"
    text = f"{title} {when}"
    compare_start, compare_end = subject.get("compare_from"), subject.get("compare_to")
    if compare_end:
        text += (
            f", compared with {compare_start} to {compare_end}"
            if compare_start
            else f", compared with {compare_end}"
        )
    return text + "."


def narrate(prompt: Prompt) -> str:
    """The summary: the subject, the leading findings, and the offline notice."""
    sentences = [opening(prompt.subject)]
    sentences += [finding["text"] for finding in prompt.findings[:MOST_FINDINGS]]
    if not prompt.findings:
        sentences.append("The report has no figures for this period.")
    sentences.append(CLOSING)
    return " ".join(sentences)


class OfflineProvider:
    provider = OFFLINE
    model = MODEL
    offline = True
    structured = False  # writes prose from the findings; a `response_format` is ignored

    async def complete(self, prompt: Prompt, on_token: TokenSink | None = None) -> Completion:
        started = time.monotonic()
        text = narrate(prompt)
        chunks = CHUNK.findall(text)
        if on_token is not None:
            for chunk in chunks:
                await on_token(chunk)
        return Completion(
            text=text,
            provider=self.provider,
            model=self.model,
            usage=Usage(0, len(chunks), True),
            duration_ms=int((time.monotonic() - started) * 1000),
            notice=NOTICE,
        )

    async def probe(self) -> bool:
        return True

    async def close(self) -> None:
        return None
