"""The inspector page in headless Chromium: log in with a key, click through
every view, edit, delete and forget, check a second tenant's key sees none
of the first's data, and that the page fits a phone's width. Each view is
saved as a screenshot."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from conftest import KEY_A, KEY_ALICE, KEY_B, Server
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.ui import Select, WebDriverWait


def wait(driver: WebDriver, until: Callable[[WebDriver], Any], what: str) -> Any:
    return WebDriverWait(driver, 30, ignored_exceptions=[StaleElementReferenceException]).until(
        until, f"timed out waiting for {what}"
    )


def view(driver: WebDriver, name: str) -> None:
    wait(driver, lambda d: d.find_element(By.ID, "view").get_attribute("data-view") == name, f"the {name} view")


def find(driver: WebDriver, css: str) -> WebElement:
    return wait(driver, lambda d: d.find_element(By.CSS_SELECTOR, css), css)


def texts(driver: WebDriver, css: str) -> list[str]:
    # Read in one script: the page replaces its elements as it loads, which
    # would leave element handles stale between two reads.
    script = "return [...document.querySelectorAll(arguments[0])].map((e) => e.innerText.trim())"
    return list(driver.execute_script(script, css))


def shot(driver: WebDriver, artifacts: Path, name: str) -> None:
    driver.save_screenshot(str(artifacts / f"{name}.png"))


def login(driver: WebDriver, server: Server, key: str) -> None:
    driver.get(server.base + "/ui")
    view(driver, "login")
    field = find(driver, "#key")
    field.clear()
    field.send_keys(key)
    find(driver, "#login button").click()
    view(driver, "users")


def go(driver: WebDriver, hash_: str, name: str) -> None:
    driver.execute_script("location.hash = arguments[0]", hash_)
    view(driver, name)


def nav(driver: WebDriver, name: str) -> None:
    find(driver, f'[data-nav="{name}"]').click()
    view(driver, name)


def confirm(driver: WebDriver, label: str, word: str) -> None:
    form = find(driver, f'form[data-confirm="{label}"]')
    form.find_element(By.NAME, "confirm").send_keys(word)
    form.find_element(By.TAG_NAME, "button").click()


def fits(driver: WebDriver) -> bool:
    return bool(driver.execute_script("return document.documentElement.scrollWidth <= window.innerWidth"))


def test_a_wrong_key_is_refused(browser: WebDriver, server: Server, artifacts: Path) -> None:
    browser.get(server.base + "/ui")
    view(browser, "login")
    find(browser, "#key").send_keys("not-a-key")
    find(browser, "#login button").click()
    status = wait(browser, lambda d: d.find_element(By.ID, "status").text, "an error")
    assert "API key" in status
    assert browser.find_element(By.ID, "view").get_attribute("data-view") == "login"
    assert browser.execute_script("return sessionStorage.length") == 0
    shot(browser, artifacts, "00-login-refused")


def test_a_key_bound_to_one_user_sees_that_user_alone(browser: WebDriver, server: Server, artifacts: Path) -> None:
    login(browser, server, KEY_ALICE)
    wait(browser, lambda d: texts(d, "#users tbody td:first-child") == ["alice"], "alice alone")
    nav(browser, "search")
    find(browser, "#search input[name=query]").send_keys("music instrument")
    find(browser, "#search button").click()
    wait(browser, lambda d: len(d.find_elements(By.CSS_SELECTOR, "#hits li")) > 0, "results")
    assert "trombone" not in find(browser, "#hits").text
    assert all(line.endswith("alice") or " alice " in line for line in texts(browser, "#hits .facts"))
    browser.execute_script("location.hash = arguments[0]", "#/user/bob")
    wait(browser, lambda d: d.find_element(By.ID, "status").text, "an error")
    assert "trombone" not in browser.find_element(By.ID, "view").text.lower()
    shot(browser, artifacts, "01-user-bound-key")


def test_every_view(browser: WebDriver, server: Server, artifacts: Path) -> None:
    login(browser, server, KEY_A)
    wait(browser, lambda d: "…" not in texts(d, "#users tbody td:last-child"), "memory counts")
    rows = {r.find_element(By.CSS_SELECTOR, "td a").text: r.text for r in browser.find_elements(By.CSS_SELECTOR, "#users tbody tr")}
    assert set(rows) == {"alice", "bob"}
    alice = server.call("GET", "/v1/users/alice/stats")
    assert alice["memories"] >= 28 and alice["messages"] == 2
    assert rows["alice"].split()[-2:] == ["2", str(alice["memories"])]
    shot(browser, artifacts, "01-users")

    # One user's memories: filters and paging.
    browser.find_element(By.LINK_TEXT, "alice").click()
    view(browser, "user")
    assert f"{alice['memories']} memories · 1 superseded · 2 messages · 1 sessions" in find(browser, "#user-stats").text
    wait(browser, lambda d: len(texts(d, "#memories tbody tr")) == 20, "a first page of 20")
    find(browser, "#next").click()
    wait(browser, lambda d: len(texts(d, "#memories tbody tr")) == 8, "the second page")
    Select(find(browser, "#memory-filters select[name=kind]")).select_by_value("preference")
    find(browser, "#memory-filters button").click()
    wait(browser, lambda d: texts(d, "#memories tbody td a") == ["Alice drinks green tea every morning"], "the kind filter")
    Select(find(browser, "#memory-filters select[name=kind]")).select_by_value("")
    find(browser, "#memory-filters input[name=min]").send_keys("5")
    find(browser, "#memory-filters input[name=superseded]").click()
    find(browser, "#memory-filters button").click()
    wait(browser, lambda d: "Alice lives in Coimbra" in texts(d, "#memories tbody td a"), "superseded memories")
    states = dict(zip(texts(browser, "#memories tbody td:first-child"), texts(browser, "#memories tbody td:last-child")))
    assert states["Alice lives in Coimbra"] == "superseded" and states["Alice lives in Lisbon"] == "current"
    assert "Alice's brother lives in Porto" not in states  # importance 4
    assert texts(browser, "#view table")[1].count("stream-1") == 1  # the sessions table
    shot(browser, artifacts, "02-user-memories")

    # A session of hers: summary, recent window, transcript.
    browser.find_element(By.LINK_TEXT, "stream-1").click()
    view(browser, "session")
    assert "rainy-run tips" in find(browser, "#summary").text
    assert texts(browser, "#transcript .role") == ["user", "user", "user", "assistant"]
    assert "Wear a cap and light layers." in find(browser, "#recent").text
    shot(browser, artifacts, "05-session")
    browser.back()
    view(browser, "user")
    find(browser, "#memory-filters input[name=min]").send_keys("7")
    find(browser, "#memory-filters button").click()

    # A memory: fields, history timeline, importance edited.
    wait(browser, lambda d: d.find_element(By.LINK_TEXT, "Alice works as a head nurse at Santa Maria"), "the memory link").click()
    view(browser, "memory")
    assert find(browser, "#memory-content").text == "Alice works as a head nurse at Santa Maria"
    ops = texts(browser, "#history .op")
    assert [o.lower() for o in ops] == ["add", "update"]
    assert "promoted" in find(browser, "#history").text
    assert "Alice works as a nurse at Santa Maria" in find(browser, "#history .old").text
    importance = find(browser, "#importance")
    importance.clear()
    importance.send_keys("9")
    find(browser, "#edit-importance button").click()
    wait(browser, lambda d: len(texts(d, "#history .op")) == 3, "the edit in the history")
    assert "9.0" in find(browser, "dl.fields").text
    assert server.call("GET", f"/v1/memories/{server.ids['job']}")["importance"] == 9
    shot(browser, artifacts, "03-memory-history")

    # Search: hits with their score explanation as labelled bars.
    nav(browser, "search")
    find(browser, "#search input[name=query]").send_keys("what does she drink in the morning")
    find(browser, "#search input[name=user]").send_keys("alice")
    find(browser, "#search button").click()
    wait(browser, lambda d: len(d.find_elements(By.CSS_SELECTOR, "#hits li.hit")) > 0, "hits")
    first = browser.find_elements(By.CSS_SELECTOR, "#hits li.hit")[0]
    assert first.find_element(By.CSS_SELECTOR, "a.content").text == "Alice drinks green tea every morning"
    labels = [e.text for e in first.find_elements(By.CSS_SELECTOR, ".bar-label")]
    assert labels[:2] == ["similarity", "keyword"] and "recency" in labels and labels[-1] == "total"
    meters = first.find_elements(By.CSS_SELECTOR, "meter")
    assert all(0 <= float(m.get_attribute("value") or -1) for m in meters) and len(meters) >= 5
    assert "vector rank 1" in first.text
    shot(browser, artifacts, "04-search")

    # Jobs and stats.
    nav(browser, "jobs")
    assert "outbox" in texts(browser, "#job-counts tbody td:first-child")
    assert "vector outbox: 0 pending · 0 failed" in find(browser, "#outbox").text
    shot(browser, artifacts, "06-jobs")
    nav(browser, "stats")
    counts = dict(zip(texts(browser, "#store-stats tbody td:first-child"), texts(browser, "#store-stats tbody td:last-child")))
    assert counts["memories"] == "30" and counts["users"] == "2"
    shot(browser, artifacts, "07-stats")

    # Delete a memory, then forget bob: alice's messages in the shared session stay.
    go(browser, f"#/memory/{server.ids['porto']}", "memory")
    confirm(browser, "Delete memory", "delete")
    view(browser, "user")
    assert server.call("GET", "/v1/memories?user_id=alice&limit=100")["items"]
    assert all(m["id"] != server.ids["porto"] for m in server.call("GET", "/v1/memories?user_id=alice&limit=100")["items"])
    go(browser, "#/user/bob", "user")
    confirm(browser, "Forget bob", "wrong")
    assert "type bob to confirm" in find(browser, "#status").text
    find(browser, 'form[data-confirm="Forget bob"] input').clear()
    confirm(browser, "Forget bob", "bob")
    view(browser, "users")
    wait(browser, lambda d: texts(d, "#users tbody td:first-child") == ["alice"], "bob gone")
    assert "forgot bob" in find(browser, "#status").text
    left = server.call("GET", "/v1/sessions/stream-1/transcript")["items"]
    assert [m["content"] for m in left if m.get("user_id") == "alice"] == [
        "Morning! Any tips for a rainy long run?",
        "Thanks, I'll wear a cap",
    ]
    shot(browser, artifacts, "08-forgotten")


def test_another_tenant_sees_nothing_of_the_first(browser: WebDriver, server: Server, artifacts: Path) -> None:
    login(browser, server, KEY_B)
    wait(browser, lambda d: texts(d, "#users tbody td:first-child") in (["carol"], ["Nothing here."]), "beta's users")
    assert "alice" not in find(browser, "#users").text
    go(browser, "#/search", "search")
    find(browser, "#search input[name=query]").send_keys("tea")
    find(browser, "#search button").click()
    wait(browser, lambda d: len(d.find_elements(By.CSS_SELECTOR, "#hits li")) > 0, "results")
    assert texts(browser, "#hits a.content") == ["Carol of tenant beta likes tea"]
    go(browser, "#/stats", "stats")
    counts = dict(zip(texts(browser, "#store-stats tbody td:first-child"), texts(browser, "#store-stats tbody td:last-child")))
    assert counts["memories"] == "1"
    browser.execute_script("location.hash = arguments[0]", f"#/memory/{server.ids['tea']}")
    status = wait(browser, lambda d: d.find_element(By.ID, "status").text, "an error")
    assert "not_found" in status
    assert "green tea" not in browser.find_element(By.ID, "view").text
    shot(browser, artifacts, "09-other-tenant")
    find(browser, "#logout").click()
    view(browser, "login")
    assert browser.execute_script("return sessionStorage.length") == 0


def test_a_phone_width_screen(browser: WebDriver, server: Server, artifacts: Path) -> None:
    browser.set_window_size(390, 844)
    login(browser, server, KEY_A)
    assert fits(browser)
    shot(browser, artifacts, "10-phone-users")
    go(browser, f"#/memory/{server.ids['marathon']}", "memory")
    assert fits(browser)
    shot(browser, artifacts, "11-phone-memory")
    go(browser, "#/search", "search")
    find(browser, "#search input[name=query]").send_keys("running")
    find(browser, "#search button").click()
    wait(browser, lambda d: len(d.find_elements(By.CSS_SELECTOR, "#hits li.hit")) > 0, "hits")
    assert fits(browser)
    shot(browser, artifacts, "12-phone-search")
