"""Telegram's HTML parse mode, ported from TDLib's ``parse_html`` so tests get Telegram's verdicts.

Telegram (TDLib ``td/telegram/MessageEntity.cpp``) walks the UTF-8 bytes of the text, reports
errors with *byte* offsets and counts entity offsets in UTF-16 code units. This module does the
same, so a message the real server refuses is refused here with the same wording
(``Bad Request: can't parse entities: ...``), and accepted HTML yields the same entities.

``strict=True`` (the default) is stricter than Telegram in three places, because each one is an
escaping bug in the bot even though Telegram accepts it and shows something the author did not
mean:

* a bare ``>`` (Telegram shows it; ``html.escape`` would have produced ``&gt;``),
* an unknown named entity such as ``&nbsp;`` or an unescaped ``AT&T`` (Telegram shows it raw),
* a numeric reference Telegram leaves undecoded (``&#0;``, ``&#X41;``, more than 7 digits).

``strict=False`` follows Telegram exactly.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

ERROR_PREFIX = "Bad Request: can't parse entities: "

SUPPORTED_TAGS = frozenset(
    {
        "a",
        "b",
        "strong",
        "i",
        "em",
        "s",
        "strike",
        "del",
        "u",
        "ins",
        "tg-spoiler",
        "tg-emoji",
        "tg-time",
        "span",
        "pre",
        "code",
        "blockquote",
    }
)

_SIMPLE_TYPES = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "u": "underline",
    "ins": "underline",
    "tg-spoiler": "spoiler",
    "span": "spoiler",
}

_NAMED = {b"lt": ord("<"), b"gt": ord(">"), b"amp": ord("&"), b"quot": ord('"')}
_SPACES = frozenset(b" \t\r\n\v\0")  # TDLib's is_space; NUL stands for "end of text"
_NAME_END = _SPACES | frozenset(b"=>/\"'")
_TRIM = " \t\r\n\v\f"
_SURROGATE_ERROR = (
    "Text contains invalid Unicode characters after decoding HTML entities, "
    "check for unmatched surrogate code units"
)
_DATE_FORMAT = re.compile(r"^(r|w?[dD]?[tT]?)$")


class HtmlParseError(ValueError):
    """The text would be refused by Telegram with 400 ``can't parse entities``."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason

    @property
    def description(self) -> str:
        """The Bot API error description, as the server sends it."""
        return ERROR_PREFIX + self.reason


@dataclass(frozen=True)
class ParsedText:
    """Visible text and its entities (offsets and lengths in UTF-16 code units)."""

    text: str
    entities: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class _Open:
    tag: str
    argument: str
    utf16_offset: int
    out_pos: int
    unix_time: int = 0


@dataclass
class _Entity:
    entity: dict[str, Any]
    code_language: str = ""


# TDLib's order for entities that start together and are equally long: outer kinds first.
_PRIORITY = {
    "blockquote": 0,
    "expandable_blockquote": 0,
    "pre": 11,
    "code": 20,
    "text_link": 49,
    "text_mention": 49,
    "bold": 90,
    "italic": 91,
    "underline": 92,
    "strikethrough": 93,
    "spoiler": 94,
    "custom_emoji": 99,
}


def entity_order(entity: dict[str, Any]) -> tuple[int, int, int]:
    """Sort key Telegram uses for a message's entities: offset, longer first, outer kinds first."""
    return (entity["offset"], -entity["length"], _PRIORITY.get(entity["type"], 50))


def utf16_len(text: str) -> int:
    """Length as Telegram counts it: UTF-16 code units (an emoji outside the BMP counts 2)."""
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


