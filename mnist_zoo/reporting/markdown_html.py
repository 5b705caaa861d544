"""The Markdown the model cards use (headings, paragraphs, lists, fenced code, `code` and **bold**) as
HTML, for the page's model sections: a few dozen lines instead of a dependency, because the cards
are ours and use nothing else."""

import html
import re


def inline_markdown(text: str) -> str:
    text = html.escape(text, quote=False)
    text = re.sub(r"`([^`]+)`", r"<code>\1</code>", text)
    return re.sub(r"\*\*([^*]+)\*\*", r"<strong>\1</strong>", text)


def markdown_html(text: str) -> str:
    """The Markdown the cards use (headings, paragraphs, lists, fenced code) as HTML."""
    out, paragraph, in_list, in_code = [], [], False, False

    def end_paragraph() -> None:
        if paragraph:
            out.append(f"<p>{inline_markdown(' '.join(paragraph))}</p>")
            paragraph.clear()

    def flush() -> None:
        nonlocal in_list
        end_paragraph()
        if in_list:
            out.append("</ul>")
            in_list = False

    for line in text.splitlines():
        if line.startswith("```"):
            flush()
            out.append("</code></pre>" if in_code else "<pre><code>")
            in_code = not in_code
        elif in_code:
            out.append(html.escape(line, quote=False))
        elif heading := re.match(r"(#{1,6}) (.*)", line):
            flush()
            level = len(heading.group(1)) + 2  # the page's own h1 and h2 sit above a card
            out.append(f"<h{min(level, 6)}>{inline_markdown(heading.group(2))}</h{min(level, 6)}>")
        elif line.startswith("- "):
            end_paragraph()
            if not in_list:
                out.append("<ul>")
                in_list = True
            out.append(f"<li>{inline_markdown(line[2:])}</li>")
        elif line.strip():
            paragraph.append(line.strip())
        else:
            flush()
    flush()
    return "\n".join(out)
