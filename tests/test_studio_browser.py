"""The studio page in a real browser: Debian's Chromium, headless, driven by Playwright.

A user opens a seed, generates four continuations, sees their piano rolls, plays one and
downloads one; the download is re-read by mido. Skips only where Chromium or Playwright's
Python package is missing (``.ci/run`` installs both).
"""


import mido
import pytest

from melodyrnn.studio.server import start
from melodyrnn.studio.session import StudioConfig

from midifactory import melody_file, scale_notes

pytest.importorskip("flask", reason="Flask is not installed (pip install 'melodyrnn[studio]')")
sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed "
                               "(pip install -e '.[dev]'); the browser test needs it")

# as this machine's notes advise for a closed network: no background connections
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--autoplay-policy=no-user-gesture-required"]


pytestmark = pytest.mark.needs_chromium


@pytest.fixture
def browser(chromium):
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def server(tmp_path):
    (tmp_path / "samples").mkdir()
    srv, studio = start(StudioConfig(samples=str(tmp_path / "samples")), port=0)
    yield f"http://127.0.0.1:{srv.port}", studio
    srv.shutdown()
    studio.close()


def test_open_a_seed_generate_four_listen_and_download(browser, server, tmp_path):
    url, studio = server
    seed = tmp_path / "my seed.mid"
    seed.write_bytes(melody_file(scale_notes([62, 64, 66, 67, 69, 71, 73, 74] * 2, step_ticks=240, gap=20)))
    page = browser.new_page(accept_downloads=True)
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(url + "/")
    page.wait_for_selector("body[data-ready=true]")
    page.set_input_files("#seed-file", str(seed))
    page.wait_for_selector("#seed-roll svg .note", state="attached")
    assert "my seed.mid" in page.inner_text("#seed-name")
    assert page.locator("#tracks tbody tr").count() == 1
    page.fill("input[name=bars]", "4")
    page.fill("input[name=seed]", "11")
    page.click("#generate")
    page.wait_for_function("document.querySelectorAll('#outputs .output').length === 4", timeout=60_000)
    rolls = page.locator("#outputs .output svg")
    assert rolls.count() == 4
    for k in range(4):  # notes, bar lines (the seed's 2 bars + 4 new) and note names in each
        roll = rolls.nth(k)
        assert roll.locator(".note").count() > 16 and roll.locator(".bar-line").count() == 6
        assert "D4" in roll.inner_html()
    assert page.locator("#history li").count() == 1
    assert not page.locator("#status.error").count(), page.inner_text("#status")

    with page.expect_download() as info:
        page.locator("#outputs .output a.download").first.click()
    path = tmp_path / "download.mid"
    info.value.save_as(path)
    midi = mido.MidiFile(path)
    assert sum(1 for m in midi.merged_track if m.type == "note_on" and m.velocity) > 16

    first = page.locator("#outputs .output h3").first.inner_text()
    page.locator("#outputs .output button.regenerate").first.click()
    page.wait_for_function(f"document.querySelector('#outputs .output h3').innerText !== {first!r}",
                           timeout=60_000)
    assert page.locator("#outputs .output").count() == 4
    assert page.locator("#history li").count() == 2  # the generation, then the regeneration

    if studio.audio_available():
        pytest.skip(f"no audio to check: {studio.audio_available()}")
    page.wait_for_function("[...document.querySelectorAll('#outputs audio')].every(a => a.duration > 0)",
                           timeout=60_000)
    durations = page.eval_on_selector_all("#outputs audio", "els => els.map(a => a.duration)")
    assert len(durations) == 4 and all(d > 2.0 for d in durations)  # 6 bars at 120 qpm = 12 s
    assert not errors

    page.reload()  # the session's history outlives the page
    page.wait_for_selector("body[data-ready=true]")
    assert page.locator("#history li").count() == 2
    page.locator("#history li").last.click()  # the first generation, shown again
    assert page.locator("#outputs .output svg").count() == 4


def test_a_bad_upload_shows_its_one_line_reason(browser, server, tmp_path):
    url, _ = server
    bad = tmp_path / "notes.mid"
    bad.write_text("these are not the notes you are looking for")
    page = browser.new_page()
    page.goto(url + "/")
    page.wait_for_selector("body[data-ready=true]")
    page.set_input_files("#seed-file", str(bad))
    page.wait_for_selector("#status.error")
    assert "not a MIDI file" in page.inner_text("#status")


FOREIGN_PAGE = """<!doctype html><html><body><iframe name="sink"></iframe>
<form id="f" method="post" action="{studio}/api/generate" enctype="text/plain" target="sink">
<input name="bars" value="1"></form>
<script>
(async () => {{
  const fd = new FormData();
  fd.append("bars", "1");
  fd.append("num_outputs", "1");
  const tries = [
    fetch("{studio}/api/generate", {{method: "POST", mode: "no-cors", body: fd}}),
    fetch("{studio}/api/generate", {{method: "POST", mode: "no-cors", body: "bars=1",
                                     headers: {{"Content-Type": "application/x-www-form-urlencoded"}}}}),
    fetch("{studio}/api/generate", {{method: "POST", mode: "no-cors", body: "bars=1"}}),
    fetch("{studio}/api/generate", {{method: "POST", body: fd,
                                     headers: {{"X-Melodyrnn-Token": "guessed"}}}}),
  ];
  document.getElementById("f").submit();
  await Promise.allSettled(tries);
  document.title = "done";
}})();
</script></body></html>"""


def test_a_page_of_another_origin_cannot_make_it_generate(browser, server):
    """A page served on another port (another origin) POSTs to /api/generate every way a
    page can without the token: no-cors fetches of multipart, urlencoded and text/plain
    bodies, a CORS fetch with a guessed token, a text/plain form. Nothing is generated."""
    import http.server
    import threading

    url, studio = server
    page = FOREIGN_PAGE.format(studio=url).encode()

    class Foreign(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(page)))
            self.end_headers()
            self.wfile.write(page)

        def log_message(self, *args):
            pass

    foreign = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Foreign)
    threading.Thread(target=foreign.serve_forever, daemon=True).start()
    try:
        tab = browser.new_page()
        tab.goto(f"http://127.0.0.1:{foreign.server_address[1]}/")
        tab.wait_for_function("document.title === 'done'", timeout=30_000)
        tab.wait_for_timeout(1000)  # the form's post, too
    finally:
        foreign.shutdown()
        foreign.server_close()
    assert studio.history == [] and studio.outputs == {}
    own = browser.new_page()  # the studio's own page still works beside it
    own.goto(url + "/")
    own.wait_for_selector("body[data-ready=true]")
    own.fill("input[name=bars]", "1")
    own.fill("input[name=num_outputs]", "1")
    own.click("#generate")
    own.wait_for_function("document.querySelectorAll('#outputs .output').length === 1", timeout=60_000)
    assert len(studio.history) == 1
