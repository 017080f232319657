"""The HTML report in a real headless browser (Debian's chromium and chromedriver):
it opens, the charts render, a task's trajectory expands on a click."""

import shutil

import pytest

from codeloop.loops import LoopConfig
from codeloop.loops.run import run
from codeloop.models import ScriptedModel
from codeloop.scoring.local import LocalScorer
from codeloop.tasks import load_benchmark

CHROMIUM, DRIVER = shutil.which("chromium"), shutil.which("chromedriver")
pytestmark = [pytest.mark.sandbox,
              pytest.mark.skipif(not (CHROMIUM and DRIVER), reason="needs Debian's chromium and chromium-driver "
                                                                   "(apt-get install chromium chromium-driver)")]


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    tasks = load_benchmark("humaneval")
    wrong = "```python\ndef max_element(l):\n    return min(l)\n```"
    right = "```python\ndef max_element(l):\n    return max(l)\n```"
    out = tmp_path_factory.mktemp("run")
    scorer = LocalScorer(tasks, workers=2)
    try:
        run([tasks["HumanEval/35"]], ScriptedModel([wrong, right]), out, LoopConfig(), scorer=scorer)
    finally:
        scorer.close()
    return out / "report.html"


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--no-first-run", f"--user-data-dir={tmp_path_factory.mktemp('chrome')}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(executable_path=DRIVER), options=options)
    yield driver
    driver.quit()


def test_report_opens_renders_charts_and_expands(report, browser):
    from selenium.webdriver.common.by import By

    browser.get(report.as_uri())
    assert browser.title.startswith("codeloop run")
    curve = browser.find_element(By.ID, "curve")
    assert curve.is_displayed() and curve.size["width"] > 100 and curve.size["height"] > 100
    points = browser.find_elements(By.CSS_SELECTOR, "#curve circle.point")
    assert len(points) == 3  # one per round
    assert browser.find_elements(By.CSS_SELECTOR, "#statuses rect.bar")
    trajectory = browser.find_element(By.CSS_SELECTOR, "details.trajectory")
    assert trajectory.get_attribute("open") is None
    assert not browser.find_element(By.CSS_SELECTOR, "details.trajectory .attempt").is_displayed()
    trajectory.find_element(By.TAG_NAME, "summary").click()
    assert trajectory.get_attribute("open") is not None
    attempts = browser.find_elements(By.CSS_SELECTOR, "details.trajectory .attempt")
    assert len(attempts) == 2 and attempts[1].is_displayed()
    diff = attempts[1].find_element(By.CSS_SELECTOR, "pre.diff")
    assert "+    return max(l)" in diff.text and "-    return min(l)" in diff.text
    assert "Failing test:" in attempts[0].find_element(By.CSS_SELECTOR, "pre.feedback").text
    browser.save_screenshot(str(report.with_name("report.png")))
