"""A generated section of a Markdown page, between <!-- begin scripts/NAME --> and
<!-- end scripts/NAME --> markers, so that several scripts can each own a part of one page
(scripts/results.sh keeps the sections of the others when it rewrites docs/results.md)."""
import pathlib


def markers(script):
    return "<!-- begin scripts/%s -->" % script, "<!-- end scripts/%s -->" % script


def write_section(page, script, lines):
    """Replaces `script`'s section of `page` by `lines` (appends it if the page has none)."""
    begin, end = markers(script)
    page = pathlib.Path(page)
    text = page.read_text()
    body = "\n".join([begin] + lines + [end])
    if begin in text:
        head, rest = text.split(begin, 1)
        text = head + body + rest.split(end, 1)[1]
    else:
        text = text.rstrip("\n") + "\n\n" + body + "\n"
    page.write_text(text)
