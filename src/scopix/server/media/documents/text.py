"""Plain text and Markdown files: bytes to text (UTF-8 first, else detected), Markdown to plain
text with a real parser (markdown-it-py), so that no markup is left in what is searched."""

from __future__ import annotations

import codecs
import unicodedata
from dataclasses import dataclass
from typing import Final

import charset_normalizer
from markdown_it import MarkdownIt
from markdown_it.token import Token

from scopix.server.domain.errors import CorruptFile

__all__ = ["PlainText", "decode_text", "markdown_to_text", "read_text_file"]

#: Share of control characters (other than tabs, line and page breaks) that makes bytes binary.
_MAX_CONTROL_SHARE: Final = 0.01
_ALLOWED_CONTROLS: Final = frozenset("\t\n\r\f\v")
_BOMS: Final = (
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
#: When the detector finds several encodings equally plausible, the Western one of Windows and
#: the web wins: Latin-1 text decodes the same in it (cp1250 would turn "à" into "ŕ").
_PREFERRED_TIE: Final = "cp1252"


@dataclass(frozen=True)
class PlainText:
    """A text document's title (its first heading, or None) and its text."""

    title: str | None
    text: str


def read_text_file(data: bytes, document_type: str, *, complete: bool = True) -> PlainText:
    """A TXT or MD file's text; Markdown is turned into plain text. `complete` is False for the
    first bytes of a file only, whose last character may be cut. Raises CorruptFile for binary
    bytes."""
    text = decode_text(data if complete else _without_cut_character(data))
    if document_type == "md":
        return markdown_to_text(text)
    return PlainText(None, text.replace("\r\n", "\n").replace("\r", "\n"))


def decode_text(data: bytes) -> str:
    """The text of a file's bytes: by its byte-order mark, else UTF-8, else the encoding
    charset-normalizer finds. Raises CorruptFile when the bytes are not text."""
    text = _decoded(data)
    if text is None or _mostly_controls(text):
        raise CorruptFile("the text file holds binary data, not text")
    return text


def _without_cut_character(head: bytes) -> bytes:
    """The head of a UTF-8 file without the multi-byte character its cut may have split."""
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.reason == "unexpected end of data":
            return head[: exc.start]
    return head


def _decoded(data: bytes) -> str | None:
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            try:
                return data.decode(encoding)
            except UnicodeDecodeError:
                return None
    if b"\x00" in data:
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    matches = list(charset_normalizer.from_bytes(data))
    if not matches:
        return None
    best = matches[0]
    tied = {m.encoding for m in matches if (m.chaos, m.coherence) == (best.chaos, best.coherence)}
    encoding = _PREFERRED_TIE if _PREFERRED_TIE in tied else best.encoding
    return data.decode(encoding, errors="replace")


def _mostly_controls(text: str) -> bool:
    controls = sum(
        1 for c in text if c not in _ALLOWED_CONTROLS and unicodedata.category(c) == "Cc"
    )
    return controls > _MAX_CONTROL_SHARE * max(len(text), 1)


def markdown_to_text(source: str) -> PlainText:
    """Markdown as plain text: one paragraph per block (heading, paragraph, list item, code
    block, table row with its cells joined by " | "), the words of links and images kept, all
    markup gone. The title is the first heading's text."""
    tokens = MarkdownIt("commonmark").enable("table").parse(source)
    blocks: list[str] = []
    row: list[str] | None = None
    title: str | None = None
    in_heading = False
    for token in tokens:
        if token.type == "heading_open":
            in_heading = True
        elif token.type == "heading_close":
            in_heading = False
        elif token.type == "tr_open":
            row = []
        elif token.type == "tr_close" and row is not None:
            blocks.append(" | ".join(row))
            row = None
        elif token.type == "inline":
            words = _inline_text(token.children or [])
            if row is not None:
                row.append(words)
            elif words:
                blocks.append(words)
                if in_heading and title is None:
                    title = words
        elif token.type in ("fence", "code_block"):
            blocks.append(token.content.strip("\n"))
    return PlainText(title, "\n\n".join(block for block in blocks if block.strip()))


def _inline_text(children: list[Token]) -> str:
    """The words of an inline run: text, code and image descriptions; markup and HTML dropped."""
    parts: list[str] = []
    for child in children:
        if child.type in ("text", "code_inline"):
            parts.append(child.content)
        elif child.type == "image":
            parts.append(_inline_text(child.children or []))
        elif child.type == "softbreak":
            parts.append(" ")
        elif child.type == "hardbreak":
            parts.append("\n")
    return "".join(parts).strip()
