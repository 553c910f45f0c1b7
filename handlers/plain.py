"""The plain-text renderer, for channels without buttons or markup (WeChat customer-service
text, SMS-like channels): styles dropped, links spelled out, each choice numbered.

    🏁 LL-2026-00001 已办结（A 已解决）。…
    回复 1 😊 满意
    回复 2 🙂 基本满意
    回复 3 😞 不满意

The person answers with the number; services.inbound.Router resolves it against the question
last delivered to the chat (services.kernel.questions), which the sender records on delivery.
"""

from __future__ import annotations

from domain.message import Message, Rich, Style
from texts.common import NUMBERED_HINT


def render_text(text: Rich) -> str:
    out: list[str] = []
    for span in text.spans:
        if span.style is Style.LINK and span.url and span.url != span.text:
            out.append(f"{span.text}（{span.url}）")
        else:
            out.append(span.text)
    return "".join(out)


def render(message: Message) -> str:
    """The whole message as one text: the words, then one numbered line per choice."""
    body = render_text(message.text)
    choices = message.choices()
    if not choices:
        return body
    lines = [NUMBERED_HINT.format(n=n, label=a.label) for n, a in enumerate(choices, 1)]
    return (body + "\n\n" if body else "") + "\n".join(lines)
