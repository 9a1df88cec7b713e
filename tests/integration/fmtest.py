"""Helpers for feedmill's integration tests: a loopback HTTP server and the feedmill binary."""

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
FEEDMILL = os.environ.get("FEEDMILL_BIN") or os.path.join(os.getcwd(), "feedmill")


class Server:
    """tests/integration/httpd.py on 127.0.0.1, serving root."""

    def __init__(self, root, workdir):
        self.port_file = os.path.join(workdir, "httpd.port")
        self.log = os.path.join(workdir, "httpd.log")
        self.proc = subprocess.Popen(
            [sys.executable, os.path.join(HERE, "httpd.py"), "--root", root, "--port", "0",
             "--port-file", self.port_file, "--log", self.log, "--max-seconds", "300"])
        deadline = time.time() + 20
        while not (os.path.exists(self.port_file) and os.path.getsize(self.port_file)):
            if time.time() > deadline or self.proc.poll() is not None:
                raise RuntimeError("httpd.py did not start")
            time.sleep(0.02)
        with open(self.port_file) as fh:
            self.port = int(fh.read().strip())

    def url(self, path):
        return "http://127.0.0.1:%d/%s" % (self.port, path.lstrip("/"))

    def requests(self):
        if not os.path.exists(self.log):
            return []
        with open(self.log) as fh:
            return [line.split() for line in fh if line.strip()]

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def rss(items, title="Fixture news"):
    """An RSS 2.0 document from (guid, title, paragraph) tuples."""
    parts = ['<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0"><channel>',
             "<title>%s</title><link>http://news.test/</link>" % title]
    for guid, t, body in items:
        parts.append("<item><guid>%s</guid><title>%s</title><link>http://news.test/%s</link>"
                     "<description>&lt;p&gt;%s&lt;/p&gt;</description>"
                     "<pubDate>Mon, 02 Nov 2026 09:00:00 GMT</pubDate></item>"
                     % (guid, t, guid, body))
    parts.append("</channel></rss>\n")
    return "".join(parts)


# Distinct invented paragraphs, so that dedupe keeps every item apart.
WORDS = ("harbour council ferry timetable orchard festival bridge library tram depot museum "
         "archive glacier vineyard lighthouse quarry meadow workshop observatory bakery canal "
         "granary foundry pottery windmill brewery marina greenhouse aviary theatre").split()


def paragraph(i):
    w = WORDS
    n = len(w)
    return ("Item %d: the %s near the %s announced that the %s will open %d new rooms for the %s "
            "season, while volunteers from the %s repaired the %s and counted %d visitors." %
            (i, w[i % n], w[(i * 7 + 3) % n], w[(i * 11 + 5) % n], i % 17 + 2,
             w[(i * 13 + 1) % n], w[(i * 5 + 2) % n], w[(i * 3 + 4) % n], i * 37 % 1000))


class Case(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="fm-it-")
        self.site = os.path.join(self.dir, "site")
        os.mkdir(self.site)
        self.server = Server(self.site, self.dir)

    def tearDown(self):
        self.server.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    def write_site(self, name, text):
        path = os.path.join(self.site, name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w", encoding="utf-8") as fh:
            fh.write(text)
        return path

    def config(self, sources, extra_stage="", name="pipeline.conf", out="out", state="state"):
        lines = ["state_dir = %s" % state, "log_level = info"]
        for sname, url in sources:
            lines += ["[source %s]" % sname, "url = %s" % url]
        lines += ["[stage fetch]", "plugin = fetch_http", "workers = 2", "timeout = 60s",
                  "[stage clean]", "plugin = clean_readable", extra_stage,
                  "[stage dedupe]", "plugin = dedupe_similar",
                  "[output jsonl]", "plugin = publish_jsonl", "path = %s/articles.jsonl" % out,
                  "[output atom]", "plugin = publish_atom", "path = %s/feed.atom" % out]
        path = os.path.join(self.dir, name)
        with open(path, "w") as fh:
            fh.write("\n".join(lines) + "\n")
        return path

    def run_feedmill(self, *args, timeout=120, check=True):
        p = subprocess.run([FEEDMILL] + list(args), cwd=self.dir, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True, timeout=timeout)
        if check and p.returncode != 0:
            self.fail("feedmill %s exited %d\nstdout:\n%s\nstderr:\n%s"
                      % (" ".join(args), p.returncode, p.stdout, p.stderr))
        return p

    def published(self, out="out"):
        path = os.path.join(self.dir, out, "articles.jsonl")
        if not os.path.exists(path):
            return []
        with open(path) as fh:
            return [json.loads(line) for line in fh if line.strip()]
