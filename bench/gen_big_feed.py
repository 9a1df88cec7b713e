#!/usr/bin/env python3
"""Generate large feeds for measuring the feed parser's peak memory (python3, stdlib only).

    python3 bench/gen_big_feed.py tiny  OUT [--mb 10]   # tiny elements, few items
    python3 bench/gen_big_feed.py items OUT [--mb 54]   # RSS 2.0 items of about 6 KB each (all kept under the default max_items)

`tiny` is a channel whose body is mostly tiny extension elements (<x:t>1</x:t>), the case where
a whole-document tree costs the most per byte; it holds 50 ordinary items before and after them.
`items` is ordinary news items with escaped-HTML content and several fields each.

Measure with, e.g.:  /usr/bin/time -v build/feedmill parse OUT > /dev/null
(the "Maximum resident set size" line). The files are not committed: generate them.
"""
import argparse
import sys


def item(i, body):
    return ("<item><title>Item %d &amp; more</title><link>https://news.example/a/%d</link>"
            "<guid isPermaLink=\"false\">id-%d</guid>"
            "<pubDate>Mon, 04 Mar 2024 10:%02d:00 GMT</pubDate>"
            "<category>cat%d</category><author>ed%d@news.example (Editor %d)</author>"
            "<description>%s</description></item>\n" % (i, i, i, i % 60, i % 7, i % 5, i % 5,
                                                         body))


def para(i):
    return ("&lt;p&gt;Paragraph %d of the story, with &lt;b&gt;bold&lt;/b&gt; words and a "
            "&lt;a href=\"/rel/%d\"&gt;relative link&lt;/a&gt; that resolves.&lt;/p&gt;" % (i, i))


def tiny(out, target):
    head = ('<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0" '
            'xmlns:x="urn:example:tiny"><channel><title>tiny</title>'
            '<link>https://news.example/</link>\n')
    out.write(head)
    n = len(head)
    for i in range(50):
        s = item(i, para(i))
        out.write(s)
        n += len(s)
    chunk = "<x:t>1</x:t>" * 1000 + "\n"
    while n < target:
        out.write(chunk)
        n += len(chunk)
    for i in range(50, 100):
        out.write(item(i, para(i)))
    out.write("</channel></rss>\n")


def items(out, target):
    head = ('<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0"><channel>'
            '<title>items</title><link>https://news.example/</link>\n')
    out.write(head)
    n = len(head)
    i = 0
    while n < target:
        s = item(i, "".join(para(i * 10 + k) for k in range(36)))
        out.write(s)
        n += len(s)
        i += 1
    out.write("</channel></rss>\n")
    print("%d items" % i, file=sys.stderr)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("kind", choices=["tiny", "items"])
    ap.add_argument("out")
    ap.add_argument("--mb", type=float, default=None)
    a = ap.parse_args()
    mb = a.mb if a.mb is not None else (10 if a.kind == "tiny" else 54)
    with open(a.out, "w", encoding="utf-8") as out:
        (tiny if a.kind == "tiny" else items)(out, int(mb * 1e6))


if __name__ == "__main__":
    main()
