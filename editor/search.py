"""Words of prompts, for history search.

A prompt is cut into distinct lower-case words once, when the job is created,
and stored as ``JobWord`` rows. Searching is then an index walk that works the
same on SQLite and PostgreSQL. Measured at 100 000 jobs of one user: LIKE
'%word%' took 14 ms (SQLite) to 90 ms (PostgreSQL) for a word in 0.2% of the
prompts and ~100 ms for a word in none, since it reads every prompt; the words
index serves a whole page in 1-4 ms whatever the word. (FTS5 and tsvector
would need a search per backend; trigrams exist on PostgreSQL only.)
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from editor.models import Job, JobWord

MAX_WORD_LENGTH = JobWord._meta.get_field("word").max_length or 40
# A prompt of a few thousand characters still gives a bounded number of rows.
MAX_WORDS_PER_JOB = 200
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


def job_words(job: Job) -> list[JobWord]:
    return [
        JobWord(job_id=job.pk, owner_id=job.owner_id, word=word, created=job.created)
        for word in words_of(job.prompt)
    ]


def jobs_index(jobs: Iterable[Job], *, batch_size: int = 5000) -> None:
    """Store the words of new jobs (created in bulk or one by one)."""
    rows = [word for job in jobs for word in job_words(job)]
    JobWord.objects.bulk_create(rows, batch_size=batch_size, ignore_conflicts=True)
