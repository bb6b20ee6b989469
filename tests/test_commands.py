"""Local commands: matching, handlers, safe sums, the desktop, questions and refusals."""

from __future__ import annotations

import json
import sys
import time
from datetime import datetime
from pathlib import Path

import pytest

from assistant.commands import (
    CommandContext,
    CommandMatcher,
    CommandRouter,
    DesktopSettings,
    NotesStore,
    Scheduler,
)
from assistant.commands.handlers.calc import CalcError, evaluate, say_measure

NOW = datetime(2026, 11, 30, 10, 0)


@pytest.fixture(scope="module")
def matcher() -> CommandMatcher:
    return CommandMatcher()


@pytest.fixture
def router(matcher: CommandMatcher, tmp_path: Path) -> CommandRouter:
    scheduler = Scheduler(tmp_path / "schedule.json")
    notes = NotesStore(tmp_path / "history.sqlite3")
    return CommandRouter(CommandContext(scheduler=scheduler, notes=notes, now=lambda: NOW), matcher)


def test_commands_are_matched_within_10_ms_and_questions_are_not(matcher: CommandMatcher) -> None:
    commands = {
        "Set a timer for 5 minutes.": ("HassStartTimer", {"duration": 300.0}),
        "What time is it?": ("HassGetCurrentTime", {}),
        "Remind me to call Anna at four.": (
            "SetReminder",
            {"task": "call anna", "when": "at four"},
        ),
        "What is 15% of 80?": (
            "Calculate",
            {"expression": "15*0.01*80", "raw": "15 percent of 80"},
        ),
        "Cancel the pasta timer.": ("HassCancelTimer", {"name": "pasta"}),
    }
    for text, (intent, slots) in commands.items():
        runs = [matcher.match(text) for _ in range(5)]
        found = runs[0]
        assert found is not None, text
        assert (found.intent, found.slots) == (intent, slots)
        # The median of 5: the matcher's cost, not the shared machine's scheduling noise.
        median_ms = sorted(r.match_ms for r in runs if r is not None)[2]
        assert median_ms < 10.0, (text, median_ms)
    for question in (
        "What is the capital of France?",
        "Tell me a joke about timers.",
        "Why do we remember dreams?",
        "How long does it take to boil an egg?",
    ):
        assert matcher.match(question) is None, question


