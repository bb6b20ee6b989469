"""Speech for training: every installed voice (Piper voices from the model store,
espeak-ng's English voices and variants) saying a text with varied speed, noise scales
and pitch; and the augmentations (room reverb, background noise, gain) in numpy."""

from __future__ import annotations

import io
import logging
import random
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from assistant.audio.io import resample

if TYPE_CHECKING:
    import onnxruntime as ort
    from piper import PiperConfig, PiperVoice

__all__ = [
    "ESPEAK_VOICES",
    "Speaker",
    "Synthesizer",
    "augment",
    "espeak_speakers",
    "mix_at_snr",
    "piper_speakers",
    "shift_pitch",
    "trim",
]

log = logging.getLogger(__name__)

RATE = 16000

ESPEAK_VOICES = ("en-us", "en-gb", "en-gb-x-rp", "en-gb-scotland", "en-029", "en-us-nyc",
                 "en-gb-x-gbclan", "en-gb-x-gbcwmd")  # fmt: skip
"""espeak-ng's English accents."""
ESPEAK_VARIANTS = ("m1", "m2", "m3", "m4", "m5", "m6", "m7", "f1", "f2", "f3", "f4", "f5",
                   "Alicia", "Andy", "Annie", "Belinda", "Caleb", "David", "Ed", "Linda",
                   "Michael", "Steph", "Zac", "anika", "grandpa", "female2", "female3")  # fmt: skip
"""Its voice variants (pitch, formants, breathiness). Nine of these names (Belinda, Caleb,
David, Ed, Linda, Steph, Zac, female2, female3) have no variant file of that name, so
espeak-ng says them with the accent's plain voice: 18 distinct variants. Left as they are:
the bench's test voices are drawn from this list, and the real names with 57 more variants
trained no better model (README, the wake word's rounds)."""


@dataclass(frozen=True)
class Speaker:
    """One voice that can say a text: ``engine`` is ``piper`` or ``espeak``."""

    engine: str
    name: str
    """A Piper voice's path, or an espeak-ng voice+variant (``en-gb+f3``)."""
    speaker_id: int | None = None

    @property
    def label(self) -> str:
        if self.engine == "piper":
            sid = "" if self.speaker_id is None else f"#{self.speaker_id}"
            return f"piper:{Path(self.name).stem}{sid}"
        return f"espeak:{self.name}"


