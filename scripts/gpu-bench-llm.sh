#!/usr/bin/env bash
# The GPU figures of issue 20 in one run of under 10 minutes: `assistant train llm bench`
# on a random-weight 1 B Llama-shaped model (every layout and speed option: tokens/s, MFU,
# peak memory, packed/plain ratio) and on an 8 B one in 4-bit (QLoRA peak memory).
#
#   scripts/gpu-bench-llm.sh [--tiny] [OUT_DIR]      (OUT_DIR default: gpu-bench-llm)
#   scripts/gpu-bench-llm.sh --fetch-wheels          (on a machine with PyPI, beforehand)
#
# --fetch-wheels puts the wheels the GPU machine lacks into wheels/ (git-ignored, 44 MB:
# bitsandbytes for the 4-bit rows, liger-kernel for the Liger rows); carry wheels/ to the
# GPU machine with the checkout.
# --tiny runs the same steps on the CPU with tiny models: do it first, so the GPU run does
# not die on a typo. Every step runs under `timeout` inside a total budget (BUDGET seconds,
# default 560); each step and each figure is one JSON line in OUT_DIR/figures.jsonl, the
# commands' output goes to OUT_DIR/log.txt, and nvidia-smi samples the GPU every second
# into OUT_DIR/nvidia-smi.csv. Wheels in wheels/ or shared/wheels/ (cp312 manylinux, see
# shared/GPU.md) are installed first with --no-index: the GPU machine has no network.
set -u
cd "$(dirname "$0")/.."
MODE=full
if [ "${1:-}" = "--fetch-wheels" ]; then
    exec "${PYTHON:-python3}" -m pip download -q --only-binary=:all: --python-version 3.12 \
        --platform manylinux_2_24_x86_64 --no-deps -d wheels bitsandbytes==0.50.2 liger-kernel==0.8.5
fi
if [ "${1:-}" = "--tiny" ]; then MODE=tiny; shift; fi
OUT=${1:-gpu-bench-llm}
PY=${PYTHON:-python3}
BUDGET=${BUDGET:-560}
mkdir -p "$OUT"
LOG=$OUT/log.txt
FIG=$OUT/figures.jsonl
: >"$LOG"
: >"$FIG"
START=$(date +%s)
export PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH} PYTHONUNBUFFERED=1 TOKENIZERS_PARALLELISM=false

if [ "$MODE" = tiny ]; then
    DEVICE=cpu SMALL=tiny BIG=tiny DATA=32 SEQ=128 BATCH=2 BIG_BATCH=1 STEPS=2 PRECISION=fp32
else
    DEVICE=cuda SMALL=1b BIG=8b DATA=4000 SEQ=1024 BATCH=16 BIG_BATCH=4 STEPS=20 PRECISION=bf16
fi

# step NAME LIMIT COMMAND...: run COMMAND under timeout (LIMIT, or what is left of the
# budget), log its output, write one JSON line with its exit code and duration.
step() {
    local name=$1 limit=$2 left rc t0
    shift 2
    left=$((BUDGET - ($(date +%s) - START)))
    [ "$left" -lt "$limit" ] && limit=$left
    if [ "$limit" -le 5 ]; then
        echo "{\"step\": \"$name\", \"skipped\": \"budget spent\"}" >>"$FIG"
        return 1
    fi
    echo "== $name (limit ${limit}s): $*" >>"$LOG"
    t0=$(date +%s%N)
    timeout -k 10 "$limit" "$@" >>"$LOG" 2>&1
    rc=$?
    printf '{"step": "%s", "rc": %d, "seconds": %s, "limit": %d}\n' "$name" "$rc" \
        "$(awk -v a="$t0" -v b="$(date +%s%N)" 'BEGIN { printf "%.1f", (b - a) / 1e9 }')" \
        "$limit" >>"$FIG"
    return $rc
}

