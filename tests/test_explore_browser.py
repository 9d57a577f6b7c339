"""The headless-Chromium fixture itself: a page loads, runs its script, and fetches nothing."""


def test_browser_runs_a_pages_script_offline(browser, tmp_path):
    page_file = tmp_path / "page.html"
    page_file.write_text(
        "<!DOCTYPE html><html><body><p id='out'>static</p>"
        "<script>document.getElementById('out').textContent = 'from script ' + (2 + 3);</script></body></html>"
    )
    page = browser.new_page()
    requests = []
    page.on("request", lambda r: requests.append(r.url))
    try:
        page.goto(page_file.as_uri())
        assert page.text_content("#out") == "from script 5"
    finally:
        page.close()
    assert requests == [page_file.as_uri()]
