"""Kill feedmill at random moments and check that every item is published exactly once.

Used by tests/integration/test_chaos.py (a few trials, in the test suite) and bench/chaos.py
(many trials, a figure). A loopback HTTP server (httpd.py) serves a few hundred RSS feeds whose
items have unique GUIDs; between trials some feeds gain items. `feedmill run` runs as a service
(the shipped stage chain: fetch, clean, dedupe, classify; a JSON Lines output that rotates
often, and an Atom output), threads or processes, and is killed with SIGKILL:

  main       the main process alone (its stage processes are told to stop, as the kernel's
             parent-death signal does; they save their state and go)
  group      the whole process group at once (systemd's final SIGKILL)
  stage      one stage process (process mode), the core living on to restart it
  drain      SIGTERM, then SIGKILL while it drains
  none       let it run its time, then SIGTERM (a clean stop)

at a random moment within the trial's time, and started again. Rotation happens every few
commits (max_size is small), so kills land in and around rotations. At the end feedmill runs
to quiet: until every item is published, then SIGTERM. The check: every GUID exactly once in
the JSON Lines files (rotated ones too), at most once in the Atom feed, every line and the feed
parse, the state database opens.

Everything depends on one seed (Chaos(seed=...)): a failure names it, and the same seed makes
the same feeds and the same plan of kills (the timing of a kill inside the pipeline's work is
the machine's, so a rerun hits the same moments only approximately).
"""

import glob
import json
import os
import random
import signal
import sqlite3
import subprocess
import time
import xml.etree.ElementTree as ET

from fmtest import FEEDMILL, Server

SYLLABLES = ("ka to mi ra su ne lo vi da pe go hu ri sa tem bor lin mas pet ru don fel "
             "gar hol jen kas lum nor pal sev tor vak wen yor zil").split()


def word(rng):
    return "".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 4)))


def item_text(rng):
    """A paragraph of invented words: no two items share enough to look like copies."""
    return " ".join(word(rng) for _ in range(rng.randint(45, 70))) + "."


