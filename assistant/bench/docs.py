"""``assistant bench docs``: retrieval quality, indexing speed, query latency and size of
the document index, on a real corpus nobody here wrote (Debian's ``python3-doc``).

Quality: the hand-written questions of ``data/docs_questions.json``, each with the file
and a phrase of the passage that answers it; recall@5 and MRR (over the first 10) for
vector, keyword and hybrid search. The retrieval settings were tuned on those 60; the 64
of ``data/docs_questions_heldout.json`` (22 written before any tuning, 42 before any
retrieval run on them), never tuned on, are reported apart, and so are the 16 of
``data/docs_questions_prose.json``, about prose pages (the tutorial and a HOWTO, not API
entries), also never tuned on. A hit is judged by
file and phrase, not passage id, so the judging stays fair when passage boundaries change.
Speed: passages indexed per second (reading, splitting, embedding, writing), the query
latency (embedding the question included) on the real index and on indexes grown to
10,000 and 100,000 passages with synthetic passages (random unit vectors, text drawn from
the corpus's words), and the database size per 1,000 passages. Spoken (``spoken``
questions, :mod:`.docs_spoken`): what answering from the index adds to a spoken question's
voice-to-voice latency in the live pipeline.
"""

from __future__ import annotations

import json
import logging
import os
import random
import shutil
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..knowledge import Embedder, KnowledgeBase
from ..knowledge.search import SearchMode
from .report import machine_info, percentile

if TYPE_CHECKING:
    from ..config import Config
    from ..store import ModelStore

__all__ = [
    "CORPUS",
    "HELDOUT",
    "PROSE",
    "QUESTIONS",
    "DocsBenchOptions",
    "DocsReport",
    "Question",
    "format_docs_report",
    "load_questions",
    "run_docs_bench",
]

log = logging.getLogger(__name__)

CORPUS = Path("/usr/share/doc/python3-doc/html")
"""Debian's python3-doc (scripts/setup.sh installs it)."""
QUESTIONS = Path(__file__).with_name("data") / "docs_questions.json"
HELDOUT = Path(__file__).with_name("data") / "docs_questions_heldout.json"
PROSE = Path(__file__).with_name("data") / "docs_questions_prose.json"
MODES: tuple[SearchMode, ...] = ("vector", "keyword", "hybrid")
RECALL_GOAL = 0.9
"""Hybrid recall@5: the least wanted."""
LATENCY_GOAL_S = 0.05
"""Query latency p50 at 100,000 passages: the most wanted."""


@dataclass(frozen=True)
class Question:
    question: str
    file: str
    """Relative to the corpus root."""
    answers: tuple[str, ...]
    """Phrases of the passages that answer the question (any one will do)."""


def load_questions(path: Path = QUESTIONS) -> list[Question]:
    """A question set: ``{"questions": [{"question", "file", "answer"}, ...]}``, where
    ``answer`` is a phrase (or a list of them) of the passage that answers."""
    from ..knowledge import KnowledgeError

    hint = 'write {"questions": [{"question": ..., "file": ..., "answer": ...}, ...]}'
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        out = []
        for item in data["questions"]:
            answer = item["answer"]
            answers = (answer,) if isinstance(answer, str) else tuple(answer)
            out.append(Question(str(item["question"]), str(item["file"]), answers))
    except OSError as exc:
        raise KnowledgeError(f"cannot read the question set {path}: {exc}") from exc
    except (ValueError, KeyError, TypeError) as exc:
        raise KnowledgeError(f"{path} is not a question set ({exc!r})", hint=hint) from exc
    if not out:
        raise KnowledgeError(f"{path} has no questions", hint=hint)
    return out


@dataclass
class DocsBenchOptions:
    corpus: Path = CORPUS
    whole_corpus: bool = False
    """Index every page, not only the pages the questions are about."""
    scales: tuple[int, ...] = (10_000, 100_000)
    queries: int = 100
    """Timed queries per scale."""
    db: Path | None = None
    """Keep the real index here (reruns only index what changed); default: a temp dir."""
    questions: Path = QUESTIONS
    heldout: Path | None = HELDOUT
    """Questions never tuned on, reported apart (their pages are indexed too)."""
    prose: Path | None = PROSE
    """Questions about prose pages, never tuned on, reported apart (pages indexed too)."""
    spoken: int = 0
    """Questions spoken into the live pipeline without and with the index (0: none)."""
    max_tokens: int | None = None
    """The spoken questions' longest reply (default: the config's)."""


