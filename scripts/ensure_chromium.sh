#!/bin/sh
# Make sure a Chromium browser is installed: the explorer page's browser tests drive it headless
# (through Playwright's Python package, pointed at the system browser; no browser is downloaded).
# Installs Debian's `chromium` package when running as root with apt-get; otherwise says how.
for exe in chromium chromium-browser; do
    if command -v "$exe" >/dev/null 2>&1; then
        exit 0
    fi
done
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    echo "Installing Chromium (Debian package 'chromium') for the explorer page's browser tests..."
    (apt-get update -qq -o DPkg::Lock::Timeout=300 \
        && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq -o DPkg::Lock::Timeout=300 chromium >/dev/null) \
        && exit 0
fi
echo "Chromium is not installed, so the explorer page's browser tests are skipped."
echo "Install it with:  sudo apt-get install chromium   (or set TINYGRAD_RNN_CHROMIUM to a Chromium executable)"
exit 0