class Chaos:
    KINDS_THREAD = ("main", "group", "drain", "none")
    KINDS_PROCESS = ("main", "group", "stage", "stage", "drain", "none")

    def __init__(self, workdir, mode="thread", seed=None, feeds=120, initial=3, log=None):
        self.dir = workdir
        self.mode = mode
        self.seed = seed if seed is not None else random.randrange(1 << 30)
        self.rng = random.Random(self.seed)
        self.nfeeds = feeds
        self.items = {f: [] for f in range(feeds)}  # feed -> [(guid, title, text)]
        self.site = os.path.join(workdir, "site")
        self.out = os.path.join(workdir, "out")
        self.state = os.path.join(workdir, "state")
        self.logpath = log or os.path.join(workdir, "feedmill.log")
        os.makedirs(self.site, exist_ok=True)
        self.server = Server(self.site, workdir)
        self.next_item = 0
        for f in range(feeds):
            for _ in range(initial):
                self._add_item(f)
            self._write_feed(f)
        self.conf = self._write_config()
        self.proc = None
        self.history = []

    # ---- the site ----

    def _add_item(self, f):
        n = self.next_item
        self.next_item += 1
        guid = "chaos-%d-f%d-i%d" % (self.seed, f, n)
        title = " ".join(word(self.rng) for _ in range(5)).capitalize()
        self.items[f].append((guid, title, item_text(self.rng)))

    def _write_feed(self, f):
        parts = ['<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0"><channel>',
                 "<title>Feed %d</title><link>http://feeds.test/%d/</link>" % (f, f)]
        for guid, title, text in reversed(self.items[f]):
            parts.append("<item><guid isPermaLink=\"false\">%s</guid><title>%s</title>"
                         "<link>http://feeds.test/%d/%s</link>"
                         "<description>&lt;p&gt;%s&lt;/p&gt;</description></item>"
                         % (guid, title, f, guid, text))
        parts.append("</channel></rss>\n")
        tmp = os.path.join(self.site, ".f%d.tmp" % f)
        with open(tmp, "w", encoding="utf-8") as fh:
            fh.write("".join(parts))
        os.replace(tmp, os.path.join(self.site, "f%d.rss" % f))

    def grow(self):
        """A few feeds gain an item (the next polls see a change)."""
        for f in self.rng.sample(range(self.nfeeds), max(1, self.nfeeds // 6)):
            self._add_item(f)
            self._write_feed(f)

    def guids(self):
        return {g for its in self.items.values() for g, _, _ in its}

    def _write_config(self):
        proc = "run_as = process" if self.mode == "process" else ""
        lines = ["state_dir = %s" % self.state, "log_level = info", "default_interval = 1s",
                 "jitter = 0.2", "drain_timeout = 5s", "commit_interval = 300ms"]
        for f in range(self.nfeeds):
            lines += ["[source s%d]" % f, "url = %s" % self.server.url("f%d.rss" % f)]
        lines += ["[stage fetch]", "plugin = fetch_http", "workers = 2", "timeout = 20s",
                  "http_timeout = 10s", proc,
                  "[stage clean]", "plugin = clean_readable", "workers = 2", "timeout = 20s",
                  proc,
                  "[stage dedupe]", "plugin = dedupe_similar", "mode = drop", "timeout = 20s",
                  proc,
                  "[stage classify]", "plugin = classify_tags", "timeout = 20s", proc,
                  "[output jsonl]", "plugin = publish_jsonl",
                  "path = %s/articles.jsonl" % self.out, "max_size = 48K", "timeout = 20s",
                  proc,
                  "[output atom]", "plugin = publish_atom", "path = %s/feed.atom" % self.out,
                  "max_entries = 100", "timeout = 20s", proc]
        path = os.path.join(self.dir, "pipeline.conf")
        with open(path, "w") as fh:
            fh.write("\n".join(lines) + "\n")
        return path

    # ---- feedmill ----

    def start(self):
        self.logfh = open(self.logpath, "a")
        self.logfh.write("\n==== start (%s) ====\n" % time.strftime("%H:%M:%S"))
        self.logfh.flush()
        self.proc = subprocess.Popen([FEEDMILL, "run", "-c", self.conf], cwd=self.dir,
                                     stdout=self.logfh, stderr=self.logfh,
                                     start_new_session=True)

    def children(self):
        """The stage processes of the running core."""
        kids = []
        for stat in glob.glob("/proc/[0-9]*/stat"):
            try:
                with open(stat) as fh:
                    fields = fh.read().rsplit(")", 1)[1].split()
                if int(fields[1]) == self.proc.pid:
                    kids.append(int(stat.split("/")[2]))
            except (OSError, IndexError, ValueError):
                pass
        return kids

    def _reap(self, timeout):
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            return self.proc.wait(10)

    def _wait_group_gone(self, timeout=20):
        """Until no process of the old group lives (stage processes finishing)."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            try:
                os.killpg(self.proc.pid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.05)

    def stop(self, kind, after):
        time.sleep(after)
        if kind == "stage":
            kids = self.children()
            if kids:
                os.kill(self.rng.choice(kids), signal.SIGKILL)
            time.sleep(self.rng.uniform(0.2, 2.0))  # the core restarts it and goes on
            kind = self.rng.choice(("main", "group"))
        if kind == "main":
            os.kill(self.proc.pid, signal.SIGKILL)
        elif kind == "group":
            os.killpg(self.proc.pid, signal.SIGKILL)
        elif kind == "drain":
            os.kill(self.proc.pid, signal.SIGTERM)
            time.sleep(self.rng.uniform(0.0, 0.6))
            os.killpg(self.proc.pid, signal.SIGKILL)
        else:
            os.kill(self.proc.pid, signal.SIGTERM)
        rc = self._reap(60)
        if kind != "group":
            # a real supervisor kills what is left (systemd: KillMode=mixed), but not at once
            self._wait_group_gone()
        self.logfh.close()
        return rc

    def trial(self, max_seconds=3.0):
        kinds = self.KINDS_PROCESS if self.mode == "process" else self.KINDS_THREAD
        kind = self.rng.choice(kinds)
        after = self.rng.uniform(0.3, max_seconds)
        self.grow()
        self.start()
        rc = self.stop(kind, after)
        self.history.append((kind, round(after, 2), rc))
        return kind, rc

    def quiet(self, timeout=90):
        """Run until every item is published (or timeout), then stop cleanly. The exit
        status of that stop."""
        self.start()
        want = self.guids()
        deadline = time.time() + timeout
        while time.time() < deadline:
            got = {d.get("id") for d in self.jsonl_docs()[0]}
            if want <= got:
                break
            time.sleep(0.3)
        time.sleep(0.5)  # what is in flight to the Atom output
        os.kill(self.proc.pid, signal.SIGTERM)
        rc = self._reap(60)
        self._wait_group_gone()
        self.logfh.close()
        return rc

    # ---- the outputs ----

    def jsonl_docs(self):
        """Every document of every JSON Lines file, and how many lines were not whole JSON."""
        docs, corrupt = [], 0
        for path in glob.glob(os.path.join(self.out, "articles.jsonl*")):
            try:
                with open(path, encoding="utf-8") as fh:
                    data = fh.read()
            except OSError:
                continue
            lines = data.split("\n")
            if lines and lines[-1] == "":
                lines.pop()
            elif lines:
                corrupt += 1  # a last line without its newline
                lines.pop()
            for line in lines:
                try:
                    d = json.loads(line)
                    if not isinstance(d, dict):
                        raise ValueError
                    docs.append(d)
                except ValueError:
                    corrupt += 1
        return docs, corrupt

    def atom_ids(self):
        """Entry ids of the Atom feed; None when it does not parse."""
        path = os.path.join(self.out, "feed.atom")
        try:
            root = ET.parse(path).getroot()
        except (OSError, ET.ParseError):
            return None
        ns = "{http://www.w3.org/2005/Atom}"
        return [e.findtext(ns + "id") for e in root.findall(ns + "entry")]

    def verify(self):
        """{"lost": [...], "duplicated": [...], "corrupt": N, "atom_duplicated": [...], ...}"""
        want = self.guids()
        docs, corrupt = self.jsonl_docs()
        seen = {}
        for d in docs:
            seen[d.get("id")] = seen.get(d.get("id"), 0) + 1
        lost = sorted(g for g in want if g not in seen)
        dup = sorted(g for g, n in seen.items() if n > 1)
        atom = self.atom_ids()
        atom_dup = []
        if atom is None:
            corrupt += 1
        else:
            counts = {}
            for i in atom:
                counts[i] = counts.get(i, 0) + 1
            atom_dup = sorted(i for i, n in counts.items() if n > 1)
        state_ok = True
        try:
            db = sqlite3.connect("file:%s?mode=ro" % os.path.join(self.state, "feedmill.db"),
                                 uri=True)
            db.execute("SELECT count(*) FROM sources").fetchone()
            db.close()
        except sqlite3.Error:
            state_ok = False
            corrupt += 1
        return {"lost": lost, "duplicated": dup + atom_dup, "corrupt": corrupt,
                "atom_duplicated": atom_dup, "state_ok": state_ok, "items": len(want),
                "published": len(docs)}

    def close(self):
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)
        self.server.stop()

    def tail_log(self, n=60):
        try:
            with open(self.logpath) as fh:
                return "".join(fh.readlines()[-n:])
        except OSError:
            return ""