@dataclass
class DocsReport:
    corpus: str
    files: int
    passages: int
    questions: int
    quality: dict[str, dict[str, float]] = field(default_factory=dict)
    """Per mode: recall_at_5, mrr."""
    misses: list[str] = field(default_factory=list)
    """Hybrid misses: questions whose answer was not in the top 5."""
    heldout_questions: int = 0
    heldout_quality: dict[str, dict[str, float]] = field(default_factory=dict)
    heldout_misses: list[str] = field(default_factory=list)
    prose_questions: int = 0
    prose_quality: dict[str, dict[str, float]] = field(default_factory=dict)
    prose_misses: list[str] = field(default_factory=list)
    indexing: dict[str, float] = field(default_factory=dict)
    latency: dict[str, dict[str, float]] = field(default_factory=dict)
    """Per index size: p50_ms, p99_ms of hybrid queries (question embedding included)."""
    size: dict[str, float] = field(default_factory=dict)
    spoken: dict[str, Any] = field(default_factory=dict)
    """:meth:`SpokenDocsReport.to_dict`: the live pipeline without and with the index."""
    machine: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _corpus_files(options: DocsBenchOptions, questions: Sequence[Question]) -> list[Path]:
    if options.whole_corpus:
        return sorted(
            p
            for p in options.corpus.rglob("*.html")
            if not ({"_static", "_sources", "_images"} & set(p.parts))
        )
    return sorted({options.corpus / q.file for q in questions})


def _is_answer(passage: Any, question: Question, corpus: Path) -> bool:
    if passage.path != corpus / question.file:
        return False
    text = " ".join(passage.text.split())
    return any(answer in text for answer in question.answers)


def _quality(
    kb: KnowledgeBase, questions: Sequence[Question], corpus: Path
) -> tuple[dict[str, dict[str, float]], list[str]]:
    quality: dict[str, dict[str, float]] = {}
    misses: list[str] = []
    for mode in MODES:
        recall = reciprocal = 0.0
        for q in questions:
            found = kb.search(q.question, limit=10, mode=mode)
            rank = next((i for i, p in enumerate(found, 1) if _is_answer(p, q, corpus)), None)
            if rank is not None and rank <= 5:
                recall += 1
            elif mode == "hybrid":
                misses.append(q.question)
            if rank is not None:
                reciprocal += 1.0 / rank
        quality[mode] = {
            "recall_at_5": recall / len(questions),
            "mrr": reciprocal / len(questions),
        }
    return quality, misses


def _latencies(kb: KnowledgeBase, queries: Sequence[str]) -> dict[str, float]:
    kb.search(queries[0])  # warm
    times = []
    for text in queries:
        started = time.perf_counter()
        kb.search(text, limit=5)
        times.append(time.perf_counter() - started)
    return {
        "p50_ms": percentile(times, 50) * 1000,
        "p99_ms": percentile(times, 99) * 1000,
        "queries": len(times),
    }


def _db_bytes(path: Path) -> int:
    return sum(
        p.stat().st_size for p in (path, Path(f"{path}-wal"), Path(f"{path}-shm")) if p.exists()
    )


def _grow(kb: KnowledgeBase, target: int, vocabulary: list[str], rng: random.Random) -> None:
    """Add synthetic passages (random unit vectors, corpus words) until ``target``."""
    conn = kb.conn
    have = kb.passage_count()
    if have >= target:
        return
    dims = kb.embedder.dimensions
    conn.execute("BEGIN IMMEDIATE")
    try:
        conn.execute(
            "INSERT OR IGNORE INTO folders (id, path, added_at) VALUES (-1, '/synthetic', 0)"
        )
        cursor = conn.execute(
            "INSERT INTO files (folder_id, path, size, mtime_ns, sha256, title, passages, "
            "indexed_at) VALUES (-1, ?, 0, 0, '', 'synthetic', 0, 0)",
            (f"/synthetic/{target}.txt",),
        )
        file_id = cursor.lastrowid
        nprng = np.random.default_rng(rng.randrange(1 << 30))
        for start in range(have, target, 1000):
            count = min(1000, target - start)
            vectors = nprng.standard_normal((count, dims)).astype(np.float32)
            vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
            for i in range(count):
                text = " ".join(rng.choices(vocabulary, k=90))
                row = conn.execute(
                    "INSERT INTO passages (file_id, ordinal, heading, text, digest) "
                    "VALUES (?, ?, '', ?, ?)",
                    (file_id, start + i, text, f"synthetic-{start + i}"),
                )
                conn.execute(
                    "INSERT INTO vectors (rowid, embedding) VALUES (?, ?)",
                    (row.lastrowid, vectors[i].tobytes()),
                )
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise


