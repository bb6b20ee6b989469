#!/usr/bin/env bash
# The Linux packages, all made from the one bundle folder (`make bundle` -> dist/assistant):
#   dist/packages/offline-voice-assistant_<version>_amd64.deb      (dpkg-deb; /opt + /usr/bin)
#   dist/packages/offline-voice-assistant-<version>-linux-x86_64.tar.gz   (portable)
#   dist/packages/SHA256SUMS
# The .deb's Depends are worked out from the bundle itself: every library its binaries
# load from the system (not from the bundle) is looked up with dpkg -S, and libc6's
# minimum version is the newest GLIBC symbol version any of them needs.
# No AppImage: see packaging/README.md (its tooling does not install from the registries
# reachable here).
# Environment: DIST (dist), COMPRESS (gzip; xz for smaller, slower packages), LEVEL (6;
# 1 is as small within 2 % here, since the models hardly compress, and much faster).
set -euo pipefail
cd "$(dirname "$0")/../.."

DIST=${DIST:-dist}
COMPRESS=${COMPRESS:-gzip}
LEVEL=${LEVEL:-6}
APP="$DIST/assistant"
OUT="$DIST/packages"
NAME=offline-voice-assistant
say() { printf '[packages] %s\n' "$*"; }

[ -x "$APP/assistant" ] || { echo "error: $APP/assistant is missing; run 'make bundle' first" >&2; exit 1; }
VERSION=$(sed -n 's/^version *= *"\(.*\)"/\1/p' pyproject.toml | head -1)
ARCH=$(dpkg --print-architecture 2>/dev/null || echo amd64)
started=$(date +%s)
mkdir -p "$OUT"
work=$(mktemp -d "$OUT/.work-XXXXXX")
trap 'rm -rf "$work"' EXIT

# ------------------------------------------------------------------ system dependencies

elf_files() { find "$APP" -type f \( -name '*.so*' -o -path "$APP/assistant" \) -print0; }

system_libs() {
  # Libraries that the dynamic linker finds outside the bundle.
  elf_files | xargs -0 -n 50 env LD_LIBRARY_PATH="$APP/_internal" ldd 2>/dev/null \
    | awk '$2 == "=>" && $3 ~ /^\// {print $3}' | grep -v "^$(realpath "$APP")" | sort -u
}

glibc_min() {
  elf_files | xargs -0 -n 50 objdump -T 2>/dev/null | grep -o 'GLIBC_[0-9][0-9.]*' \
    | sed 's/GLIBC_//' | sort -V | tail -1
}

depends=()
while read -r lib; do
  pkg=$(dpkg -S "$(realpath "$lib")" 2>/dev/null | head -1 | cut -d: -f1) \
    || pkg=$(dpkg -S "$lib" 2>/dev/null | head -1 | cut -d: -f1) || true
  [ -n "$pkg" ] || { say "warning: no Debian package owns $lib"; continue; }
  [ "$pkg" = libc6 ] || depends+=("$pkg")
done < <(system_libs)
# Configuration the bundled libraries read from the system: libfontconfig the font
# configuration (and a font), libasound (PortAudio's ALSA) /usr/share/alsa; without the
# latter PortAudio aborts the process when it starts.
depends+=(fontconfig-config libasound2-data)
glibc=$(glibc_min)
DEPENDS="libc6 (>= $glibc)"
for pkg in $(printf '%s\n' "${depends[@]}" | sort -u); do DEPENDS+=", $pkg"; done
say "Depends: $DEPENDS"

# ------------------------------------------------------------------ .deb

deb_root="$work/deb"
install -d "$deb_root/opt/$NAME" "$deb_root/usr/bin" "$deb_root/DEBIAN" \
  "$deb_root/usr/share/applications" "$deb_root/usr/share/icons/hicolor/scalable/apps" \
  "$deb_root/usr/share/icons/hicolor/256x256/apps" "$deb_root/usr/share/doc/$NAME"
cp -a "$APP/." "$deb_root/opt/$NAME/"
ln -s "/opt/$NAME/assistant" "$deb_root/usr/bin/assistant"
install -m 644 packaging/linux/$NAME.desktop "$deb_root/usr/share/applications/$NAME.desktop"
install -m 644 packaging/linux/$NAME.svg "$deb_root/usr/share/icons/hicolor/scalable/apps/$NAME.svg"
install -m 644 packaging/linux/$NAME.png "$deb_root/usr/share/icons/hicolor/256x256/apps/$NAME.png"
cat >"$deb_root/usr/share/doc/$NAME/copyright" <<EOF
The offline voice assistant is GPL-3.0-or-later: /opt/$NAME/LICENSE.
Every bundled component's licence: /opt/$NAME/THIRD_PARTY_LICENSES.md and /opt/$NAME/licenses/.
The embedded models' licences: /opt/$NAME/MODEL_LICENSES.md.
EOF
size_kb=$(du -sk "$deb_root" | cut -f1)
cat >"$deb_root/DEBIAN/control" <<EOF
Package: $NAME
Version: $VERSION
Architecture: $ARCH
Maintainer: The offline-voice-assistant developers <noreply@localhost>
Installed-Size: $size_kb
Depends: $DEPENDS
Section: sound
Priority: optional
Homepage: https://localhost/offline-voice-assistant
Description: offline desktop voice assistant
 Speak and it answers aloud: speech recognition (faster-whisper), a language
 model (llama.cpp) and a voice (Piper) run on this computer; nothing leaves it.
 The default models are included, so it works with no network from the first
 start. Run "assistant" for the window, "assistant --help" for the commands.
EOF
deb="$OUT/${NAME}_${VERSION}_${ARCH}.deb"
say "building $deb ($COMPRESS)"
dpkg-deb --root-owner-group -Z"$COMPRESS" -z"$LEVEL" --build "$deb_root" "$deb" >/dev/null

# ------------------------------------------------------------------ portable .tar.gz

tarball="$OUT/$NAME-$VERSION-linux-$(uname -m).tar.gz"
say "building $tarball"
tar_root="$work/tar/$NAME-$VERSION"
mkdir -p "$tar_root"
cp -a "$APP/." "$tar_root/"
install -m 644 packaging/linux/$NAME.desktop packaging/linux/$NAME.svg packaging/linux/$NAME.png "$tar_root/"
tar -C "$work/tar" -cf - "$NAME-$VERSION" | gzip -"$LEVEL" >"$tarball.part"
mv "$tarball.part" "$tarball"

# ------------------------------------------------------------------ checksums

(cd "$OUT" && sha256sum "$(basename "$deb")" "$(basename "$tarball")" >SHA256SUMS.part && mv SHA256SUMS.part SHA256SUMS)
say "done in $(( $(date +%s) - started )) s:"
(cd "$OUT" && ls -l --block-size=M "$(basename "$deb")" "$(basename "$tarball")" SHA256SUMS | awk '{print "  " $5 "  " $9}')
