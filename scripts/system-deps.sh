#!/usr/bin/env bash
# Debian packages the integration tests use. Installs them when root; otherwise says how.
set -euo pipefail

# tshark: packet tests; nftables, iproute2: namespace hosts; postgresql: the SOC state on
# PostgreSQL; chromium: the console driven in a real browser; a JDK and Maven: the search
# engine the store's live tests run on (scripts/engine.sh assembles it from Maven Central).
# debootstrap, systemd-container: the city in a box (Debian hosts booted with systemd-nspawn).
# poppler-utils, fonts-dejavu-core: compliance report PDFs (Vietnamese glyphs) rendered to
# images and read back (pdftoppm, pdftotext).
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