def run_docs_bench(
    embedder: Embedder,
    options: DocsBenchOptions,
    out: Callable[[str], None] = print,
    config: Config | None = None,
    store: ModelStore | None = None,
) -> DocsReport:
    """Run the whole benchmark; ``out`` gets progress lines. The spoken questions
    (``options.spoken``) load the engines ``config`` and ``store`` name."""
    if options.spoken and (config is None or store is None):
        raise ValueError("spoken questions need the config and the model store")
    questions = load_questions(options.questions)
    heldout = load_questions(options.heldout) if options.heldout is not None else []
    prose = load_questions(options.prose) if options.prose is not None else []
    files = _corpus_files(options, [*questions, *heldout, *prose])
    missing = [p for p in files if not p.is_file()]
    if missing:
        from ..knowledge import KnowledgeError

        raise KnowledgeError(
            f"the bench corpus is incomplete: {missing[0]} is missing",
            hint="install Debian's python3-doc (scripts/setup.sh does)",
        )
    workdir = Path(tempfile.mkdtemp(prefix="assistant-bench-docs-"))
    try:
        sets = (questions, heldout, prose)
        return _run(embedder, options, sets, files, workdir, out, config, store)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def _run(
    embedder: Embedder,
    options: DocsBenchOptions,
    sets: tuple[list[Question], list[Question], list[Question]],
    files: list[Path],
    workdir: Path,
    out: Callable[[str], None],
    config: Config | None = None,
    store: ModelStore | None = None,
) -> DocsReport:
    questions, heldout, prose = sets
    # The real index: a folder of links to the corpus pages (the corpus as the user has
    # it); beside a kept database it stays, so a rerun finds the same paths unchanged.
    folder = workdir / "corpus"
    if options.db is not None:
        folder = options.db.with_name(options.db.name + ".corpus")
    for path in files:
        link = folder / path.relative_to(options.corpus)
        link.parent.mkdir(parents=True, exist_ok=True)
        if not link.is_symlink():
            os.symlink(path.resolve(), link)
    db = options.db or workdir / "knowledge.sqlite3"
    out(f"indexing {len(files)} pages of {options.corpus} into {db} …")
    with KnowledgeBase(embedder, db) as kb:
        kb.add_folder(folder)
        last = [time.monotonic()]

        def progress(p: Any) -> None:
            if time.monotonic() - last[0] > 15:
                last[0] = time.monotonic()
                out(f"  {p.done}/{p.total} pages, {p.passages} passages")

        cpu_started = time.process_time()
        sync = kb.sync(progress=progress)
        cpu_seconds = time.process_time() - cpu_started
        passages = kb.passage_count()
        report = DocsReport(
            corpus=str(options.corpus),
            files=len(files),
            passages=passages,
            questions=len(questions),
            machine=asdict(machine_info()),
        )
        report.indexing = {
            "passages_written": sync.passages,
            "passages_embedded": sync.embedded,
            "seconds": sync.seconds,
            "passages_per_s": sync.embedded / sync.seconds if sync.embedded else 0.0,
            # CPU time of this process (all its threads): the figure a busy machine
            # does not distort; passages per CPU-second x cores ~ the idle-machine rate.
            "cpu_seconds": cpu_seconds,
            "passages_per_cpu_s": sync.embedded / cpu_seconds if sync.embedded else 0.0,
            "cpu_count": os.cpu_count() or 1,
        }
        out(f"  {sync.passages} passages written, {sync.embedded} embedded in {sync.seconds:.1f} s")
        # Passages carry the paths of the links: the answers are looked for there.
        report.quality, report.misses = _quality(kb, questions, folder)
        if heldout:
            report.heldout_questions = len(heldout)
            report.heldout_quality, report.heldout_misses = _quality(kb, heldout, folder)
        if prose:
            report.prose_questions = len(prose)
            report.prose_quality, report.prose_misses = _quality(kb, prose, folder)
        rows = kb.conn.execute("SELECT text FROM passages LIMIT 3000").fetchall()
        vocabulary = sorted({w for (text,) in rows for w in text.lower().split()})
        kb.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        report.size = {"real_bytes_per_1000": _db_bytes(Path(db)) / max(passages, 1) * 1000}
        texts = [q.question for q in questions]
        queries = [texts[i % len(texts)] for i in range(options.queries)]
        report.latency[f"real_{passages}"] = _latencies(kb, queries)
        out(f"  query latency on the real index: {report.latency[f'real_{passages}']}")
        if options.spoken:
            from .docs_spoken import pick_questions, run_spoken_docs

            assert config is not None and store is not None
            asked = pick_questions(texts, options.spoken)
            out(f"speaking {len(asked)} questions into the live pipeline, without, with the index")
            spoken = run_spoken_docs(config, store, kb, asked, options.max_tokens, out)
            report.spoken = spoken.to_dict()
    # Scale: a copy of the real index grown with synthetic passages.
    scaled = workdir / "scaled.sqlite3"
    shutil.copy(db, scaled)
    rng = random.Random(18)
    with KnowledgeBase(embedder, scaled) as kb:
        for size in options.scales:
            out(f"growing the index to {size} passages …")
            _grow(kb, size, vocabulary, rng)
            report.latency[str(size)] = _latencies(kb, queries)
            out(f"  {size}: {report.latency[str(size)]}")
        kb.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        count = kb.passage_count()
        report.size[f"bytes_per_1000_at_{count}"] = _db_bytes(scaled) / count * 1000
    return report


