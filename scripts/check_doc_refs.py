#!/usr/bin/env python3
"""Fails, listing each offence, when a comment in src/ include/ tools/ tests/ bench/ scripts/
cites a file that is not in the repository (a `*.md` note, or a path under one of the
repository's top-level folders), or when any tracked file holds the absolute path of the
folder the checkout sits in (a developer's machine path).

Comments are the text after `//` in C++ files and after `#` in shell, CMake and Python files;
a Python file's docstrings are read whole, since they are its prose."""
import os
import re
import subprocess
import sys

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
SCANNED = ["src", "include", "tools", "tests", "bench", "scripts"]
TOP_FOLDERS = "src|include|tools|tests|bench|scripts|docs|configs"
# A note: a bare name ending in .md, or one under ../ or shared/ (the data beside the checkout).
# Other paths with a folder (out/summary.md) are files a command writes, not citations.
NOTE = re.compile(r"(?<![\w./<>-])((?:\.\./|shared/)[\w./-]*\.md|[\w-]+\.md)\b")
# A repository path: a top-level folder, then a file with an extension.
REPO_PATH = re.compile(r"(?<![\w./-])((?:" + TOP_FOLDERS + r")/[\w./-]*\.(?:cpp|h|py|sh|md|txt|json|grid))\b")


def tracked(*args):
    out = subprocess.run(["git", "-C", ROOT, "ls-files", *args], check=True,
                         capture_output=True, text=True).stdout
    return [line for line in out.splitlines() if line]


def comment_text(path, text):
    if path.endswith((".cpp", ".h")):
        marker = "//"
    elif path.endswith(".py"):
        return text
    else:
        marker = "#"
    return "\n".join(line.split(marker, 1)[1] for line in text.splitlines() if marker in line)


def cited_files(comments):
    for pattern in (NOTE, REPO_PATH):
        for match in pattern.finditer(comments):
            yield match.group(1).rstrip(".")


def broken_citations():
    files = set(tracked())
    for path in tracked(*SCANNED):
        with open(os.path.join(ROOT, path), encoding="utf-8", errors="replace") as f:
            comments = comment_text(path, f.read())
        for cited in sorted(set(cited_files(comments))):
            if os.path.normpath(cited) not in files:
                yield f"{path}: cites {cited}, which is not a file of the repository"


def machine_paths():
    parent = os.path.dirname(ROOT)
    if parent in ("", "/"):
        return
    out = subprocess.run(["git", "-C", ROOT, "grep", "-n", "-F", parent + "/"],
                         capture_output=True, text=True).stdout
    for line in out.splitlines():
        yield f"{line.split(':', 2)[0]}:{line.split(':', 2)[1]}: holds the machine path {parent}/"


def main():
    problems = list(broken_citations()) + list(machine_paths())
    if problems:
        print(f"check_doc_refs: {len(problems)} problem(s):", file=sys.stderr)
        for p in problems:
            print("  " + p, file=sys.stderr)
        return 1
    print("check_doc_refs: every cited file exists; no machine path")
    return 0


if __name__ == "__main__":
    sys.exit(main())