class _Bytes:
    """UTF-8 input that reads 0 past its end, like TDLib's NUL-terminated CSlice."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.size = len(data)

    def at(self, i: int) -> int:
        return self.data[i] if i < self.size else 0

    def text(self, start: int, end: int) -> str:
        return self.data[start:end].decode("utf-8", "replace")


def _is_digit(c: int) -> bool:
    return 0x30 <= c <= 0x39


def _is_letter(c: int) -> bool:
    return 0x41 <= c <= 0x5A or 0x61 <= c <= 0x7A


def _is_hex(c: int) -> bool:
    return _is_digit(c) or 0x41 <= c <= 0x46 or 0x61 <= c <= 0x66


def _decode_reference(src: _Bytes, start: int, strict: bool) -> tuple[int, int] | None:
    """Decode the character reference at ``start`` (an ``&``) as TDLib does: (code point, end).

    None means Telegram keeps the ``&`` as a literal character; strict mode raises instead when
    the text looks like a reference Telegram does not understand.
    """
    end = start + 1
    code = 0
    if src.at(start + 1) == ord("#"):
        end += 1
        if src.at(start + 2) == ord("x"):
            end += 1
            while _is_hex(src.at(end)):
                code = code * 16 + int(chr(src.at(end)), 16)
                end += 1
        else:
            while _is_digit(src.at(end)):
                code = code * 10 + src.at(end) - 0x30
                end += 1
        if code == 0 or code >= 0x10FFFF or end - start >= 10:
            if strict:
                raise HtmlParseError(f"Invalid numeric character reference at byte offset {start}")
            return None
    else:
        while _is_letter(src.at(end)):
            end += 1
        name = src.data[start + 1 : end]
        if name not in _NAMED:
            if strict and name:
                shown = src.text(start, end + (1 if src.at(end) == ord(";") else 0))
                raise HtmlParseError(
                    f'Unsupported HTML entity "{shown}" at byte offset {start}; '
                    "only &lt; &gt; &amp; &quot; and numeric references are allowed"
                )
            return None
        code = _NAMED[name]
    return code, end + 1 if src.at(end) == ord(";") else end


def parse_html(source: str, *, strict: bool = True) -> ParsedText:
    """Parse Bot API HTML into visible text and entities, or raise :class:`HtmlParseError`.

    The text is not trimmed here; :func:`trim` does what Telegram then does to a message.
    """
    src = _Bytes(source.encode("utf-8", "surrogatepass"))
    out = bytearray()
    utf16 = 0
    surrogate = False
    stack: list[_Open] = []
    entities: list[_Entity] = []
    i = 0
    while i < src.size:
        c = src.at(i)
        if c == ord("&"):
            ref = _decode_reference(src, i, strict)
            if ref is not None:
                code, i = ref
                utf16 += 2 if code > 0xFFFF else 1
                surrogate = surrogate or 0xD800 <= code <= 0xDFFF
                out += chr(code).encode("utf-8", "surrogatepass")
                continue
        if c == ord(">") and strict:
            raise HtmlParseError(f'Unescaped ">" at byte offset {i}; write &gt;')
        if c != ord("<"):
            if c & 0xC0 != 0x80:  # first byte of a UTF-8 sequence
                utf16 += 2 if c >= 0xF0 else 1
            out.append(c)
            i += 1
            continue

        begin = i
        i += 1
        if src.at(i) != ord("/"):
            while src.at(i) not in _SPACES and src.at(i) != ord(">"):
                i += 1
            if src.at(i) == 0:
                raise HtmlParseError(f"Unclosed start tag at byte offset {begin}")
            tag = src.text(begin + 1, i).lower()
            if tag not in SUPPORTED_TAGS:
                raise HtmlParseError(f'Unsupported start tag "{tag}" at byte offset {begin}')
            opened, i = _read_start_tag(src, i, tag, begin)
            opened.utf16_offset = utf16
            opened.out_pos = len(out)
            stack.append(opened)
            i += 1  # past ">"
            continue

        if not stack:
            raise HtmlParseError(f"Unexpected end tag at byte offset {begin}")
        while src.at(i) not in _SPACES and src.at(i) != ord(">"):
            i += 1
        end_name = src.text(begin + 2, i).lower()
        while src.at(i) in _SPACES and src.at(i) != 0:
            i += 1
        if src.at(i) != ord(">"):
            raise HtmlParseError(f"Unclosed end tag at byte offset {begin}")
        top = stack[-1]
        if end_name and end_name != top.tag:
            raise HtmlParseError(
                f'Unmatched end tag at byte offset {begin}, expected "</{top.tag}>", '
                f'found "</{end_name}>"'
            )
        if utf16 > top.utf16_offset:
            inner = bytes(out[top.out_pos :]).decode("utf-8", "replace")
            _close(top, utf16 - top.utf16_offset, inner, entities)
        stack.pop()
        i += 1
    if stack:
        raise HtmlParseError(f'Can\'t find end tag corresponding to start tag "{stack[-1].tag}"')
    if surrogate:
        raise HtmlParseError(_SURROGATE_ERROR)
    result = [e.entity for e in entities]
    result.sort(key=entity_order)
    return ParsedText(out.decode("utf-8", "replace"), result)


def _read_start_tag(src: _Bytes, i: int, tag: str, begin: int) -> tuple[_Open, int]:
    """Read a start tag's attributes like TDLib; returns the open tag and the position of ``>``."""
    argument = ""
    unix_time = 0
    while src.at(i) != ord(">"):
        while src.at(i) != 0 and src.at(i) in _SPACES:
            i += 1
        if src.at(i) == ord(">"):
            break
        name_begin = i
        while src.at(i) not in _NAME_END:
            i += 1
        name = src.text(name_begin, i)
        if not name:
            raise HtmlParseError(f'Empty attribute name in the tag "{tag}" at byte offset {begin}')
        while src.at(i) != 0 and src.at(i) in _SPACES:
            i += 1
        if src.at(i) != ord("="):
            if src.at(i) == 0:
                raise HtmlParseError(f'Unclosed start tag "{tag}" at byte offset {begin}')
            if tag == "blockquote" and name == "expandable":
                argument = "1"
            continue
        i += 1
        while src.at(i) != 0 and src.at(i) in _SPACES:
            i += 1
        if src.at(i) == 0:
            raise HtmlParseError(f'Unclosed start tag "{tag}" at byte offset {begin}')
        if src.at(i) not in (ord("'"), ord('"')):
            token_begin = i
            while _is_letter(src.at(i)) or _is_digit(src.at(i)) or src.at(i) in b".-":
                i += 1
            value = src.text(token_begin, i).lower()
            if src.at(i) not in _SPACES and src.at(i) != ord(">"):
                raise HtmlParseError(f"Unexpected end of name token at byte offset {token_begin}")
        else:
            quote = src.at(i)
            i += 1
            raw = bytearray()
            while src.at(i) != quote and src.at(i) != 0:
                if src.at(i) == ord("&"):
                    ref = _decode_reference(src, i, strict=False)
                    if ref is not None:
                        raw += chr(ref[0]).encode("utf-8", "surrogatepass")
                        i = ref[1]
                        continue
                raw.append(src.at(i))
                i += 1
            if src.at(i) == quote:
                i += 1
            value = raw.decode("utf-8", "replace")
        if src.at(i) == 0:
            raise HtmlParseError(f"Unclosed start tag at byte offset {begin}")
        if tag == "tg-time" and name == "unix":
            match = re.match(r"-?\d+", value)
            unix_time = int(match.group()) if match else 0
        if tag == "a" and name == "href":
            argument = value
        elif tag == "code" and name == "class" and value.startswith("language-"):
            argument = value[len("language-") :]
        elif tag == "span" and name == "class" and value.startswith("tg-"):
            argument = value[len("tg-") :]
        elif (tag == "tg-emoji" and name == "emoji-id") or (tag == "tg-time" and name == "format"):
            argument = value
        elif tag == "blockquote" and name == "expandable":
            argument = "1"
    if tag == "span" and argument != "spoiler":
        raise HtmlParseError(f'Tag "span" must have class "tg-spoiler" at byte offset {begin}')
    return _Open(tag, argument, 0, 0, unix_time), i


