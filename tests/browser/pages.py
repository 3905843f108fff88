"""Checks every page should pass, run in the browser."""

from __future__ import annotations

from playwright.sync_api import Page

# Landmarks, one h1, a language, and a label for every control.
A11Y_PROBLEMS = """() => {
  const problems = [];
  if (!document.documentElement.lang) problems.push("html has no lang");
  const h1 = document.querySelectorAll("h1").length;
  if (h1 !== 1) problems.push(`${h1} h1 elements`);
  if (!document.querySelector("main")) problems.push("no main landmark");
  if (!document.title.trim()) problems.push("no title");
  for (const el of document.querySelectorAll("input:not([type=hidden]), select, textarea")) {
    const named = (el.labels && el.labels.length) || el.getAttribute("aria-label")
      || el.getAttribute("aria-labelledby");
    if (!named) problems.push(`unlabelled control ${el.name || el.id}`);
  }
  for (const el of document.querySelectorAll("a, button")) {
    if (!el.textContent.trim() && !el.getAttribute("aria-label")) {
      problems.push("empty link or button");
    }
  }
  return problems;
}"""


def accessibility_problems(page: Page) -> list[str]:
    problems: list[str] = page.evaluate(A11Y_PROBLEMS)
    return problems


def overflows_horizontally(page: Page) -> bool:
    wider: bool = page.evaluate(
        "document.documentElement.scrollWidth > document.documentElement.clientWidth + 1"
    )
    return wider
