#!/usr/bin/env bash
# Installs the .deb into a clean Debian root (debootstrap, minbase: no Python, no compiler)
# and runs the installed `assistant --self-test` there, headless. Needs root (chroot,
# mount) and debootstrap; reaches the Debian mirror for the base system and the .deb's
# Depends.
#
# The bare base system is cached as a tarball (DEBIAN_ROOT_CACHE) and the downloaded
# packages in an apt archive folder beside it, so a second run downloads nothing; each run
# unpacks a fresh root and throws it away afterwards.
# Usage: packaging/linux/test_in_chroot.sh [PACKAGE.deb]
# Environment: SUITE (bookworm), MIRROR (http://deb.debian.org/debian),
#   DEBIAN_ROOT_CACHE (~/.cache/offline-voice-assistant/debian-<suite>-minbase.tar).
set -euo pipefail
cd "$(dirname "$0")/../.."

SUITE=${SUITE:-bookworm}
MIRROR=${MIRROR:-http://deb.debian.org/debian}
CACHE_DIR=${XDG_CACHE_HOME:-$HOME/.cache}/offline-voice-assistant
DEBIAN_ROOT_CACHE=${DEBIAN_ROOT_CACHE:-$CACHE_DIR/debian-$SUITE-minbase.tar}
APT_CACHE="$(dirname "$DEBIAN_ROOT_CACHE")/apt-archives-$SUITE"
deb=${1:-$(ls -t dist/packages/*.deb 2>/dev/null | head -1)}
say() { printf '[chroot-test] %s\n' "$*"; }
fail() { echo "[chroot-test] error: $*" >&2; exit 1; }

[ -f "$deb" ] || fail "no .deb given or found in dist/packages; run 'make packages' first"
[ "$(id -u)" -eq 0 ] || fail "needs root (debootstrap, chroot, mount)"
command -v debootstrap >/dev/null || fail "debootstrap is missing: apt-get install debootstrap"

started=$(date +%s)
work=$(mktemp -d "${TMPDIR:-/tmp}/assistant-chroot-XXXXXX")
root="$work/root"
cleanup() {
  mountpoint -q "$root/proc" 2>/dev/null && umount "$root/proc"
  rm -rf "$work"
}
trap cleanup EXIT

if [ ! -f "$DEBIAN_ROOT_CACHE" ]; then
  say "debootstrap --variant=minbase $SUITE (cached afterwards in $DEBIAN_ROOT_CACHE)"
  mkdir -p "$(dirname "$DEBIAN_ROOT_CACHE")"
  debootstrap --variant=minbase "$SUITE" "$root" "$MIRROR" >"$work/debootstrap.log" 2>&1 \
    || { tail -20 "$work/debootstrap.log" >&2; fail "debootstrap failed (log above)"; }
  tar -C "$root" -cf "$DEBIAN_ROOT_CACHE.part" . && mv "$DEBIAN_ROOT_CACHE.part" "$DEBIAN_ROOT_CACHE"
else
  say "unpacking the cached clean root $DEBIAN_ROOT_CACHE"
  mkdir -p "$root" && tar -C "$root" -xf "$DEBIAN_ROOT_CACHE"
fi
say "clean root ready after $(( $(date +%s) - started )) s"

in_root() { chroot "$root" env -i HOME=/root PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 \
  DEBIAN_FRONTEND=noninteractive "$@"; }

# A clean root: no Python, no compiler, nothing of the build machine.
in_root sh -c '! command -v python3 && ! command -v python && ! command -v gcc && ! command -v pip' \
  >/dev/null || fail "the root is not clean: it has Python or a compiler"

cp /etc/resolv.conf "$root/etc/resolv.conf"
mount -t proc proc "$root/proc"
if [ -d "$APT_CACHE" ]; then cp "$APT_CACHE"/*.deb "$root/var/cache/apt/archives/" 2>/dev/null || true; fi
cp "$deb" "$root/tmp/"
name=$(basename "$deb")

say "installing $name with dpkg -i, then its Depends with apt-get -f install"
in_root apt-get update -qq
in_root dpkg -i "/tmp/$name" >/dev/null 2>&1 || true  # fails on missing Depends: fixed next
in_root apt-get -f install -y -qq --no-install-recommends >"$work/apt.log" 2>&1 \
  || { tail -20 "$work/apt.log" >&2; fail "apt-get -f install failed (log above)"; }
in_root dpkg -s offline-voice-assistant | grep -q '^Status: install ok installed' \
  || fail "the package did not end up installed"
mkdir -p "$APT_CACHE" && cp "$root"/var/cache/apt/archives/*.deb "$APT_CACHE/" 2>/dev/null || true
in_root sh -c '! command -v python3' >/dev/null || fail "installing the .deb pulled in Python"
say "installed after $(( $(date +%s) - started )) s; /usr/bin/assistant -> $(readlink "$root/usr/bin/assistant")"
for f in /usr/share/applications/offline-voice-assistant.desktop \
         /usr/share/icons/hicolor/scalable/apps/offline-voice-assistant.svg \
         /opt/offline-voice-assistant/LICENSE /opt/offline-voice-assistant/THIRD_PARTY_LICENSES.md; do
  [ -f "$root$f" ] || fail "$f is missing from the installed package"
done

say "running the installed 'assistant --self-test' in the clean root (offscreen)"
in_root env QT_QPA_PLATFORM=offscreen assistant --self-test 2>&1 \
  | grep -v "does not support propagateSizeHints" | tee "$work/selftest.log"
[ "${PIPESTATUS[0]}" -eq 0 ] || fail "the installed self-test failed"
grep -q "self-test passed" "$work/selftest.log" || fail "the self-test did not report success"
# PortAudio comes from the bundle: sounddevice loads it with no libportaudio2 installed.
in_root sh -c '! ls /usr/lib/*/libportaudio.so.2' >/dev/null 2>&1 || say "note: the root has a system PortAudio"
rc=0
in_root assistant devices >"$work/devices.log" 2>&1 || rc=$?
if [ "$rc" -gt 1 ] || grep -qi "portaudio library" "$work/devices.log"; then
  cat "$work/devices.log" >&2; fail "assistant devices failed (exit $rc): PortAudio did not load"
fi
say "assistant devices (no sound card in the root): $(head -c 300 "$work/devices.log" | tr '\n' ' ')"
say "passed in $(( $(date +%s) - started )) s"
