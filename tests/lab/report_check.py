#!/usr/bin/python3
"""Read an ecntrace HTML report for tests/lab/test_report.sh.

  report_check.py external FILE   every reference that would load something
                                  (src=, href=, url(), @import, <script>,
                                  <link>, <iframe>, ...); exit 1 if any
  report_check.py facts FILE      what the page draws, one fact a line:
      node TTL PATHS FAULT ADDR | SUBLABEL    (boxes of the path diagram)
      msg KIND TTL | WORDS                    (arrows of the timeline)
      capture LINE                            (lines of the tcpdump listing)
"""
import html.parser
import re
import sys

# Attributes that make a browser fetch something.
FETCH_ATTRS = {"src", "href", "action", "formaction", "poster", "data",
               "srcset", "background", "xlink:href", "ping", "manifest"}
FETCH_TAGS = {"script", "link", "iframe", "frame", "embed", "object", "img",
              "image", "use", "audio", "video", "source", "track", "base",
              "form", "foreignobject"}


class External(html.parser.HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.found = []
        self.in_style = False

    def handle_starttag(self, tag, attrs):
        if tag in FETCH_TAGS:
            self.found.append("<%s>" % tag)
        if tag == "style":
            self.in_style = True
        if tag == "meta":
            d = dict(attrs)
            if (d.get("http-equiv") or "").lower() == "refresh":
                self.found.append("<meta refresh>")
        for k, v in attrs:
            if k.lower() in FETCH_ATTRS:
                self.found.append("%s=%r" % (k, v))
            if k.lower() == "style" and v and re.search(r"url\(|@import", v, re.I):
                self.found.append("style=%r" % v)

    def handle_endtag(self, tag):
        if tag == "style":
            self.in_style = False

    def handle_data(self, data):
        if self.in_style and re.search(r"url\(|@import|@font-face", data, re.I):
            self.found.append("CSS: %s" % re.search(
                r"(url\(|@import|@font-face)[^;}]*", data, re.I).group(0))


class Facts(html.parser.HTMLParser):
    """Collects the text of each node group (<g class="node">), message
    group (<g class="msg">) and line of <pre class="capture">."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.stack = []            # open elements: (tag, record or None)
        self.record = None
        self.facts = []
        self.in_capture = False
        self.capture = ""

    def handle_starttag(self, tag, attrs):
        d = dict(attrs)
        cls = (d.get("class") or "").split()
        rec = None
        if tag == "g" and "node" in cls:
            rec = ["node", d.get("data-ttl", "?"), d.get("data-path", "?"),
                   d.get("data-fault", "0"), []]
        elif tag == "g" and "msg" in cls:
            rec = ["msg", d.get("data-kind", "?"), d.get("data-ttl", "?"), []]
        elif tag == "pre" and "capture" in cls:
            self.in_capture = True
        if rec is not None:
            self.record = rec
        self.stack.append((tag, rec))

    def handle_endtag(self, tag):
        while self.stack:
            t, rec = self.stack.pop()
            if rec is not None:
                self.flush(rec)
                self.record = None
            if t == "pre" and self.in_capture:
                self.in_capture = False
                for line in self.capture.splitlines():
                    if line.strip():
                        self.facts.append("capture " + line.strip())
            if t == tag:
                break

    def handle_data(self, data):
        if self.record is not None and data.strip():
            self.record[-1].append(data.strip())
        if self.in_capture:
            self.capture += data

    def flush(self, rec):
        texts = rec[-1]
        if rec[0] == "node":
            addr = texts[0] if texts else "?"
            rest = " / ".join(texts[1:])
            self.facts.append("node %s %s %s %s | %s" % (rec[1], rec[2], rec[3],
                                                        addr, rest))
        else:
            self.facts.append("msg %s %s | %s" % (rec[1], rec[2],
                                                  " ".join(texts)))


def main():
    if len(sys.argv) != 3 or sys.argv[1] not in ("external", "facts"):
        sys.stderr.write(__doc__)
        return 2
    with open(sys.argv[2], encoding="utf-8") as f:
        page = f.read()
    if sys.argv[1] == "external":
        p = External()
        p.feed(page)
        p.close()
        for x in p.found:
            print(x)
        return 1 if p.found else 0
    p = Facts()
    p.feed(page)
    p.close()
    for x in p.facts:
        print(x)
    return 0


if __name__ == "__main__":
    sys.exit(main())
