"""``talk``, ``transcribe`` and ``say``: the engines from the command line."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from ..audio import read_audio, write_wav
from ..errors import AssistantError, NoSpeechError
from .common import add_model_options, apply_model_options, check_output_path, open_player
from .context import CliContext

__all__ = ["register"]


def register(sub: Any) -> None:
    talk = sub.add_parser(
        "talk",
        help="one spoken turn from a file: hear, think, answer aloud",
        description="Finds the speech in INPUT, transcribes it, asks the language model and "
        "speaks the answer: to the speakers, or to --output.",
    )
    talk.add_argument("--input", "-i", required=True, metavar="FILE", help="WAV/FLAC/OGG/MP3")
    talk.add_argument("--output", "-o", metavar="FILE", help="write the reply to this WAV")
    talk.add_argument("--timings", action="store_true", help="print where the time went")
    talk.add_argument("--json", action="store_true", help="print the result as JSON")
    add_model_options(talk, "asr", "llm", "voice")
    talk.set_defaults(func=_talk)

    transcribe = sub.add_parser("transcribe", help="print what is said in an audio file")
    transcribe.add_argument("file", metavar="FILE", help="WAV/FLAC/OGG/MP3")
    transcribe.add_argument("--segments", action="store_true", help="print timed segments")
    add_model_options(transcribe, "asr")
    transcribe.set_defaults(func=_transcribe)

    say = sub.add_parser("say", help="speak text with the voice")
    say.add_argument("text", nargs="?", default="-", help="the text ('-' or none: stdin)")
    say.add_argument("--output", "-o", metavar="FILE", help="write to this WAV instead")
    add_model_options(say, "voice")
    say.set_defaults(func=_say)


def _talk(args: argparse.Namespace, ctx: CliContext) -> int:
    from ..commands import CommandHost, local_reply
    from ..engines import Engines
    from ..knowledge import document_hooks, open_if_indexed
    from ..oneshot import run_turn
    from ..reply import LocalReply, ReplyHooks

    config = apply_model_options(ctx.config, args)
    output = check_output_path(args.output)
    # Local commands first, as in listen and chat: a timer set here is stored and rings
    # in the next running assistant (listen, the app, chat).
    commands = CommandHost.open()
    answered: list[LocalReply] = []

    def answer(text: str) -> LocalReply | None:
        reply = local_reply(commands.router, text)
        if reply is not None:
            answered.append(reply)
        return reply

    hooks = ReplyHooks(answer_locally=answer)
    audio = read_audio(args.input)
    engines = Engines.load(config, ctx.store)
    knowledge = open_if_indexed(ctx.store)  # None unless `assistant docs add` was used
    documents = document_hooks(knowledge)
    if documents is not None:  # answers from the user's documents, naming the source
        hooks.context_for = documents.context_for
    player = None if output else open_player(engines.voice.sample_rate, config.audio.output_device)
    quiet = args.json

    def heard(transcript: Any) -> None:
        if not quiet:
            print(f"you: {transcript.text}", flush=True)
            print("assistant: ", end="", flush=True)

    def text(delta: str) -> None:
        if not quiet:
            print(delta, end="", flush=True)

    try:
        result = run_turn(
            audio,
            engines,
            config,
            on_heard=heard,
            on_text=text,
            on_chunk=(lambda chunk: player.play(chunk.audio)) if player else None,
            source=args.input,
            hooks=hooks,
        )
        if not quiet:
            print(flush=True)
        if output is not None and result.reply.audio is not None:
            write_wav(output, result.reply.audio)
        elif player is not None:
            player.wait()
    finally:
        commands.close()
        if player is not None:
            player.close()
        if knowledge is not None:
            knowledge.close()
    timings = {k: v for k, v in vars(result.timings).items() if v is not None}
    command = {"intent": answered[0].intent, "handler": answered[0].handler} if answered else None
    if quiet:
        json.dump(
            {
                "heard": result.heard.text,
                "reply": result.reply.text,
                "spoken": result.reply.sentences,
                "reply_seconds": round(result.reply.audio.duration, 3)
                if result.reply.audio
                else 0.0,
                "timings": timings,
                "command": command,
            },
            sys.stdout,
        )
        print()
    elif args.timings:
        print("timings: " + ", ".join(f"{k} {v * 1000:.0f} ms" for k, v in timings.items()))
    return 0


def _transcribe(args: argparse.Namespace, ctx: CliContext) -> int:
    from ..engines import load_transcriber, load_vad
    from ..vad import speech_segments

    config = apply_model_options(ctx.config, args)
    audio = read_audio(args.file)
    vad = load_vad(config, ctx.store)
    # The VAD decides whether there is speech at all: whisper hallucinates words
    # ("Thank you.") on silence.
    if not speech_segments(vad.probabilities(audio.samples), config.vad):
        raise NoSpeechError(f"no speech detected in {args.file}")
    transcript = load_transcriber(config, ctx.store).transcribe(audio)
    if not transcript.text:
        raise NoSpeechError(f"no speech detected in {args.file}")
    if args.segments:
        for seg in transcript.segments:
            print(f"[{seg.start:7.2f} → {seg.end:7.2f}] {seg.text}")
    else:
        print(transcript.text)
    return 0


def _say(args: argparse.Namespace, ctx: CliContext) -> int:
    from ..engines import load_voice
    from ..text import speakable
    from ..tts import synthesize_all

    config = apply_model_options(ctx.config, args)
    output = check_output_path(args.output)
    text = sys.stdin.read() if args.text == "-" else args.text
    if not text.strip():
        raise AssistantError("nothing to say: the text is empty")
    voice = load_voice(config, ctx.store)
    text = speakable(text, voice.language)
    if output is not None:
        write_wav(output, synthesize_all(voice, text))
        return 0
    player = open_player(voice.sample_rate, config.audio.output_device)
    assert player is not None
    try:
        for chunk in voice.synthesize(text):
            player.play(chunk.audio)
        player.wait()
    finally:
        player.close()
    return 0
