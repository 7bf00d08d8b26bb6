"""Documents' text: the `extract` job reads a document's pages through its media handler, cuts
them into chunks, embeds the chunks, and records pages, chunks and counts on the file."""

from __future__ import annotations

from datetime import datetime
from typing import Final

from scopix.server.catalog.models import File, Job
from scopix.server.catalog.uow import UnitOfWork
from scopix.server.domain.media import media_of_mime
from scopix.server.jobs.records import EXTRACT, new_job

#: Attempts of one extraction: a worker lost mid-extraction (its lease expired) is given a
#: few more; a classified failure (encrypted, corrupt, a bomb) is permanent and never retried.
EXTRACT_MAX_ATTEMPTS: Final = 3


def queue_extraction(uow: UnitOfWork, file: File, now: datetime) -> Job:
    """Queue the extraction of a just-recorded document, in the transaction that records it:
    its status is `pending` until a worker takes the job."""
    file.document_type = media_of_mime(file.mime_type).extension
    file.text_extraction_status = "pending"
    job = new_job(EXTRACT, file, max_attempts=EXTRACT_MAX_ATTEMPTS, now=now)
    uow.jobs.add(job)
    uow.files.add_event(file.id, now, "text_extraction_queued")
    return job