def test_calculation_never_executes_code(router: CommandRouter, tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    result = router.handle(f"calculate __import__('os').system('touch {marker}')")
    assert result is not None and result.declined
    assert not marker.exists()
    for hostile in (
        "__import__('os')",
        "(1).__class__",
        "open('/etc/passwd')",
        "9**9**9**9",
        "'a'*10",
    ):
        with pytest.raises(CalcError):
            evaluate(hostile)
    assert evaluate("15*0.01*80") == pytest.approx(12.0)
    answer = router.handle("what's 20 percent off 50")
    assert answer is not None and answer.data["value"] == pytest.approx(40.0)


def test_a_measure_is_said_to_three_figures() -> None:
    assert [say_measure(v) for v in (8.04672, 1234.7, 0.012345, 5.0, -40.0, 0.0)] == [
        "8.05", "1,235", "0.0123", "5", "-40", "0",
    ]


def test_unit_conversion(router: CommandRouter) -> None:
    result = router.handle("What is 100 degrees Fahrenheit in Celsius?")
    assert result is not None and result.data["value"] == pytest.approx(37.7778, abs=1e-3)
    # Spoken to three significant figures; the value itself stays exact.
    assert result.text == "100 degrees Fahrenheit, in degrees Celsius, is 37.8."
    miles = router.handle("How many kilometers is 5 miles?")
    assert miles is not None and miles.text.endswith(" is 8.05."), miles
    assert router.handle("How much is 3 miles in kilograms?").declined  # type: ignore[union-attr]


def test_ambiguous_requests_get_a_question_and_the_answer_completes_them(
    router: CommandRouter,
) -> None:
    asked = router.handle("Set a timer.")
    assert asked is not None and asked.question and asked.text.endswith("?")
    done = router.handle("Ten minutes.")
    assert done is not None and done.intent == "HassStartTimer" and not done.question
    assert router.context.scheduler is not None
    assert [t.duration_s for t in router.context.scheduler.items("timer")] == [600.0]
    router.handle("set a 3 minute timer")
    which = router.handle("pause the timer")
    assert which is not None and which.question  # two timers: which one?
    assert router.handle("Remind me to water the plants.").question  # type: ignore[union-attr]


@pytest.mark.parametrize(
    "text",
    [
        "Set a timer for minus five minutes.",
        "Remind me yesterday to call Bob.",
        "What time is it in Atlantis?",
        "What's 5 divided by 0?",
    ],
)
def test_impossible_requests_get_a_short_answer(router: CommandRouter, text: str) -> None:
    result = router.handle(text)
    assert result is not None and result.declined and 0 < len(result.text) < 60, result
    assert router.context.scheduler is not None and not router.context.scheduler.items()


def test_reminders_are_listed_and_cancelled(router: CommandRouter) -> None:
    assert "4:00 PM" in router.handle("Remind me to call Anna at four.").text  # type: ignore[union-attr]
    assert "tomorrow" in router.handle("Wake me up at 7:30 tomorrow.").text  # type: ignore[union-attr]
    listed = router.handle("What reminders do I have?")
    assert listed is not None and "call anna" in listed.text and "7:30 AM" in listed.text
    assert router.handle("Cancel my alarm.").text == "Cancelled the alarm."  # type: ignore[union-attr]
    assert router.context.scheduler is not None
    assert [i.kind for i in router.context.scheduler.items()] == ["reminder"]


def test_notes_are_kept_and_found(router: CommandRouter) -> None:
    router.handle("Remember that my car is parked on level 3.")
    router.handle("Note that the wifi password is on the fridge.")
    found = router.handle("Where did I park?")
    assert found is not None and "your car is parked on level 3" in found.text
    assert "fridge" in router.handle("What did I say about the wifi?").text  # type: ignore[union-attr]
    assert "2 notes" in router.handle("Read my notes.").text  # type: ignore[union-attr]


def test_opening_an_app_runs_its_desktop_entry(
    router: CommandRouter, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    apps = tmp_path / "xdg" / "applications"
    apps.mkdir(parents=True)
    out = tmp_path / "launched.json"
    # A harmless real program as the Exec line: it writes its arguments to a file.
    script = tmp_path / "fake-editor.py"
    script.write_text(  # written whole, then renamed: the test never reads half a file
        f"import json, os, sys\nwith open({str(out)!r} + '.tmp', 'w') as f:\n"
        f"    json.dump(sys.argv[1:], f)\nos.replace({str(out)!r} + '.tmp', {str(out)!r})\n"
    )
    (apps / "org.example.FakeEditor.desktop").write_text(
        "[Desktop Entry]\nType=Application\nName=Fake Editor\n"
        f"Exec={sys.executable} {script} --new-window %U\n"
    )
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    monkeypatch.setenv("XDG_DATA_DIRS", str(tmp_path / "none"))
    router.context.desktop = DesktopSettings(opener=["true"], launcher=None)
    result = router.handle("Open Fake Editor.")
    assert result is not None and result.text == "Opening Fake Editor."
    deadline = time.monotonic() + 10
    while not out.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert json.loads(out.read_text()) == ["--new-window"]
    missing = router.handle("Open Nonexistent Program.")
    assert missing is not None and missing.declined
    assert router.handle("start the engine") is None  # not an application: the LLM answers


def test_control_commands_return_actions(router: CommandRouter) -> None:
    kinds = {
        t: router.handle(t).actions[0].kind
        for t in (
            "Stop.",
            "Louder.",
            "Speak slower.",  # type: ignore[union-attr]
            "Start a new conversation.",
        )
    }
    assert kinds == {
        "Stop.": "stop",
        "Louder.": "volume",
        "Speak slower.": "rate",
        "Start a new conversation.": "new_conversation",
    }


@pytest.mark.slow  # loads the language model in a subprocess
def test_typed_chat_answers_commands_locally_and_keeps_them_as_turns(tmp_path: Path) -> None:
    import re
    import subprocess

    from assistant.memory import ConversationStore

    config = tmp_path / "config.toml"
    config.write_text("[llm]\ntemperature = 0.0\nmax_tokens = 8\n")
    lines = (
        "What time is it?\nRemember that the spare key is under the mat.\n"
        "Where is my spare key?\nHello.\n"
    )
    done = subprocess.run(
        [sys.executable, "-m", "assistant", "--config", str(config), "chat"],
        input=lines,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 0, done.stderr
    out = done.stdout.splitlines()
    assert re.fullmatch(r"It's \d{1,2}:\d\d [AP]M\.", out[0]), out
    assert out[1:3] == ["OK, I'll remember that.", "You told me: the spare key is under the mat."]
    with ConversationStore() as store:
        (conversation,) = store.conversations()
        turns = store.turns(conversation.id)
    assert [t.user_text for t in turns] == lines.splitlines()
    assert all("match_ms" in t.metrics for t in turns[:3])
    assert "first_token" in turns[3].metrics  # "Hello." went to the language model


def test_tools_run_the_same_handlers(router: CommandRouter) -> None:
    from assistant.commands.tools import TOOLS, call_tool

    names = {tool["function"]["name"] for tool in TOOLS}
    assert {"set_timer", "calculate", "set_reminder", "open"} <= names
    ctx = router.context
    assert (
        call_tool("set_timer", '{"seconds": 120, "name": "tea"}', ctx)
        == "Tea timer set for 2 minutes."
    )
    assert "tea timer: 2 minutes left" in call_tool("list_timers", "{}", ctx)
    assert call_tool("calculate", {"expression": "15 percent of 80"}, ctx).endswith("is 12.")
    assert call_tool("calculate", {"expression": "__import__('os')"}, ctx).startswith("I can only")
    assert call_tool("set_reminder", {"task": "call Anna", "when": "at 4 pm"}, ctx) == (
        "I'll remind you to call Anna at 4:00 PM."
    )
    assert call_tool("no_such_tool", "{}", ctx).startswith("error:")


def test_spoken_commands_reach_their_handlers_through_whisper(
    router: CommandRouter, speak, transcriber
) -> None:
    """Real speech (the embedded voice) through the real whisper into the router."""
    from assistant.audio import read_audio

    spoken = {
        "Set a timer for five minutes.": ("HassStartTimer", {"duration": 300.0}),
        "What is fifteen percent of eighty?": ("Calculate", {"expression": "15*0.01*80"}),
        "Remind me to water the plants at six.": ("SetReminder", {"task": "water the plants"}),
    }
    for text, (intent, slots) in spoken.items():
        heard = transcriber.transcribe(read_audio(speak(text))).text
        result = router.handle(heard)
        assert result is not None, (text, heard)
        assert result.intent == intent, (text, heard, result.intent)
        assert all(result.slots.get(k) == v for k, v in slots.items()), (heard, result.slots)


@pytest.mark.parametrize(
    ("heard", "intent", "slots"),
    [
        ("Time for 30 seconds.", "HassStartTimer", {"duration": 30.0}),
        ("watch the time.", "HassGetCurrentTime", {}),
        ("Watch 12 times seven.", "Calculate", {"expression": "12*7"}),
        ("What is to to the power of 10?", "Calculate", {"expression": "2**10"}),
        ("How much is 3 plus for?", "Calculate", {"expression": "3+4"}),
        ("Set another arm for 645.", "SetAlarm", {"time": "06:45"}),
        ("Wake me that six.", "SetAlarm", {"time": "06:00"}),
        ("Wake me up at 6.30.", "SetAlarm", {"time": "06:30"}),
        ("Let's my reminders.", "ListReminders", {}),
        ("I'm mute.", "AssistantUnmute", {}),
        ("Council my alarm.", "CancelReminder", {"kind": "alarm"}),
        ("Just launch the calculator.", "Open", {"app": "calculator"}),
        ("Open my download folder.", "Open", {"folder": "downloads"}),
        ("set of 5 minute timer.", "HassStartTimer", {"duration": 300.0}),
        ("Set in alarm for eight tomorrow morning.", "SetAlarm", {"time": "08:00"}),
        ("Openexample.com.", "Open", {"url": "example.com"}),
        ("be quiet now.", "AssistantStop", {}),
        ("How much time is left by my timer?", "HassTimerStatus", {}),
        ("Wait me up at 730 tomorrow.", "SetAlarm", {"time": "07:30"}),
        ("Where is my alarm?", "ListReminders", {}),
        ("Forget about it.", "HassNevermind", {}),
        ("Which day is it today?", "GetWeekday", {}),
    ],
)
def test_whispers_forms_of_commands_are_understood(
    matcher: CommandMatcher, heard: str, intent: str, slots: dict
) -> None:
    """What the small recogniser writes for a spoken command (numbers as homophones,
    a misheard first word) still reaches the right handler with the right values..."""
    match = matcher.match(heard)
    assert match is not None and match.intent == intent, (heard, match)
    assert {k: match.slots.get(k) for k in slots} == slots


@pytest.mark.parametrize(
    "text",
    ["Time for bed.", "Watch the game tonight.", "The council meeting is at four.",
     "What is it for?", "Let's go to the beach.", "Set in the past, what is the story?",
     "How much time is left until Christmas?", "What should I do now?"],
)  # fmt: skip
def test_the_repairs_leave_ordinary_sentences_to_the_model(
    matcher: CommandMatcher, text: str
) -> None:
    """...while sentences that merely start the same way still reach the model."""
    assert matcher.match(text) is None


@pytest.mark.parametrize(
    ("heard", "intent", "slots"),
    [
        ("Value up.", "AssistantLouder", {}),
        ("Be quite.", "AssistantStop", {}),
        ("Convert 2 leaders to cops.", "Convert", {"from": "liter", "to": "cup"}),
        ("Pose the timer.", "HassPauseTimer", {}),
        ("Speaks lower.", "AssistantSlower", {}),  # a letter across the word boundary
    ],
)
def test_misheard_command_words_are_matched_by_their_sound(
    matcher: CommandMatcher, heard: str, intent: str, slots: dict
) -> None:
    """A word whisper wrote for a command word that sounds like it ("value" for
    "volume") is swapped for it when the transcript then reads as a whole command..."""
    match = matcher.match(heard)
    assert match is not None and (match.intent, match.source) == (intent, "sounds"), match
    assert {k: match.slots.get(k) for k in slots} == slots


@pytest.mark.parametrize(
    "text",
    ["Wider, please.", "What's 15% tomato?", "Pause the pizza timer.", "Remember the alamo.",
     "Is a tomato a fruit?", "How do I cook rice?", "Open the door.", "Bose in the past timer."],
)  # fmt: skip
def test_sound_repairs_never_guess_free_words_or_far_sounds(
    matcher: CommandMatcher, text: str
) -> None:
    """...but never into a command with a free-text slot (a timer's name, a note),
    never across a different first sound ("wider" is not "louder"), and never for a
    sentence with more than two words that are no command words."""
    match = matcher.match(text)
    assert match is None or match.source != "sounds", match


def test_sound_keys() -> None:
    from assistant.commands.sounds import sound_distance, sound_key

    assert sound_key("quiet") == sound_key("quite") == "kwat"
    assert sound_key("cups") == sound_key("cops")
    assert sound_distance("leaders", "liters") == 0.5  # d/t: near sounds
    assert sound_distance("value", "volume") == 1.0
    assert sound_distance("wider", "louder") >= 2.0  # another first sound counts twice


def test_a_misheard_timer_name_finds_the_closest_running_timer(router: CommandRouter) -> None:
    router.handle("set a 10 minute timer called pasta")
    router.handle("set a 5 minute timer called laundry")
    paused = router.handle("pause the past a timer")  # whisper's "pasta"
    assert paused is not None and "pasta" in paused.text.lower(), paused
    assert router.handle("pause the bread timer").text == "You have no bread timer."


def test_bench_commands_prints_and_writes_its_figures(cli, tmp_path: Path) -> None:
    report = tmp_path / "commands.json"
    code, out, _ = cli("bench", "commands", "--limit", "3", "--json", str(report))
    assert code == 0
    assert "commands: " in out and "questions left to the model: " in out
    figures = json.loads(report.read_text())
    assert figures["commands"] == 3 and figures["questions"] >= 100
    assert figures["questions_passed"] <= figures["questions"]
    assert 0.0 <= figures["accuracy"] <= 1.0 and figures["match_ms_max"] < 1000


def test_bench_commands_refuses_a_missing_rehear_model(cli, tmp_path: Path) -> None:
    missing = tmp_path / "no-model"
    code, _, err = cli("bench", "commands", "--spoken", "--rehear-model", str(missing))
    assert code != 0
    assert f"--rehear-model {missing}: no such folder" in err


def test_a_near_command_is_heard_again_and_kept_only_if_it_reads_as_one(
    matcher: CommandMatcher,
) -> None:
    """A short transcript with a command word that matches nothing is transcribed again
    with the command prompt; the second one is used only if it is a command and sounds
    like the first. Questions and commands heard right are transcribed once."""
    from assistant.commands.hearing import COMMAND_PROMPT, CommandHearing, sounds_alike

    hearing = CommandHearing(matcher)
    prompts: list[str] = []

    def again(text: str):
        def transcribe(prompt: str) -> str:
            prompts.append(prompt)
            return text

        return transcribe

    assert hearing.rehear("Console nutheimer.", again("Cancel the timer.")) == "Cancel the timer."
    assert prompts == [COMMAND_PROMPT]
    # A second transcript that is no command, or sounds nothing like the first: the first.
    assert hearing.rehear("Console nutheimer.", again("Consul new timer.")) == "Console nutheimer."
    assert hearing.rehear("Bose in the past your timer.", again("Set an alarm for 7 a.m.")) == (
        "Bose in the past your timer."
    )
    # Whisper repeating itself on a short command ("Stop. Stup."): the command heard once.
    assert hearing.rehear("Stop. Stup.", again("Stop.")) == "Stop."
    # ... its last word cut off where the audio ends (seen while a timer rang).
    assert hearing.rehear("Stop. St-", again("Stop!")) == "Stop!"
    assert hearing.rehear("Stop. Pl-", again("Stop!")) == "Stop. Pl-"
    assert hearing.rehear("St-", again("Stop!")) == "St-"
    assert hearing.rehear("Stop. Play some jazz.", again("Stop.")) == "Stop. Play some jazz."
    prompts.clear()
    for once in ("Set a timer for 5 minutes.", "What is the capital of France?",
                 "Tell me a long story about a time machine and a dragon please."):  # fmt: skip
        assert hearing.rehear(once, again("Stop.")) == once
    assert prompts == [] and hearing.second_listenings == 7
    assert sounds_alike("Console nutheimer", "Cancel the timer")
    assert not sounds_alike("Thank you", "Mute")



def test_whisper_scores_the_words_said_above_others(speak, transcriber) -> None:
    """The recogniser's log-likelihood of texts on real speech: what was said fits the
    audio far better than another command or a question."""
    from assistant.audio import read_audio

    audio = read_audio(speak("Set a timer for five minutes."))
    said, other, question = transcriber.score(
        audio, ["Set a timer for 5 minutes.", "Cancel the timer.", "Who wrote Hamlet?"]
    )
    assert said > other + 10 and said > question + 10, (said, other, question)
    assert transcriber.score(audio, []) == []


def test_a_second_listening_that_fits_the_audio_is_kept(
    matcher: CommandMatcher, speak, transcriber
) -> None:
    """Given whisper's score on the audio, a second transcript that does not sound like
    the first is kept when it fits the audio about as well (the first as whisper-tiny
    heard an espeak-ng voice), and not when the audio says something else."""
    from assistant.audio import read_audio
    from assistant.commands.hearing import CommandHearing

    hearing = CommandHearing(matcher)
    sum_audio = read_audio(speak("What's twelve times seven?"))
    misheard = "What's well time seven?"
    second = transcriber.transcribe(sum_audio).text
    assert matcher.match(second) is not None, second

    def scored(audio):
        return lambda texts: transcriber.score(audio, texts)

    assert hearing.rehear(misheard, lambda _p: second) == misheard  # sounds unlike it
    assert hearing.rehear(misheard, lambda _p: second, scored(sum_audio)) == second
    question_audio = read_audio(speak("What does a timer circuit do?"))
    question = transcriber.transcribe(question_audio).text
    assert hearing.near_command(question), question
    kept = hearing.rehear(question, lambda _p: "Cancel the timer.", scored(question_audio))
    assert kept == question
