#!/bin/sh
# Make sure Graphviz's `dot` program is installed: it renders the graphs to SVG/PNG/PDF.
# Installs Debian's `graphviz` package when running as root with apt-get; otherwise says how.
if command -v dot >/dev/null 2>&1; then
    exit 0
fi
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    echo "Installing Graphviz (Debian package 'graphviz') for rendering graphs..."
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq graphviz >/dev/null) && exit 0
fi
echo "Graphviz's 'dot' program is not installed, so graphs are written as DOT source only."
echo "Install it with:  sudo apt-get install graphviz   (macOS: brew install graphviz)"
exit 0