def checked_link(url: str) -> str | None:
    """Normalise a link as Telegram does for text_link entities (None: no entity is made)."""
    if not url or any(ch.isspace() for ch in url):
        return None
    if url.startswith("tg:"):
        return url
    if "://" not in url:
        url = "http://" + url
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("http", "https", "ftp", "ton", "tonsite") or not parts.netloc:
        return None
    if not parts.hostname:
        return None
    if not parts.path:
        url = parts._replace(path="/").geturl()
    return url


def _close(top: _Open, length: int, inner: str, entities: list[_Entity]) -> None:
    """Record the entity a closed, non-empty tag produces (TDLib's mapping)."""
    offset = top.utf16_offset
    entity: dict[str, Any] = {"offset": offset, "length": length}
    previous = entities[-1] if entities else None
    same_span = (
        previous is not None
        and previous.entity["offset"] == offset
        and previous.entity["length"] == length
    )
    if top.tag in _SIMPLE_TYPES:
        entity["type"] = _SIMPLE_TYPES[top.tag]
    elif top.tag == "tg-emoji":
        if not re.fullmatch(r"[1-9]\d{0,18}", top.argument):
            raise HtmlParseError("Invalid custom emoji identifier specified")
        entity.update(type="custom_emoji", custom_emoji_id=top.argument)
    elif top.tag == "tg-time":
        if not _DATE_FORMAT.match(top.argument):
            raise HtmlParseError("Invalid date format used")
        if top.unix_time <= 0:
            return
        entity.update(type="date_time", unix_time=top.unix_time)
        if top.argument:
            entity["date_time_format"] = top.argument
    elif top.tag == "a":
        url = top.argument or inner
        user = re.fullmatch(r"tg://user\?id=(\d{1,18})", url)
        if user:
            entity["type"] = "text_mention"
            entity["user"] = {"id": int(user.group(1)), "is_bot": False, "first_name": ""}
        else:
            link = checked_link(url)
            if link is None:
                return
            entity.update(type="text_link", url=link)
    elif top.tag == "pre":
        if previous and same_span and previous.entity["type"] == "code" and previous.code_language:
            previous.entity = {**entity, "type": "pre", "language": previous.code_language}
            return
        entity["type"] = "pre"
    elif top.tag == "code":
        if (
            previous
            and same_span
            and previous.entity["type"] == "pre"
            and "language" not in previous.entity
            and top.argument
        ):
            previous.entity["language"] = top.argument
            return
        entities.append(_Entity({**entity, "type": "code"}, top.argument))
        return
    else:  # blockquote
        entity["type"] = "expandable_blockquote" if top.argument else "blockquote"
    entities.append(_Entity(entity))


def trim(parsed: ParsedText) -> ParsedText:
    """Strip leading/trailing whitespace as Telegram does, keeping entities aligned."""
    text = parsed.text
    stripped_left = text.lstrip(_TRIM)
    lead = utf16_len(text) - utf16_len(stripped_left)
    result = stripped_left.rstrip(_TRIM)
    total = utf16_len(result)
    entities: list[dict[str, Any]] = []
    for e in parsed.entities:
        start = max(e["offset"] - lead, 0)
        end = min(e["offset"] + e["length"] - lead, total)
        if end > start:
            entities.append({**e, "offset": start, "length": end - start})
    return ParsedText(result, entities)


def html_to_text(source: str, *, strict: bool = True) -> str:
    """The text a user sees for this HTML (tags removed, entities decoded, trimmed)."""
    return trim(parse_html(source, strict=strict)).text
