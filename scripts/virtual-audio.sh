#!/usr/bin/env bash
# Starts PulseAudio with virtual devices, for machines without sound hardware (CI, tests):
#   spk      a null sink, the default output (record what was played from spk.monitor)
#   micsrc   a null sink that test audio is played into (paplay --device=micsrc)
#   vmic     a source remapped from micsrc.monitor, the default input
# Idempotent: does nothing when a PulseAudio server already answers.
set -euo pipefail
if pactl info >/dev/null 2>&1; then exit 0; fi
command -v pulseaudio >/dev/null || { echo "pulseaudio is not installed: run scripts/setup.sh" >&2; exit 1; }
# As root, PulseAudio warns that system mode is recommended; user mode is what we want.
pulseaudio -D --exit-idle-time=-1 --disallow-exit >/dev/null 2>&1 || true
for _ in $(seq 50); do pactl info >/dev/null 2>&1 && break; sleep 0.1; done
pactl info >/dev/null 2>&1 || { echo "PulseAudio did not start" >&2; exit 1; }
pactl load-module module-null-sink sink_name=spk sink_properties=device.description=VirtualSpeaker >/dev/null
pactl load-module module-null-sink sink_name=micsrc sink_properties=device.description=VirtualMicFeed >/dev/null
pactl load-module module-remap-source source_name=vmic master=micsrc.monitor source_properties=device.description=VirtualMic >/dev/null
pactl set-default-sink spk
pactl set-default-source vmic