for wheels in wheels shared/wheels; do
    if ls "$wheels"/*.whl >/dev/null 2>&1; then
        step "install $wheels" 120 "$PY" -m pip install -q --no-index --find-links "$wheels" "$wheels"/*.whl
    fi
done

SMI_PID=
if command -v nvidia-smi >/dev/null; then
    nvidia-smi -L >>"$LOG" 2>&1
    nvidia-smi --query-gpu=timestamp,utilization.gpu,memory.used --format=csv -lms 1000 \
        >"$OUT/nvidia-smi.csv" 2>>"$LOG" &
    SMI_PID=$!
fi
trap '[ -n "$SMI_PID" ] && kill "$SMI_PID" 2>/dev/null' EXIT

step versions 60 "$PY" -c "import json, torch, transformers, peft; print(json.dumps({'torch': torch.__version__, 'transformers': transformers.__version__, 'peft': peft.__version__, 'cuda': torch.cuda.is_available()}))"
step data 60 "$PY" scripts/gpu_bench_llm_setup.py data "$DATA" "$OUT/chats.jsonl"
MODELS=$OUT/models
BENCH=("$PY" -m assistant train llm bench "$OUT/chats.jsonl" --device "$DEVICE"
       --precision "$PRECISION" --seq-length "$SEQ" --steps "$STEPS" --no-decode)

# ~1 B: every row this machine can run (default rows: each installed option, all together).
if step "model $SMALL" 150 "$PY" scripts/gpu_bench_llm_setup.py model "$SMALL" "$MODELS/$SMALL" --device "$DEVICE"; then
    ROWS=()
    [ "$MODE" = tiny ] && ROWS=(--rows plain,padded,packed,fused,liger,auto-batch,all)
    step "bench $SMALL" 300 "${BENCH[@]}" --base "$MODELS/$SMALL" --batch-size "$BATCH" \
        ${ROWS[@]+"${ROWS[@]}"} --json "$OUT/bench-$SMALL.json"
fi

# ~8 B in 4-bit with gradient checkpointing: what a 16 GB GPU would run.
rm -rf "${MODELS:?}/$SMALL"
if step "model $BIG" 200 "$PY" scripts/gpu_bench_llm_setup.py model "$BIG" "$MODELS/$BIG-big" --device "$DEVICE"; then
    step "bench $BIG 4bit" 240 "${BENCH[@]}" --base "$MODELS/$BIG-big" --batch-size "$BIG_BATCH" \
        --rows 4bit --gradient-checkpointing --steps 5 --json "$OUT/bench-$BIG-4bit.json"
fi
rm -rf "${MODELS:?}"

# One JSON line per measured row, and the issue's three checks.
"$PY" - "$OUT" "$SMALL" "$BIG" >>"$FIG" 2>>"$LOG" <<'PY'
import json, sys
from pathlib import Path
out, small, big = Path(sys.argv[1]), sys.argv[2], sys.argv[3]
checks = {}
for name, file in ((small, f"bench-{small}.json"), (f"{big}-4bit", f"bench-{big}-4bit.json")):
    path = out / file
    if not path.is_file():
        print(json.dumps({"bench": name, "missing": str(path)}))
        continue
    report = json.loads(path.read_text())
    rows = {row["variant"]: row for row in report["train"]}
    for row in report["train"]:
        print(json.dumps({"bench": name, "device": report["device"], **row}))
    for note in report["notes"]:
        print(json.dumps({"bench": name, "note": note}))
    if name == small:
        mfu = max((r["mfu"] or 0.0 for r in rows.values()), default=0.0)
        checks["best_mfu"] = mfu
        checks["mfu_at_least_45_percent"] = mfu >= 0.45
        checks["packed_over_plain"] = report["plain_speedup"]
        checks["packed_over_padded"] = report["packing_speedup"]
    elif "4bit" in rows:
        peak = rows["4bit"]["peak_memory_gib"]
        checks["qlora_8b_peak_gib"] = peak
        checks["qlora_8b_within_16_gb"] = peak is not None and peak * 1024**3 <= 16e9
print(json.dumps({"checks": checks}))
PY
echo "figures: $FIG ($(wc -l <"$FIG") lines), log: $LOG" >&2
