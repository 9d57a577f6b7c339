"""Screenshots of an explorer page for the README: hover, click on a step, the training slider.

    python scripts/explore_screenshots.py out/explore.html docs/images

Drives the system Chromium headless through Playwright (as the browser tests do) and writes
``explore_hover.png``, ``explore_click.png`` and ``explore_scrubber.png`` into the folder.
"""

from __future__ import annotations

import sys
from pathlib import Path

from playwright.sync_api import sync_playwright
from tinygrad_rnn.viz.explore import CHROMIUM_ARGS, chromium_executable


def main(page_path: str, folder: str) -> int:
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    executable = chromium_executable()
    if executable is None:
        print("Chromium is not installed (apt-get install chromium)", file=sys.stderr)
        return 1
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=executable, headless=True, args=list(CHROMIUM_ARGS))
        page = browser.new_page(viewport={"width": 1280, "height": 760}, device_scale_factor=1)
        page.goto(Path(page_path).resolve().as_uri())

        # Hover: a weight_hh edge at cell level, drawn at its natural size.
        page.click("#levels button[data-level=step]")
        page.click("#zoom")
        edge = page.locator("#graph g.edge[data-edge]").filter(has_text="t=18").first
        edge.locator("text").first.hover()
        page.screenshot(path=out / "explore_hover.png")
        page.mouse.move(0, 0)

        # Click: one step's gradient path, fitted to the pane.
        page.click("#zoom")
        page.click("#levels button[data-level=cell]")
        page.locator("#graph g.node[data-node]").filter(has_text="t = 6").first.click()
        page.screenshot(path=out / "explore_click.png")

        # Scrubber: the first snapshot, with the plots following.
        page.click("#levels button[data-level=step]")
        page.locator("#slider").fill("1")
        page.screenshot(path=out / "explore_scrubber.png")
        browser.close()
    for name in ("explore_hover.png", "explore_click.png", "explore_scrubber.png"):
        print(f"wrote {out / name}")
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:3]))
