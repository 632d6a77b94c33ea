"""Words of prompts, for history search, whole or begun ("hous" finds "house").

A prompt is cut into distinct lower-case words once, when the job is created,
and each word is stored with its beginnings of two letters or more ("house":
"ho", "hou", "hous", "house") as ``JobWord`` rows, one row per distinct term
of the job. A search term, whole word or a word being typed, is then an
equality on the (owner, word, created, job) index, walked newest first and
stopped after a page, the same on SQLite and PostgreSQL and as fast at the
last page as at the first.

Measured at 100 000 jobs of one user: LIKE '%word%' took 14 ms (SQLite) to
90 ms (PostgreSQL) for a word in 0.2% of the prompts and ~100 ms for a word in
none, since it reads every prompt; the words index serves a whole page in 1-4
ms whatever the word. A prefix as a range on the same index (``word >= 'hous'
AND word < 'hout'``) loses the index's order: every match is read and sorted,
and a job with "house" and "houses" comes twice. FTS5 (``prefix=``) and a
tsvector with ``:*`` would need a search per backend, ordered by a sort over
all matches too. Storing the beginnings costs two to three rows per word (measured), the
same trade FTS5's prefix indexes make.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from editor.models import Job, JobWord

MAX_WORD_LENGTH = JobWord._meta.get_field("word").max_length or 40
# A prompt of a few thousand characters still gives a bounded number of rows.
MAX_WORDS_PER_JOB = 200
MAX_TERMS_PER_JOB = 1000
# Shorter beginnings would match nearly every job and make the index larger
# for nothing: a single letter finds that word only ("a").
MIN_PREFIX_LENGTH = 2
WORD = re.compile(r"\w+", re.UNICODE)


def words_of(text: str) -> list[str]:
    """Distinct words of ``text``, lower-cased, in order of first appearance."""
    seen: dict[str, None] = {}
    for match in WORD.finditer(text.casefold()):
        word = match.group()[:MAX_WORD_LENGTH]
        seen.setdefault(word, None)
        if len(seen) >= MAX_WORDS_PER_JOB:
            break
    return list(seen)


def terms_of(text: str) -> list[str]:
    """What a search can match in ``text``: its distinct words and their
    beginnings of ``MIN_PREFIX_LENGTH`` letters or more, whole words first."""
    words = words_of(text)
    terms = dict.fromkeys(words)
    for word in words:
        for length in range(MIN_PREFIX_LENGTH, len(word)):
            terms.setdefault(word[:length], None)
    return list(terms)[:MAX_TERMS_PER_JOB]


def job_words(job: Job) -> list[JobWord]:
    return [
        JobWord(job_id=job.pk, owner_id=job.owner_id, word=term, created=job.created)
        for term in terms_of(job.prompt)
    ]


def jobs_index(jobs: Iterable[Job], *, batch_size: int = 5000) -> None:
    """Store the words of new jobs (created in bulk or one by one)."""
    rows = [word for job in jobs for word in job_words(job)]
    JobWord.objects.bulk_create(rows, batch_size=batch_size, ignore_conflicts=True)
