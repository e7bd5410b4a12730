"""The HTML report: what it says, and what headless Chromium (Debian's `chromium`) renders."""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest
from PIL import Image

from export.conftest import ACTOR


@pytest.fixture(scope="module")
def report_html(story) -> str:
    return story.export("html").decode("utf-8")


def cell_rows(page: str, anchor: str) -> list[list[str]]:
    """The body rows of the table in the section whose heading has id=anchor."""
    section = page.split(f'id="{anchor}"', 1)[1].split("<h2", 1)[0]
    body = section.split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    return [re.findall(r"<td[^>]*>(.*?)</td>", row) for row in body.split("</tr>") if "<td" in row]


def test_report_summary_and_sections_match_the_log(story, report_html):
    page = report_html
    period = story.period()
    with story.server.log() as log:
        events = [e for e in log.events() if period.holds(e)]
        record_seq = log.size()  # this export's own record, the last event
    changes = [e for e in events if e.type == "change"]
    cards = dict((label, int(n)) for n, label in re.findall(r'<div class="card"><b>(\d+)</b>([^<]+)</div>', page))
    assert cards["changes"] == len(changes)
    assert cards["overrides"] == 1 and cards["pushes refused"] == 1 and cards["drift"] == 1
    assert cards["deploys"] == len([e for e in events if e.type == "deploy"])
    assert cards["events"] == len([e for e in events if e.seq < record_seq])
    (override,) = cell_rows(page, "overrides")
    assert override[4] == "alice" and override[5] == "INC-7: hotfix for the login outage"
    violations = cell_rows(page, "violations")
    assert {v[2] for v in violations} == {"side", "server"}  # the webhook's violation, and the overridden change
    repos = {row[0]: row for row in cell_rows(page, "repos")}
    assert repos["legacy"][4] == repos["legacy"][1]  # imported history: every change unchecked
    clusters = {row[0]: row for row in cell_rows(page, "clusters")}
    assert clusters["prod"][1] == "3" and clusters["prod"][3] == "1" and clusters["staging"][1] == "1"
    leads = {row[0]: row for row in cell_rows(page, "lead-times")}
    assert set(leads) == {"prod", "staging"}
    assert 'class="ok">audit log verified' in page
    assert f"by {ACTOR['name']}" in page
    # what an auditor reads first, on the first screen: the summary, then the exceptions
    assert page.index('id="summary"') < page.index('id="overrides"') < page.index('id="violations"') < page.index('id="verdicts"')
    assert "<script" not in page and "http://" not in page and "https://" not in page  # self-contained


def test_report_renders_in_headless_chromium(report_html, tmp_path):
    """`make test` installs Debian's chromium first (Makefile target `browser`)."""
    chromium = shutil.which("chromium")
    assert chromium, "Debian's chromium is not installed: run `make browser` (apt-get install chromium)"
    page = tmp_path / "report.html"
    page.write_text(report_html)
    shot = tmp_path / "report.png"
    done = subprocess.run(
        [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", f"--user-data-dir={tmp_path / 'profile'}",
         f"--screenshot={shot}", "--window-size=1200,1600", page.as_uri()],
        capture_output=True, text=True, timeout=120,
    )
    assert shot.exists(), done.stderr[-2000:]
    with Image.open(shot) as image:
        assert image.size == (1200, 1600)
        grey = image.convert("L")
        # ink: pixels darker than the page; a blank or failed page has none
        dark = sum(grey.histogram()[:128])
        assert dark > 5000, f"only {dark} dark pixels: the page did not render"
        # the overrides table is on the first screen: its header row's grey band is there
        assert "Overrides (break-glass)" in report_html
        rows_with_ink = sum(1 for y in range(0, 1600, 4) if grey.crop((0, y, 1200, y + 1)).getextrema()[0] < 128)
        assert rows_with_ink > 100, "too few lines of text for the summary and the tables"
