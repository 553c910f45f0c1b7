"""The XML of WeChat pushes and passive replies, parsed without DTDs or entities.

WeChat's XML is a flat `<xml>` element with text children (a few events nest one level more).
The parser is expat with every DTD feature refused: a DOCTYPE, an entity declaration or an
external entity reference ends the parse, so neither XXE (file or URL reads) nor entity
expansion (billion laughs) can happen, whatever expat version the interpreter ships. Only the
five predefined entities and character references are expanded, as XML requires.
"""

from __future__ import annotations

from collections.abc import Iterable
from xml.parsers import expat

MAX_DEPTH = 8
MAX_ELEMENTS = 512

XmlValue = str | dict[str, "XmlValue"] | list["XmlValue"]


class XmlError(ValueError):
    """Not a WeChat XML document (malformed, a DTD or entity, too deep or too big)."""


class _Forbidden(Exception):
    pass


def _refuse(*_: object) -> None:
    raise _Forbidden("DTDs and entities are not accepted")


def parse(data: bytes) -> dict[str, XmlValue]:
    """Children of the root element as a dict: text for leaves, dicts for nested elements.

    A tag that repeats becomes a list. Whitespace between elements is dropped; text inside
    leaves (CDATA or not) is kept exactly.
    """
    parser = expat.ParserCreate()
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    parser.StartDoctypeDeclHandler = _refuse
    parser.EntityDeclHandler = _refuse
    parser.UnparsedEntityDeclHandler = _refuse
    parser.ExternalEntityRefHandler = _refuse  # type: ignore[assignment]
    parser.buffer_text = True
    tree = _Tree()
    parser.StartElementHandler = tree.start
    parser.EndElementHandler = tree.end
    parser.CharacterDataHandler = tree.chars
    try:
        parser.Parse(data, True)
    except _Forbidden as exc:
        raise XmlError(str(exc)) from None
    except expat.ExpatError as exc:
        raise XmlError(f"malformed XML: {exc}") from None
    if not tree.root:
        raise XmlError("empty document")
    return tree.root[0]


class _Tree:
    """Builds the dict while expat reads, refusing documents too deep or too large."""

    def __init__(self) -> None:
        self.stack: list[tuple[str, dict[str, XmlValue], list[str]]] = []
        self.root: list[dict[str, XmlValue]] = []
        self.count = 0

    def start(self, name: str, _attrs: dict[str, str]) -> None:
        self.count += 1
        if len(self.stack) >= MAX_DEPTH or self.count > MAX_ELEMENTS:
            raise _Forbidden("document too deep or too large")
        self.stack.append((name, {}, []))

    def end(self, name: str) -> None:
        _, children, text = self.stack.pop()
        value: XmlValue = children if children else "".join(text)
        if not self.stack:
            self.root.append(children)
            return
        parent = self.stack[-1][1]
        if name in parent:
            existing = parent[name]
            if isinstance(existing, list):
                existing.append(value)
            else:
                parent[name] = [existing, value]
        else:
            parent[name] = value

    def chars(self, data: str) -> None:
        if self.stack:
            self.stack[-1][2].append(data)


def text(fields: dict[str, XmlValue], name: str) -> str | None:
    """A leaf's text, or None when absent or not a leaf."""
    value = fields.get(name)
    return value if isinstance(value, str) else None


def cdata(value: str) -> str:
    """`value` as CDATA; a `]]>` inside is split across two sections."""
    return "<![CDATA[" + value.replace("]]>", "]]]]><![CDATA[>") + "]]>"


def build(fields: Iterable[tuple[str, str | int | list[tuple[str, str | int]]]]) -> bytes:
    """An `<xml>` document: strings as CDATA, integers bare, lists as nested elements."""
    return ("<xml>" + _body(fields) + "</xml>").encode("utf-8")


def _body(fields: Iterable[tuple[str, str | int | list[tuple[str, str | int]]]]) -> str:
    out: list[str] = []
    for name, value in fields:
        if isinstance(value, list):
            inner = _body(value)
        elif isinstance(value, int):
            inner = str(value)
        else:
            inner = cdata(value)
        out.append(f"<{name}>{inner}</{name}>")
    return "".join(out)
