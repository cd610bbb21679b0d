#!/usr/bin/env bash
# Debian packages the integration tests use, and axe-core for the browser tests. Installs them
# when root; otherwise says how.
set -euo pipefail
cd "$(dirname "$0")/.."

# tshark: packet tests; nftables, iproute2: namespace hosts; postgresql: the SOC state on
# PostgreSQL; chromium: the console driven in a real browser; a JDK and Maven: the search
# engine the store's live tests run on (scripts/engine.sh assembles it from Maven Central).
# debootstrap, systemd-container: the city in a box (Debian hosts booted with systemd-nspawn).
# poppler-utils, fonts-dejavu-core: compliance report PDFs (Vietnamese glyphs) rendered to
# images and read back (pdftoppm, pdftotext).
# axe-core: the accessibility engine the browser tests inject into each console page, packed
# from the npm registry once into .cache/ (a second run finds it there).
AXE_VERSION=4.14.1
axe=.cache/axe-core/$AXE_VERSION/axe.min.js
if [ ! -s "$axe" ]; then
  if command -v npm >/dev/null; then
    echo "==> axe-core $AXE_VERSION (npm pack) into $(dirname "$axe")"
    tmp=$(mktemp -d)
    if (cd "$tmp" && npm pack --silent "axe-core@$AXE_VERSION" >/dev/null) \
        && tar -xzf "$tmp/axe-core-$AXE_VERSION.tgz" -C "$tmp" package/axe.min.js; then
      mkdir -p "$(dirname "$axe")" && mv "$tmp/package/axe.min.js" "$axe"
    else
      echo "NOTE: axe-core could not be fetched; the accessibility checks will be skipped." >&2
    fi
    rm -rf "$tmp"
  else
    echo "NOTE: npm is missing; the accessibility checks will be skipped." >&2
  fi
fi

packages=(tshark nftables iproute2 postgresql chromium openjdk-17-jdk-headless maven debootstrap systemd-container poppler-utils fonts-dejavu-core)
missing=()
for pkg in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "==> installing Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  echo "wireshark-common wireshark-common/install-setuid boolean false" | debconf-set-selections
  apt-get update -qq
  apt-get install -y -qq "${missing[@]}" >/dev/null
else
  echo "NOTE: tests that need ${missing[*]} will be skipped." >&2
  echo "      Install them with: sudo apt-get install -y ${missing[*]}" >&2
fi
