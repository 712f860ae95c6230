"""A tour of `melodyrnn studio` in a real browser: open a seed, generate four, screenshot.

    pip install -e ".[studio]" playwright     # and Debian's chromium
    python samples/studio_tour.py samples/jig.mid samples/outputs/studio.png

Starts the studio on a free port of 127.0.0.1 (the same server `melodyrnn studio` runs),
drives headless Chromium through Playwright as a user would (upload, Generate, wait for the
four piano rolls and their audio) and saves a screenshot of the page's top.
"""

from __future__ import annotations

import shutil
import sys

from playwright.sync_api import sync_playwright

from melodyrnn.studio.server import start
from melodyrnn.studio.session import StudioConfig

ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]


def main(seed: str, png: str) -> None:
    server, studio = start(StudioConfig(samples="samples"), port=0)
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=shutil.which("chromium"), args=ARGS)
            page = browser.new_page(viewport={"width": 1280, "height": 1180})
            page.goto(f"http://127.0.0.1:{server.port}/")
            page.wait_for_selector("body[data-ready=true]")
            page.set_input_files("#seed-file", seed)
            page.wait_for_selector("#seed-roll svg")
            page.click("#generate")
            players = "[...document.querySelectorAll('#outputs audio')]"
            page.wait_for_function(f"{players}.length === 4 && {players}.every(a => a.duration > 0)",
                                   timeout=120_000)
            page.screenshot(path=png)
            print(png, page.inner_text("#status"))
            browser.close()
    finally:
        server.shutdown()
        studio.close()


if __name__ == "__main__":
    main(*sys.argv[1:3])
