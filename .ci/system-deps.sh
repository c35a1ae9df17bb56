#!/usr/bin/env bash
# Installs the Debian packages headless rendering needs (Mesa EGL / llvmpipe) when missing.
# Used by `make` (install step) and therefore by .ci/run. Prints what to do when it cannot.
set -euo pipefail
packages=(libegl1 libegl-mesa0 libgl1-mesa-dri libgbm1)
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
    exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
    echo "emu4d: headless rendering needs Mesa's EGL driver (${missing[*]}); install it with your package manager." >&2
    exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
    echo "emu4d: missing packages for headless rendering: ${missing[*]}" >&2
    echo "       run: sudo apt-get install -y ${missing[*]}" >&2
    exit 0
fi
echo "emu4d: installing ${missing[*]} (headless OpenGL via Mesa EGL)"
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
