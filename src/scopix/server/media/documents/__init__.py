"""Documents' decoders as they run inside an isolated child (`server.isolation`): PDF through a
pypdf pre-scan and PDFium, DOCX through a zip pre-pass and python-docx, TXT and MD through
charset detection and a Markdown parser. `isolated` holds the functions the pool calls.

Each raises the domain's errors, which pickle back to the parent as themselves: CorruptFile
(the bytes are not what they claim, or are encrypted: `EncryptedDocument`), DocumentTooLarge
(the header declares more than the limits) and ResourceLimit (a bomb: data that inflates past
what it declares or past a cap).
"""

from __future__ import annotations

from scopix.server.domain.errors import CorruptFile

__all__ = ["EncryptedDocument"]


class EncryptedDocument(CorruptFile):
    """A PDF that opens only with a password, which nobody gave us."""