def piper_speakers(store: object | None, max_speakers: int = 8) -> list[Speaker]:
    """Every Piper voice in the store (each speaker of a multi-speaker voice, up to
    ``max_speakers``)."""
    if store is None:
        return []
    import json

    out: list[Speaker] = []
    for model in store.installed():  # type: ignore[attr-defined]
        if model.kind != "voice":
            continue
        config_path = model.path.with_name(model.path.name + ".json")
        try:
            config = json.loads(config_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if "phoneme_id_map" not in config:  # an assistant-vits voice: not Piper's format
            continue
        n = int(config.get("num_speakers", 1) or 1)
        if n <= 1:
            out.append(Speaker("piper", str(model.path)))
        else:
            out += [Speaker("piper", str(model.path), s) for s in range(min(n, max_speakers))]
    return out


def espeak_speakers() -> list[Speaker]:
    """espeak-ng's English voices x variants."""
    if shutil.which("espeak-ng") is None:
        return []
    return [Speaker("espeak", f"{v}+{var}") for v in ESPEAK_VOICES for var in ESPEAK_VARIANTS]


def _options() -> ort.SessionOptions:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = 1  # one per worker process: they run side by side
    options.inter_op_num_threads = 1
    return options


def _optimized(model: Path) -> bytes:
    """The Piper voice ``model`` as onnxruntime optimises it for this machine: a session
    made from it skips the optimising (0.1 s instead of 0.4 s), and every session runs
    the same graph."""
    import tempfile

    import onnxruntime as ort

    with tempfile.TemporaryDirectory(prefix="wake-voice-") as tmp:
        options = _options()
        options.optimized_model_filepath = str(Path(tmp) / "voice.onnx")
        options.log_severity_level = 3  # not the warning that the file is for this machine
        ort.InferenceSession(str(model), options, providers=["CPUExecutionProvider"])
        return (Path(tmp) / "voice.onnx").read_bytes()


def _session(model: bytes, seed: int) -> ort.InferenceSession:
    """A session of an optimised Piper graph whose noise generators start from
    ``seed``."""
    import onnxruntime as ort

    options = _options()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    ort.set_seed(seed)  # read by each noise node once, as the session is made
    return ort.InferenceSession(model, options, providers=["CPUExecutionProvider"])


class Synthesizer:
    """Says texts with any :class:`Speaker`, caching loaded Piper voices.

    Piper draws its noise (``noise_scale``, ``noise_w_scale``) inside the ONNX graph, from
    a generator that onnxruntime seeds once, when the session is made, and that runs on
    from call to call. So each Piper session is made right after ``onnxruntime.set_seed``
    with this synthesizer's seed, and :meth:`restart` makes them again: what a voice says
    then depends only on the seed and the calls since the restart, not on the time or on
    which worker process said what before.
    """

    def __init__(self, seed: int = 0) -> None:
        self._piper: dict[str, PiperVoice] = {}
        self._models: dict[str, tuple[PiperConfig, bytes]] = {}
        """Each Piper voice's config and optimised graph, to make its sessions from."""
        self.rng = random.Random(seed)
        self._seed = seed

    def restart(self, seed: int) -> None:
        """Forget the Piper sessions (made again, seeded with ``seed``, when next used)
        and reseed the speed and noise-scale choices."""
        self._piper.clear()
        self._seed = seed
        self.rng = random.Random(seed)

    def say(self, speaker: Speaker, text: str) -> np.ndarray:
        """16 kHz float32 speech, varied at random (speed, noise scales, pitch)."""
        if speaker.engine == "piper":
            return self._say_piper(speaker, text)
        return self._say_espeak(speaker, text)

    def _voice(self, path: str) -> PiperVoice:
        import json

        from piper import PiperConfig, PiperVoice

        voice = self._piper.get(path)
        if voice is not None:
            return voice
        if path not in self._models:
            config = json.loads(Path(path + ".json").read_text(encoding="utf-8"))
            self._models[path] = (PiperConfig.from_dict(config), _optimized(Path(path)))
        config, model = self._models[path]
        voice = PiperVoice(session=_session(model, self._seed), config=config)
        self._piper[path] = voice
        return voice

    def _say_piper(self, speaker: Speaker, text: str) -> np.ndarray:
        from piper import SynthesisConfig

        voice = self._voice(speaker.name)
        r = self.rng
        syn = SynthesisConfig(
            speaker_id=speaker.speaker_id,
            length_scale=r.uniform(0.75, 1.3),
            noise_scale=r.uniform(0.3, 1.0),
            noise_w_scale=r.uniform(0.4, 1.2),
        )
        chunks = [
            np.asarray(c.audio_float_array, np.float32)
            for c in voice.synthesize(text, syn_config=syn)
        ]
        rate = voice.config.sample_rate
        audio = np.concatenate(chunks) if chunks else np.zeros(0, np.float32)
        return resample(audio, rate, RATE)

    def _say_espeak(self, speaker: Speaker, text: str) -> np.ndarray:
        import soundfile as sf

        r = self.rng
        args = ["espeak-ng", "-v", speaker.name, "-s", str(r.randint(125, 200)),
                "-p", str(r.randint(25, 75)), "--stdout", text]  # fmt: skip
        wav = subprocess.run(args, capture_output=True, check=True, timeout=60).stdout
        audio, rate = sf.read(io.BytesIO(wav), dtype="float32")
        return resample(audio.reshape(-1), rate, RATE)


def trim(audio: np.ndarray, floor_db: float = -40.0) -> np.ndarray:
    """``audio`` without its leading and trailing silence (below ``floor_db`` of its peak,
    in 10 ms frames)."""
    frames = len(audio) // 160
    if frames == 0:
        return audio
    rms = np.sqrt(np.mean(audio[: frames * 160].reshape(frames, 160) ** 2, axis=1) + 1e-12)
    loud = np.nonzero(rms > rms.max() * 10 ** (floor_db / 20))[0]
    if len(loud) == 0:
        return audio[:0]
    return audio[loud[0] * 160 : (loud[-1] + 1) * 160]


def _colored_noise(n: int, rng: np.random.Generator, exponent: float) -> np.ndarray:
    spectrum = np.fft.rfft(rng.standard_normal(n))
    freqs = np.maximum(np.fft.rfftfreq(n), 1.0 / n)
    noise = np.fft.irfft(spectrum / freqs ** (exponent / 2), n)
    return (noise / (np.std(noise) + 1e-9)).astype(np.float32)


def mix_at_snr(speech: np.ndarray, noise: np.ndarray, snr_db: float) -> np.ndarray:
    """``speech`` plus ``noise`` scaled so that speech power / noise power = ``snr_db``
    (power of the speech's loud part)."""
    voiced = trim(speech)
    p_s = float(np.mean((voiced if len(voiced) else speech) ** 2)) + 1e-12
    p_n = float(np.mean(noise**2)) + 1e-12
    return speech + noise * np.sqrt(p_s / (p_n * 10 ** (snr_db / 10)))


def _reverb(audio: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    from scipy.signal import fftconvolve

    rt60 = rng.uniform(0.15, 0.8)
    n = int(rt60 * RATE)
    t = np.arange(n) / RATE
    ir = rng.standard_normal(n) * np.exp(-6.9 * t / rt60)
    ir[0] = 1.0 / rng.uniform(0.3, 1.0)  # direct path
    wet = fftconvolve(audio, ir)[: len(audio) + n // 4]
    return (wet / (np.abs(wet).max() + 1e-9) * np.abs(audio).max()).astype(np.float32)


def shift_pitch(audio: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Half the time, ``audio`` played 0.9-1.1 times as fast (pitch and speed together).
    It changes the length: shift speech before placing it on a canvas whose sample
    positions label windows."""
    if rng.random() < 0.5:
        return resample(audio, RATE, int(RATE * rng.uniform(0.9, 1.1)))
    return audio


def augment(
    audio: np.ndarray,
    rng: np.random.Generator,
    babble: list[np.ndarray] | None = None,
    snr_db: tuple[float, float] = (3.0, 25.0),
    shift: bool = True,
) -> np.ndarray:
    """A random room: maybe a pitch/speed shift (unless ``shift`` is false: it moves
    every sample, see :func:`shift_pitch`), maybe reverb, then background noise (white,
    pink, brown, or real speech from ``babble``) at a random SNR and a random gain."""
    if shift:
        audio = shift_pitch(audio, rng)
    if rng.random() < 0.5:
        audio = _reverb(audio, rng)
    # Speech in the background a third of the time (when there is some): it is what a
    # detector trained mostly on quiet takes misses the phrase in.
    kind = 4 if babble and rng.random() < 0.35 else int(rng.integers(0, 4))
    if kind == 4 and babble:
        source = babble[int(rng.integers(0, len(babble)))]
        start = int(rng.integers(0, max(1, len(source) - len(audio))))
        noise = np.resize(source[start : start + len(audio)], len(audio))
    elif kind == 3:
        noise = np.zeros(len(audio), np.float32)
    else:
        noise = _colored_noise(len(audio), rng, float(kind))
    if kind != 3:
        audio = mix_at_snr(audio, noise, rng.uniform(*snr_db))
    peak = np.abs(audio).max() + 1e-9
    return (audio / peak * 10 ** (rng.uniform(-25.0, -1.0) / 20)).astype(np.float32)
