"""DOCX: a zip pre-pass that refuses bombs and lies before python-docx opens the file, then the
text of its headings, paragraphs and tables in document order.

python-docx inflates every part whole and believes the sizes a zip declares (spec/MEDIA.md: a
2.5 MB file holding 1 GiB of XML took 2.8 GB to open). So the central directory is checked
first (member count, declared sizes, compression ratios), then every member is inflated in
1 MiB steps under the unpacked cap, its output counted against the size it declares.
"""

from __future__ import annotations

import struct
import zipfile
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Final

from scopix.server.domain.errors import CorruptFile, ResourceLimit
from scopix.server.domain.limits import DocumentLimits
from scopix.server.isolation import reserve_memory
from scopix.server.media.documents.text import PlainText

__all__ = ["check_archive", "read_docx"]

_STEP: Final = 1 << 20
#: Members this small are never ratio-checked: tiny XML parts compress far beyond any ratio.
_RATIO_FLOOR: Final = 1 << 20
_LOCAL_HEADER: Final = struct.Struct("<IHHHHHIIIHH")
_LOCAL_SIGNATURE: Final = 0x04034B50
_REQUIRED: Final = ("[Content_Types].xml", "word/document.xml")
#: python-docx's parse of the XML, beside the XML itself (measured: ~3x the unpacked size).
_PARSE_COST: Final = 4
_HEADING_STYLES: Final = ("Title", "Heading")


def check_archive(path: Path, limits: DocumentLimits) -> int:
    """Check a DOCX's zip structure and inflate every member under the limits; its declared
    unpacked size. Raises CorruptFile (not a zip, not a DOCX, damaged), DocumentTooLarge (the
    directory declares too much) or ResourceLimit (a member inflates past what it declares)."""
    try:
        with zipfile.ZipFile(path) as archive:
            members = archive.infolist()
            _check_directory(members, limits)
            with path.open("rb") as raw:
                total = 0
                for member in members:
                    total += _inflated_size(raw, member, limits.docx_max_unpacked_bytes - total)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError) as exc:
        raise CorruptFile(f"the DOCX is not a readable zip archive: {exc}") from None
    return sum(member.file_size for member in members)


def _check_directory(members: list[zipfile.ZipInfo], limits: DocumentLimits) -> None:
    names = {member.filename for member in members}
    missing = [name for name in _REQUIRED if name not in names]
    if missing:
        raise CorruptFile(f"the file is a zip archive but not a DOCX: it has no {missing[0]}")
    limits.check_archive(len(members), sum(member.file_size for member in members))
    for member in members:
        packed = max(member.compress_size, 1)
        if member.file_size > _RATIO_FLOOR and member.file_size > limits.docx_max_ratio * packed:
            raise ResourceLimit(
                f"the DOCX part {member.filename} unpacks {member.file_size // packed:,} times "
                f"its stored size: a decompression bomb"
            )


def _inflated_size(raw: IO[bytes], member: zipfile.ZipInfo, room: int) -> int:
    """Inflate one member from its raw bytes, counting what comes out: it must be exactly the
    size its directory entry declares, and no more than `room`."""
    if member.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
        raise CorruptFile(f"the DOCX part {member.filename} uses an unknown compression")
    declared = member.file_size
    produced = 0
    for piece in _inflated(_raw_member(raw, member), member.compress_type):
        produced += len(piece)
        if produced > declared or produced > room:
            raise ResourceLimit(
                f"the DOCX part {member.filename} inflates past the {min(declared, room):,} "
                f"bytes it may hold: a decompression bomb"
            )
    if produced != declared:
        raise CorruptFile(f"the DOCX part {member.filename} is shorter than it declares")
    return produced


def _raw_member(raw: IO[bytes], member: zipfile.ZipInfo) -> Iterator[bytes]:
    """The member's stored bytes, read in steps from behind its local header."""
    if member.header_offset < 0:
        raise CorruptFile(f"the DOCX part {member.filename} lies before the archive's start")
    raw.seek(member.header_offset)
    header = raw.read(_LOCAL_HEADER.size)
    if len(header) != _LOCAL_HEADER.size or _LOCAL_HEADER.unpack(header)[0] != _LOCAL_SIGNATURE:
        raise CorruptFile(f"the DOCX part {member.filename} has no local header")
    *_, name_length, extra_length = _LOCAL_HEADER.unpack(header)
    raw.seek(name_length + extra_length, 1)
    left = member.compress_size
    while left > 0:
        chunk = raw.read(min(_STEP, left))
        if not chunk:
            raise CorruptFile(f"the DOCX part {member.filename} is cut short")
        left -= len(chunk)
        yield chunk


def _inflated(chunks: Iterator[bytes], method: int) -> Iterator[bytes]:
    """The member's bytes as they inflate, at most _STEP at a time, never all at once."""
    if method == zipfile.ZIP_STORED:
        yield from chunks
        return
    inflate = zlib.decompressobj(-zlib.MAX_WBITS)
    try:
        for chunk in chunks:
            pending = chunk
            while pending:
                yield inflate.decompress(pending, _STEP)
                pending = inflate.unconsumed_tail
        yield inflate.flush()
    except zlib.error as exc:
        raise CorruptFile(f"a DOCX part does not inflate: {exc}") from None


def read_docx(path: Path, limits: DocumentLimits) -> PlainText:
    """The checked DOCX's text: headings, paragraphs and tables (a row's cells joined by " | ")
    in document order, one paragraph each; the title is the core properties' or else the first
    heading's."""
    unpacked = check_archive(path, limits)
    reserve_memory(_PARSE_COST * unpacked)
    import docx  # deferred: the child imports it only when it reads a DOCX

    try:
        document = docx.Document(str(path))
    except Exception as exc:  # python-docx raises KeyError, ValueError, lxml errors on bad parts
        raise CorruptFile(f"the DOCX does not open: {type(exc).__name__}: {exc}") from None
    blocks: list[str] = []
    first_heading: str | None = None
    for block in document.iter_inner_content():
        if isinstance(block, docx.table.Table):
            blocks.extend(_table_rows(block))
            continue
        text = block.text.strip()
        if not text:
            continue
        blocks.append(text)
        style = block.style.name if block.style is not None else ""
        if first_heading is None and style.startswith(_HEADING_STYLES):
            first_heading = text
    title = (document.core_properties.title or "").strip() or first_heading
    return PlainText(title, "\n\n".join(blocks))


def _table_rows(table: object) -> Iterator[str]:
    for row in table.rows:  # type: ignore[attr-defined]
        cells = [cell.text.strip() for cell in row.cells]
        if any(cells):
            yield " | ".join(cells)
