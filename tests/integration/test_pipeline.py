#!/usr/bin/env python3
"""feedmill end to end: the binary against a loopback HTTP server serving fixture feeds."""

import json
import os
import signal
import sqlite3
import subprocess
import time
import unittest

from fmtest import FEEDMILL, Case, paragraph, rss


def strip_volatile(docs):
    """Documents without the fields that differ between two runs by nature."""
    out = []
    for d in docs:
        d = dict(d)
        d.pop("fetched_at", None)
        out.append(json.dumps(d, sort_keys=True))
    return sorted(out)


class Pipeline(Case):
    def feed(self, n, name="feed.xml", start=0):
        items = [("g%d" % i, "Story number %d" % i, paragraph(i)) for i in range(start, start + n)]
        self.write_site(name, rss(items))

    def test_once_publishes_every_item(self):
        self.feed(12)
        conf = self.config([("news", self.server.url("feed.xml"))])
        p = self.run_feedmill("run", "--once", "-c", conf)
        docs = self.published()
        self.assertEqual(sorted(d["id"] for d in docs), sorted("g%d" % i for i in range(12)))
        for d in docs:
            self.assertEqual(d["source"], "news")
            self.assertTrue(d["text"].startswith("Item "), d)
        self.assertIn("1 polled", p.stdout)
        self.assertIn("articles.jsonl", p.stdout)
        with open(os.path.join(self.dir, "out", "feed.atom")) as fh:
            self.assertEqual(fh.read().count("<entry"), 12)

    def test_threads_and_processes_give_identical_output(self):
        self.feed(20)
        url = self.server.url("feed.xml")
        a = self.config([("news", url)], name="a.conf", out="out-a", state="state-a")
        b = self.config([("news", url)], name="b.conf", out="out-b", state="state-b",
                        extra_stage="run_as = process\nworkers = 2")
        self.run_feedmill("run", "--once", "-c", a)
        pb = self.run_feedmill("run", "--once", "-c", b)
        self.assertIn("started worker 1 as process", pb.stderr)
        da, db = self.published("out-a"), self.published("out-b")
        self.assertEqual(len(da), 20)
        self.assertEqual(strip_volatile(da), strip_volatile(db))

    def test_second_once_run_publishes_nothing_new_and_304_is_not_parsed(self):
        self.feed(8)
        conf = self.config([("news", self.server.url("feed.xml"))])
        self.run_feedmill("run", "--once", "-c", conf)
        first = self.published()
        p = self.run_feedmill("run", "--once", "-c", conf)
        self.assertEqual(self.published(), first)
        statuses = [r[2] for r in self.server.requests() if r[1] == "/feed.xml"]
        self.assertEqual(statuses, ["200", "304"])
        # Nothing was parsed the second time: the fetch stage emitted no document.
        self.assertIn("1 not modified", p.stdout)
        self.assertRegex(p.stdout, r"fetch +1 in, 0 out")

    def state_row(self, source, columns):
        db = sqlite3.connect("file:%s?mode=ro" % os.path.join(self.dir, "state", "feedmill.db"),
                             uri=True)
        try:
            return db.execute("SELECT %s FROM sources WHERE name = ?" % columns,
                              (source,)).fetchone()
        finally:
            db.close()

    def test_a_page_source_polls_its_feed_directly_and_conditionally(self):
        """A page linking its feed: the first poll reads the page, then the feed; the next ones
        ask for the feed alone, with its validators, and get a 304. When the feed moves, the
        page is read again in the same run, and the new feed is polled from then on."""
        self.feed(4, name="news.rss")
        page = ('<html><head><title>Fixture town</title><link rel="alternate" '
                'type="application/rss+xml" href="%s"></head><body><p>Welcome.</p></body></html>')
        self.write_site("index.html", page % "news.rss")
        conf = self.config([("town", self.server.url("index.html"))])
        p = self.run_feedmill("run", "--once", "-c", conf)
        self.assertEqual(len(self.published()), 4)
        self.assertRegex(p.stderr, r"source town: next poll in \S+ \(configured interval\)")
        p = self.run_feedmill("run", "--once", "-c", conf)
        reqs = [(r[1], r[2]) for r in self.server.requests()]
        self.assertEqual(reqs, [("/index.html", "200"), ("/news.rss", "200"),
                                ("/news.rss", "304")])
        self.assertIn("1 not modified", p.stdout)
        url, feed_url, reason = self.state_row("town", "url, feed_url, reason")
        self.assertEqual(url, self.server.url("index.html"))  # still the source's identity
        self.assertEqual(feed_url, self.server.url("news.rss"))
        self.assertTrue(reason)

        # the feed moves: its old URL is gone, the page says where it went
        time.sleep(1.1)
        self.feed(6, name="news-v2.rss")
        os.remove(os.path.join(self.site, "news.rss"))
        self.write_site("index.html", page % "news-v2.rss")
        p = self.run_feedmill("run", "--once", "-c", conf)
        self.assertEqual([(r[1], r[2]) for r in self.server.requests()][3:],
                         [("/news.rss", "404"), ("/index.html", "200"), ("/news-v2.rss", "200")])
        self.assertIn("looking for the feed on", p.stderr)
        docs = self.published()
        self.assertEqual(sorted(d["id"] for d in docs), sorted("g%d" % i for i in range(6)))
        self.assertEqual({d["source"] for d in docs}, {"town"})
        self.run_feedmill("run", "--once", "-c", conf)
        self.assertEqual(self.server.requests()[-1][1:], ["/news-v2.rss", "304"])

    def test_the_next_poll_follows_what_the_server_says(self):
        """Cache-Control: max-age=7200 on the feed: the next poll is not before two hours,
        whatever the configured interval, and the log and the state say why."""
        self.feed(3)
        conf = self.config([("news", self.server.url("cache/max-age%3D7200/feed.xml"))])
        p = self.run_feedmill("run", "--once", "-c", conf)
        self.assertRegex(p.stderr, r"source news: next poll in (1h59m|2h)\S* "
                                   r"\(max-age (1h59m\S*|2h)\)")
        success, due, interval, reason = self.state_row(
            "news", "last_success, next_due, interval, reason")
        self.assertGreaterEqual(due - success, 7190 * 1000)
        self.assertGreaterEqual(interval, 7190 * 1000)
        self.assertTrue(reason.startswith("max-age "), reason)

    def test_changed_feed_with_old_items_publishes_only_new_ones(self):
        self.feed(5)
        conf = self.config([("news", self.server.url("feed.xml"))])
        self.run_feedmill("run", "--once", "-c", conf)
        time.sleep(1.1)  # a new mtime, so the server answers 200 again
        self.feed(7)
        self.run_feedmill("run", "--once", "-c", conf)
        ids = [d["id"] for d in self.published()]
        self.assertEqual(sorted(ids), sorted("g%d" % i for i in range(7)))

    def test_a_corrected_item_is_published_again_once(self):
        """An item whose text or title changes under the same GUID is published again, as a
        revision: a second JSON Lines line with "revision": 2, its Atom entry updated. What a
        reader does not see (markup, whitespace, a relative time, a tracking parameter) is
        not a change."""
        body = [paragraph(i) for i in range(3)]

        def publish(items, link_query=""):
            time.sleep(1.1)  # a new mtime: the server answers 200 again
            xml = rss(items).replace("</link><description>", link_query + "</link><description>")
            self.write_site("feed.xml", xml)
            self.run_feedmill("run", "--once", "-c", conf)

        conf = self.config([("news", self.server.url("feed.xml"))])
        publish([("g%d" % i, "Story %d" % i, body[i]) for i in range(3)])
        self.assertEqual(len(self.published()), 3)
        # markup, spacing, a relative time, a tracking parameter: nothing new
        for minutes in (5, 9):
            publish([("g0", "Story  0", "&lt;b&gt;%s&lt;/b&gt; %d minutes ago" % (body[0], minutes)),
                     ("g1", "Story 1", body[1].replace(" ", "  ")),
                     ("g2", "Story 2", body[2])], link_query="?utm_source=rss")
            self.assertEqual(len(self.published()), 3)
        # a correction of g1's text and a new title for g2: each once more, as revision 2
        publish([("g0", "Story  0", "&lt;b&gt;%s&lt;/b&gt; 9 minutes ago" % body[0]),
                 ("g1", "Story 1", body[1].replace("Item 1", "Item one")),
                 ("g2", "Story 2, with a new headline", body[2])])
        publish([("g0", "Story  0", "&lt;b&gt;%s&lt;/b&gt; 9 minutes ago" % body[0]),
                 ("g1", "Story 1", body[1].replace("Item 1", "Item one")),
                 ("g2", "Story 2, with a new headline", body[2])])
        docs = self.published()
        self.assertEqual(len(docs), 5)
        revised = {d["id"]: d for d in docs[3:]}
        self.assertEqual(sorted(revised), ["g1", "g2"])
        for d in revised.values():
            self.assertEqual(d["revision"], 2)
            self.assertIn("updated", d)
        self.assertIn("Item one", revised["g1"]["text"])
        with open(os.path.join(self.dir, "out", "feed.atom")) as fh:
            atom = fh.read()
        self.assertIn("Story 2, with a new headline", atom)
        self.assertEqual(atom.count("<entry"), 3)

    def test_bad_sources_do_not_stop_the_good_one(self):
        self.feed(3)
        self.write_site("broken.xml", "<rss><channel><item><title>unclosed")
        self.write_site("page.bin", "\x00\x01binary")
        conf = self.config([
            ("good", self.server.url("feed.xml")),
            ("refused", "http://127.0.0.1:1/feed.xml"),
            ("missing", self.server.url("status/404/none.xml")),
            ("slow", self.server.url("slow/30/feed.xml")),
        ])
        with open(conf, "a") as fh:
            fh.write("")
        p = self.run_feedmill("run", "--once", "-c", conf, "--set", "fetch.http_timeout=2s", "--set", "fetch.low_speed_time=2s")
        self.assertEqual(sorted(d["id"] for d in self.published()), ["g0", "g1", "g2"])
        self.assertIn("3 failed", p.stdout)
        self.assertIn("source refused", p.stderr)
        self.assertIn("source missing", p.stderr)
        self.assertIn("source slow", p.stderr)

    def test_killed_stage_process_is_restarted_and_nothing_is_lost(self):
        self.feed(300)
        conf = self.config([("news", self.server.url("slow/1/feed.xml"))],
                           extra_stage="run_as = process")
        proc = subprocess.Popen([FEEDMILL, "run", "--once", "-c", conf], cwd=self.dir,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        victim = None
        deadline = time.time() + 20
        while victim is None and time.time() < deadline:
            for pid in os.listdir("/proc"):
                if not pid.isdigit():
                    continue
                try:
                    with open("/proc/%s/cmdline" % pid, "rb") as fh:
                        argv = fh.read().split(b"\0")
                    with open("/proc/%s/stat" % pid) as fh:
                        ppid = int(fh.read().rsplit(")", 1)[1].split()[1])
                except OSError:
                    continue
                if ppid == proc.pid and b"stage" in argv and b"clean" in argv:
                    victim = int(pid)
            time.sleep(0.05)
        self.assertIsNotNone(victim, "the clean stage's process never appeared")
        os.kill(victim, signal.SIGKILL)
        out, err = proc.communicate(timeout=120)
        self.assertEqual(proc.returncode, 0, err)
        self.assertIn("was killed by signal 9", err)
        self.assertEqual(len(self.published()), 300)

    def test_sigterm_drains_and_exits_zero(self):
        self.feed(50)
        conf = self.config([("news", self.server.url("feed.xml"))])
        proc = subprocess.Popen([FEEDMILL, "run", "-c", conf], cwd=self.dir,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        deadline = time.time() + 30
        while len(self.published()) < 50 and time.time() < deadline:
            time.sleep(0.1)
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=60)
        self.assertEqual(proc.returncode, 0, err)
        self.assertIn("stopping", err)
        self.assertEqual(len(self.published()), 50)
        # State survived: the next run asks conditionally and gets a 304.
        self.run_feedmill("run", "--once", "-c", conf)
        self.assertEqual(self.server.requests()[-1][2], "304")

    def run_service(self, conf):
        # --once polls every source at once (a service spreads its first polls over seconds)
        return subprocess.Popen([FEEDMILL, "run", "--once", "-c", conf], cwd=self.dir,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def wait_for_request(self, path_part, timeout=20):
        """Until a request for path_part is being answered (the server's log has a line per
        answer started; a /slow/ answer starts after its sleep, so look for the connection
        instead: established on the server's port)."""
        port = "%04X" % self.server.port
        deadline = time.time() + timeout
        while time.time() < deadline:
            with open("/proc/net/tcp") as fh:
                for line in fh.readlines()[1:]:
                    f = line.split()
                    if f[1].endswith(":" + port) and f[3] == "01":  # ESTABLISHED
                        time.sleep(0.3)  # the request goes out on it
                        return True
            time.sleep(0.05)
        return False

    def slow_config(self, name, sources, mode, state, out):
        proc = "run_as = process" if mode == "process" else ""
        lines = ["state_dir = %s" % state, "log_level = info"]
        for sname, url in sources:
            lines += ["[source %s]" % sname, "url = %s" % url]
        lines += ["[stage fetch]", "plugin = fetch_http", "workers = 2", "timeout = 90s",
                  "http_timeout = 60s", proc,
                  "[stage clean]", "plugin = clean_readable", proc,
                  "[stage dedupe]", "plugin = dedupe_similar", proc,
                  "[output jsonl]", "plugin = publish_jsonl", "path = %s/articles.jsonl" % out]
        path = os.path.join(self.dir, name)
        with open(path, "w") as fh:
            fh.write("\n".join(lines) + "\n")
        return path

    def test_sigterm_cuts_slow_fetches_short_and_commits_nothing_of_them(self):
        """A stop does not wait for slow sources (each fetch could take http_timeout): their
        transfers are cut at once, feedmill exits 0 within seconds, and the next start polls
        them again (nothing of them was committed)."""
        self.feed(5)
        for mode in ("thread", "process"):
            conf = self.slow_config("slow-%s.conf" % mode,
                                    [("slow%d" % i, self.server.url("slow/40/feed.xml?n=%d" % i))
                                     for i in range(2)], mode, "state-" + mode, "out-" + mode)
            proc = self.run_service(conf)
            if not self.wait_for_request("/slow/40/"):
                proc.kill()
                self.fail("no fetch started: %s" % proc.communicate()[1])
            started = time.time()
            proc.send_signal(signal.SIGTERM)
            out, err = proc.communicate(timeout=30)
            self.assertEqual(proc.returncode, 0, err)
            self.assertLess(time.time() - started, 8, "the stop waited for the slow fetches")
            self.assertIn("fetches in progress cancelled", err)
            # nothing of those fetches was committed: the next start polls both at once,
            # without validators (the scheduler's unit test shows what it does with that)
            import sqlite3
            db = sqlite3.connect(os.path.join(self.dir, "state-" + mode, "feedmill.db"))
            rows = db.execute("SELECT name, etag, last_success FROM sources").fetchall()
            db.close()
            self.assertEqual([r for r in rows if r[1] or r[2]], [], mode)

    def test_second_sigterm_exits_at_once_and_usr_signals_do_not_kill(self):
        """A drain that cannot end (its clean worker is frozen) is left at a second SIGTERM,
        at once; USR1, USR2 and HUP end nothing."""
        self.feed(5)
        conf = self.slow_config("freeze.conf", [("news", self.server.url("feed.xml"))],
                                "process", "state", "out")
        proc = self.run_service(conf)
        frozen = None
        deadline = time.time() + 20
        while frozen is None and time.time() < deadline:
            for stat in os.listdir("/proc"):
                if stat.isdigit():
                    try:
                        with open("/proc/%s/stat" % stat) as fh:
                            ppid = int(fh.read().rsplit(")", 1)[1].split()[1])
                        with open("/proc/%s/cmdline" % stat, "rb") as fh:
                            args = fh.read().split(b"\0")
                    except (OSError, ValueError, IndexError):
                        continue
                    # this run's own clean worker (other tests may run feedmill beside us)
                    if ppid == proc.pid and args[:3] == [b"feedmill", b"stage", b"clean"]:
                        frozen = int(stat)
                        os.kill(frozen, signal.SIGSTOP)
            time.sleep(0.01)
        self.assertIsNotNone(frozen, "no clean process")
        try:
            for sig in (signal.SIGUSR1, signal.SIGUSR2, signal.SIGHUP):
                proc.send_signal(sig)
            time.sleep(1.5)  # the fetch answers; its items wait for the frozen clean
            self.assertIsNone(proc.poll(), "a USR1, USR2 or HUP signal ended feedmill")
            proc.send_signal(signal.SIGTERM)
            time.sleep(0.5)
            self.assertIsNone(proc.poll(), "the drain did not wait for the documents")
            started = time.time()
            proc.send_signal(signal.SIGTERM)
            rc = proc.wait(timeout=10)  # (the frozen child keeps stderr open)
            self.assertLess(time.time() - started, 3)
            os.kill(frozen, signal.SIGKILL)
            err = proc.communicate(timeout=10)[1]
            self.assertEqual(rc, 1, err)
            self.assertIn("second stop request", err)
        finally:
            try:
                os.kill(frozen, signal.SIGKILL)
            except ProcessLookupError:
                pass

    def test_one_feedmill_per_state_folder(self):
        self.feed(5)
        conf = self.config([("news", self.server.url("slow/20/feed.xml"))])
        first = self.run_service(conf)
        self.assertTrue(self.wait_for_request("/slow/20/"), "no fetch started")
        second = self.run_feedmill("run", "-c", conf, check=False, timeout=30)
        self.assertEqual(second.returncode, 1)
        self.assertIn("another feedmill is running with this state folder", second.stderr)
        first.send_signal(signal.SIGTERM)
        first.communicate(timeout=30)

    def test_remote_stage_started_by_hand(self):
        """run_as = remote: the core listens; `feedmill stage clean` connects over tcp."""
        import random
        import socket
        self.feed(15)

        def free_pair():
            # Below the kernel's ephemeral range, so no outgoing connection takes it meanwhile.
            while True:
                port = random.randrange(20000, 30000)
                socks = [socket.socket(), socket.socket()]
                try:
                    for k, sk in enumerate(socks):
                        sk.bind(("127.0.0.1", port + k))
                    return port
                except OSError:
                    continue
                finally:
                    for sk in socks:
                        sk.close()

        for attempt in range(3):
            port = free_pair()
            conf = self.config([("news", self.server.url("feed.xml"))], extra_stage=(
                "run_as = remote\nbind = tcp://127.0.0.1:%d\nconnect = tcp://127.0.0.1:%d"
                % (port, port)))
            worker = subprocess.Popen([FEEDMILL, "stage", "clean", "-c", conf], cwd=self.dir,
                                      stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            try:
                p = self.run_feedmill("run", "--once", "-c", conf, timeout=120, check=False)
            finally:
                worker.terminate()
                out, err = worker.communicate(timeout=30)
            if "Address already in use" not in p.stderr:
                break
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(worker.returncode, 0, err)
        self.assertIn("stage clean is remote", p.stderr)
        self.assertEqual(len(self.published()), 15)
        self.assertRegex(p.stdout, r"clean +15 in, 15 out")

    def test_service_notifications(self):
        """Type=notify: READY=1 once running, WATCHDOG=1 when asked, STOPPING=1 on SIGTERM."""
        import socket
        self.feed(3)
        conf = self.config([("news", self.server.url("feed.xml"))])
        path = os.path.join(self.dir, "notify.sock")
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        sock.bind(path)
        sock.settimeout(30)
        env = dict(os.environ, NOTIFY_SOCKET=path, WATCHDOG_USEC="400000")
        proc = subprocess.Popen([FEEDMILL, "run", "-c", conf], cwd=self.dir, env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        got = []
        try:
            while "WATCHDOG=1" not in got:
                got.append(sock.recv(4096).decode())
            self.assertEqual(got[0], "READY=1")
            proc.send_signal(signal.SIGTERM)
            while "STOPPING=1" not in got:
                got.append(sock.recv(4096).decode())
        finally:
            out, err = proc.communicate(timeout=60)
            sock.close()
        self.assertEqual(proc.returncode, 0, err)


class Fetch(Case):
    """The fetch stage alone, fed fetch requests through `feedmill pipe fetch`."""

    def fetch(self, url, **options):
        req = {"type": "fetch", "source": "s", "url": url, "source_options": options}
        p = subprocess.run([FEEDMILL, "pipe", "fetch"], input=json.dumps(req) + "\n",
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                           cwd=self.dir, timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr)
        return [json.loads(l) for l in p.stdout.splitlines()], p.stderr

    def test_links_from_content_do_not_reach_private_addresses(self):
        """A feed on 127.0.0.1 whose item links to another host name that resolves to a
        loopback address: the page is not fetched unless allow_private_links is set."""
        self.write_site("page.html", "<html><body><article><p>%s</p></article></body></html>"
                        % paragraph(3))
        other = "http://localhost:%d/page.html" % self.server.port
        self.write_site("feed.xml", rss([("g1", "Linked", "short")]).replace(
            "http://news.test/g1", other))
        docs, err = self.fetch(self.server.url("feed.xml"), full_article=True,
                               full_article_delay=0)
        self.assertEqual(len(docs), 1)
        self.assertNotIn("page_html", docs[0])
        self.assertIn("not a public address", err)
        self.assertNotIn("/page.html", [r[1] for r in self.server.requests()])
        docs, err = self.fetch(self.server.url("feed.xml"), full_article=True,
                               full_article_delay=0, allow_private_links=True)
        self.assertIn("page_html", docs[0])


class Pipe(Case):
    def test_pipe_marks_a_republished_copy(self):
        body = " ".join(paragraph(i) for i in range(6))
        docs = [
            {"id": "a", "url": "http://one.test/a", "source": "one", "title": "T", "text": body},
            {"id": "b", "url": "http://two.test/b?utm_source=x", "source": "two", "title": "T",
             "text": "Breaking from our desk.\n\n" + body + "\n\nSource link"},
            {"id": "c", "source": "three", "text": paragraph(40) + " " + paragraph(41)},
        ]
        stdin = "".join(json.dumps(d) + "\n" for d in docs) + "not json at all\n"
        p = subprocess.run([FEEDMILL, "pipe", "--set", "dedupe.mode=mark", "dedupe"],
                           input=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           text=True, cwd=self.dir, timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr)
        out = [json.loads(l) for l in p.stdout.splitlines()]
        self.assertEqual([d["id"] for d in out], ["a", "b", "c"])
        self.assertEqual(out[1].get("duplicate_of"), "a")
        self.assertNotIn("duplicate_of", out[2])
        self.assertIn("stdin#4", p.stderr)  # the bad line is named, nothing else is lost

    def test_pipe_stage_process_killed_mid_stream_loses_nothing(self):
        """Kill the stage's process mid-stream: whatever it held is delivered again to its
        replacement and every document comes out exactly once."""
        self.kill_stage_mid_stream("clean", [])

    def test_pipe_dedupe_process_killed_mid_stream_sees_no_document_twice(self):
        """The same with the stateful dedupe stage (mark mode: everything comes out): what the
        dead worker had passed, and its replacement is given again, is a replay of the same
        delivery, not a copy of itself (it came out marked duplicate_of itself, or was dropped
        in drop mode: 256 documents lost)."""
        self.kill_stage_mid_stream("dedupe", ["--set", "dedupe.mode=mark"])

    def kill_stage_mid_stream(self, stage, extra):
        n = 20000
        path = os.path.join(self.dir, "in.jsonl")
        with open(path, "w") as fh:
            for i in range(n):
                fh.write(json.dumps({"id": "d%d" % i, "source": "s",
                                     "content": "<p>%s</p>" % paragraph(i)}) + "\n")
        # Nothing reads our end of stdout until the kill, so the run cannot finish before it:
        # the output (megabytes) stalls in the pipe with documents in flight in the stage.
        with open(path) as stdin:
            proc = subprocess.Popen([FEEDMILL, "pipe", "--set", "%s.run_as=process" % stage]
                                    + extra + [stage],
                                    stdin=stdin, stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE, text=True, cwd=self.dir)
        victim = None
        deadline = time.time() + 20
        while victim is None and time.time() < deadline:
            for pid in os.listdir("/proc"):
                try:
                    with open("/proc/%s/stat" % pid) as fh:
                        ppid = int(fh.read().rsplit(")", 1)[1].split()[1])
                except (OSError, ValueError, IndexError):
                    continue
                if ppid == proc.pid:
                    victim = int(pid)
            time.sleep(0.01)
        self.assertIsNotNone(victim, "the stage's process never appeared")
        time.sleep(0.5)
        os.kill(victim, signal.SIGKILL)
        out, err = proc.communicate(timeout=120)
        self.assertEqual(proc.returncode, 0, err)
        self.assertIn("was killed by signal 9", err)
        docs = [json.loads(l) for l in out.splitlines()]
        ids = [d["id"] for d in docs]
        self.assertEqual(len(ids), n)
        self.assertEqual(set(ids), set("d%d" % i for i in range(n)))
        itself = [d["id"] for d in docs if d.get("duplicate_of") == d["id"]]
        self.assertEqual(itself, [], "marked a copy of themselves")

    def test_pipe_skips_an_overlong_line_and_nothing_else(self):
        conf = os.path.join(self.dir, "small.conf")
        with open(conf, "w") as fh:
            fh.write("max_doc_size = 64K\n[stage classify]\nplugin = classify_tags\n")
        stdin = "".join(json.dumps(d) + "\n" for d in (
            {"id": "a", "text": "first"}, {"id": "big", "text": "y" * 300000},
            {"id": "c", "text": "third"}))
        p = subprocess.run([FEEDMILL, "pipe", "-c", conf, "classify"], input=stdin, text=True,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=self.dir,
                           timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual([json.loads(l)["id"] for l in p.stdout.splitlines()], ["a", "c"])
        self.assertIn("input line 2 is longer than max_doc_size", p.stderr)

    def test_pipe_unknown_stage_is_a_config_error(self):
        p = subprocess.run([FEEDMILL, "pipe", "nosuchstage"], input="", text=True,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=self.dir)
        self.assertEqual(p.returncode, 3)
        self.assertIn("no plugin of kind 'nosuchstage'", p.stderr)


if __name__ == "__main__":
    unittest.main(verbosity=2)