def format_docs_report(report: DocsReport) -> str:
    """The figures as a table, with the goals."""
    lines = [
        f"corpus: {report.corpus}: {report.files} pages, {report.passages} passages; "
        f"{report.questions} questions",
        "",
        f"{'search':8}  {'recall@5':>8}  {'MRR':>5}",
    ]
    for mode, figures in report.quality.items():
        lines.append(f"{mode:8}  {figures['recall_at_5']:8.3f}  {figures['mrr']:5.3f}")
    hybrid = report.quality.get("hybrid", {}).get("recall_at_5", 0.0)
    verdict = "met" if hybrid >= RECALL_GOAL else "NOT met"
    lines.append(f"goal: hybrid recall@5 >= {RECALL_GOAL}: {verdict}")
    if report.heldout_quality:
        lines += ["", f"held-out questions (never tuned on): {report.heldout_questions}"]
        for mode, figures in report.heldout_quality.items():
            lines.append(f"{mode:8}  {figures['recall_at_5']:8.3f}  {figures['mrr']:5.3f}")
    if report.prose_quality:
        lines += ["", f"prose questions (tutorial and HOWTO pages, never tuned on): "
                  f"{report.prose_questions}"]  # fmt: skip
        for mode, figures in report.prose_quality.items():
            lines.append(f"{mode:8}  {figures['recall_at_5']:8.3f}  {figures['mrr']:5.3f}")
    idx = report.indexing
    lines += [
        "",
        f"indexing: {idx['passages_embedded']:.0f} passages embedded in {idx['seconds']:.1f} s = "
        f"{idx['passages_per_s']:.1f} passages/s on {idx['cpu_count']:.0f} CPUs "
        f"({idx['passages_per_cpu_s']:.1f} per CPU-second)",
        "",
        f"{'index size':>12}  {'p50 ms':>7}  {'p99 ms':>7}   (hybrid query, embedding included)",
    ]
    for size, figures in report.latency.items():
        lines.append(f"{size:>12}  {figures['p50_ms']:7.1f}  {figures['p99_ms']:7.1f}")
    big = report.latency.get("100000")
    if big is not None:
        verdict = "met" if big["p50_ms"] <= LATENCY_GOAL_S * 1000 else "NOT met"
        lines.append(f"goal: p50 <= {LATENCY_GOAL_S * 1000:.0f} ms at 100000: {verdict}")
    lines.append("")
    for name, value in report.size.items():
        lines.append(f"database size per 1,000 passages ({name}): {value / 1e6:.2f} MB")
    if report.spoken:
        from .docs_spoken import format_spoken

        lines += ["", *format_spoken(report.spoken)]
    if report.misses:
        lines += ["", "hybrid misses (answer not in the top 5):"]
        lines += [f"  {q}" for q in report.misses]
    if report.heldout_misses:
        lines += ["", "held-out hybrid misses:"]
        lines += [f"  {q}" for q in report.heldout_misses]
    if report.prose_misses:
        lines += ["", "prose hybrid misses:"]
        lines += [f"  {q}" for q in report.prose_misses]
    return "\n".join(lines)
