#!/usr/bin/env python3
"""A loopback HTTP server for feedmill's tests, able to misbehave on purpose.

Python 3 standard library only. Listens on 127.0.0.1 (never anything else); port 0 picks a free
port, written to --port-file once the socket is listening (atomically: tests poll for the file).
Exits on SIGTERM/SIGINT, or after --max-seconds (default 300) so a crashed test never leaves it
running.

    httpd.py --root DIR [--port 0] --port-file FILE [--log FILE] [--max-seconds N]

--log FILE gets one line per answered request, written and flushed when the answer starts:

    METHOD PATH STATUS            e.g. "GET /gzip/feed.xml 200", "GET /feed.xml 304"

(PATH as requested, with its query string.) Tests count lines to assert that a 304 happened or
that a file was fetched N times.

Files under --root are served with Content-Type from the extension (.rss, .atom, .xml, .json,
.html/.htm, .txt, .png, .bin), a strong ETag (hash of the content) and Last-Modified (the file's
mtime). A request carrying a matching If-None-Match, or (without If-None-Match) an
If-Modified-Since not older than the mtime, gets 304 Not Modified with no body. Keep-alive
(HTTP/1.1) is supported for answers with a Content-Length.

Misbehaviour, chosen by path prefix. Prefixes compose left to right, e.g.
/redirect/2/gzip/feed.xml or /slow/1/status/503/feed.xml:

  /slow/<secs>/PATH         sleep <secs> (a float) before answering PATH
  /trickle/PATH             headers at once, then PATH's body one byte per second, and after
                            it spaces forever (no Content-Length, connection close): an endless
                            slow body
  /status/<code>/PATH       answer <code> with PATH's body if it exists (else a short text);
                            429 and 503 carry "Retry-After: 2". Query ?retry_after=VALUE sets
                            the header verbatim; ?retry_after_date=N sends it as an HTTP-date
                            N seconds from now
  /redirect/<n>/PATH        302 to /redirect/<n-1>/PATH ..., the last hop to /PATH (n hops)
  /redirect-to?url=URL      302 with Location: URL verbatim (file:///etc/passwd, ftp://...)
                            ?code=301|303|307|308 picks the status
  /gzip/PATH                PATH's body with Content-Encoding: gzip
  /cache/<value>/PATH       answer PATH (200, 304 or redirect-to) with Cache-Control: <value>
                            (percent-decoded: /cache/max-age%3D600/feed.rss)
  /expires/<secs>/PATH      answer PATH (200 or 304) with Expires: an HTTP-date <secs> (a
                            float, may be negative) from now; Date is always sent
  /truncated/PATH           Content-Length 1000 bytes larger than the body, send the body,
                            close the connection
  /type/<type>/<sub>/PATH   override Content-Type with <type>/<sub> (percent-decoded, so
                            /type/text/html%3Bcharset=iso-8859-1/page.html works)
  /huge                     an endless RSS-looking body (no Content-Length) until the client
                            hangs up; /huge?declare=1 announces Content-Length: 1 GiB instead
  /bomb                     a gzip bomb: about 250 KiB compressed, 256 MiB of spaces inside,
                            Content-Encoding: gzip, Content-Type application/rss+xml;
                            ?mb=N sets the decompressed size (1..1024)
  /headers                  the request's headers as a JSON object (names lower-cased)
  /_stats                   what the server saw since the last /_stats/reset, as JSON:
                            connections_max (open at once), connections (in all) and
                            requests_max (being answered at once); the /_stats requests and
                            their connections are not counted

Unknown files get 404.
"""

import argparse
import email.utils
import gzip
import hashlib
import json
import mimetypes
import os
import signal
import sys
import threading
import time
import urllib.parse
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

TYPES = {
    ".rss": "application/rss+xml",
    ".atom": "application/atom+xml",
    ".xml": "application/xml",
    ".json": "application/json",
    ".html": "text/html; charset=utf-8",
    ".htm": "text/html",
    ".txt": "text/plain; charset=utf-8",
    ".png": "image/png",
    ".bin": "application/octet-stream",
}

STOP = threading.Event()
LOG_LOCK = threading.Lock()
LOG_FILE = None
ROOT = "."

_BOMB_LOCK = threading.Lock()
_BOMBS = {}


def bomb_body(mb):
    """gzip of mb MiB of spaces, built once per size (deflate's ratio is ~1000:1)."""
    with _BOMB_LOCK:
        if mb not in _BOMBS:
            co = zlib.compressobj(9, zlib.DEFLATED, 31)  # 31: gzip wrapper
            block = b" " * (1 << 20)
            parts = [co.compress(b"<?xml version=\"1.0\"?><rss><channel><title>")]
            for _ in range(mb):
                parts.append(co.compress(block))
            parts.append(co.flush())
            _BOMBS[mb] = b"".join(parts)
        return _BOMBS[mb]


class Stats:
    """Connections and requests at once, for the politeness tests."""

    def __init__(self):
        self.lock = threading.Lock()
        self.conns = self.reqs = 0
        self.reset()

    def reset(self):
        # what is open now stays counted: the maxima start from it
        self.conns_max = self.conns_total = self.conns
        self.reqs_max = self.reqs

    def snapshot(self):
        with self.lock:
            return {"connections_max": self.conns_max, "connections": self.conns_total,
                    "requests_max": self.reqs_max}

    def add(self, what, delta):
        with self.lock:
            if what == "conn":
                self.conns += delta
                self.conns_max = max(self.conns_max, self.conns)
                self.conns_total += max(delta, 0)
            else:
                self.reqs += delta
                self.reqs_max = max(self.reqs_max, self.reqs)


STATS = Stats()


def log_line(line):
    if LOG_FILE is None:
        return
    with LOG_LOCK:
        LOG_FILE.write(line + "\n")
        LOG_FILE.flush()


class Plan:
    """What the prefixes asked for."""

    def __init__(self):
        self.status = None
        self.gzip = False
        self.truncated = False
        self.trickle = False
        self.ctype = None
        self.headers = []  # (name, value) added to the answer, 304 included


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "feedmill-testd/1"

    def log_message(self, fmt, *args):  # silence the default stderr log
        pass

    counted = False  # this connection is in STATS (it served a request other than /_stats)

    def finish(self):
        if self.counted:
            STATS.add("conn", -1)
        super().finish()

    def send_response(self, code, message=None):
        log_line("%s %s %d" % (self.command, self.path, code))
        super().send_response(code, message)

    def do_HEAD(self):
        self.handle_any(head=True)

    def do_GET(self):
        self.handle_any(head=False)

    # --- plumbing -------------------------------------------------------------------------

    def finish_simple(self, code, body, ctype="text/plain; charset=utf-8", extra=None,
                      head=False):
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in (extra or []):
            self.send_header(k, v)
        self.end_headers()
        if not head:
            self.wfile.write(body)

    def close_after(self):
        self.send_header("Connection", "close")
        self.close_connection = True

    # --- dispatch -------------------------------------------------------------------------

    def handle_any(self, head):
        if self.path.startswith("/_stats"):
            if self.path == "/_stats/reset":
                with STATS.lock:
                    STATS.reset()
            body = json.dumps(STATS.snapshot()).encode() + b"\n"
            return self.finish_simple(200, body, ctype="application/json", head=head)
        if not self.counted:
            self.counted = True
            STATS.add("conn", 1)
        STATS.add("req", 1)
        try:
            return self.handle_counted(head)
        finally:
            STATS.add("req", -1)

    def handle_counted(self, head):
        parsed = urllib.parse.urlsplit(self.path)
        query = urllib.parse.parse_qs(parsed.query)
        segs = [s for s in parsed.path.split("/") if s != ""]
        plan = Plan()
        consumed = []
        try:
            while segs:
                s = segs[0]
                if s == "slow" and len(segs) >= 2:
                    time.sleep(float(segs[1]))
                    consumed += segs[:2]
                    segs = segs[2:]
                elif s == "status" and len(segs) >= 2:
                    plan.status = int(segs[1])
                    consumed += segs[:2]
                    segs = segs[2:]
                elif s == "redirect" and len(segs) >= 2:
                    n = int(segs[1])
                    rest = segs[2:]
                    if n <= 0:
                        consumed += segs[:2]
                        segs = rest
                        continue
                    nxt = consumed + (["redirect", str(n - 1)] if n > 1 else []) + rest
                    loc = "/" + "/".join(nxt)
                    if parsed.query:
                        loc += "?" + parsed.query
                    return self.finish_simple(302, b"moved\n", extra=[("Location", loc)],
                                              head=head)
                elif s == "gzip":
                    plan.gzip = True
                    consumed.append(s)
                    segs = segs[1:]
                elif s == "truncated":
                    plan.truncated = True
                    consumed.append(s)
                    segs = segs[1:]
                elif s == "trickle":
                    plan.trickle = True
                    consumed.append(s)
                    segs = segs[1:]
                elif s == "cache" and len(segs) >= 2:
                    plan.headers.append(("Cache-Control", urllib.parse.unquote(segs[1])))
                    consumed += segs[:2]
                    segs = segs[2:]
                elif s == "expires" and len(segs) >= 2:
                    when = time.time() + float(segs[1])
                    plan.headers.append(("Expires", email.utils.formatdate(when, usegmt=True)))
                    consumed += segs[:2]
                    segs = segs[2:]
                elif s == "type" and len(segs) >= 3:
                    plan.ctype = urllib.parse.unquote(segs[1]) + "/" + \
                        urllib.parse.unquote(segs[2])
                    consumed += segs[:3]
                    segs = segs[3:]
                else:
                    break
        except ValueError:
            return self.finish_simple(400, b"bad prefix argument\n", head=head)

        name = "/".join(segs)
        if name == "redirect-to":
            url = query.get("url", [""])[0]
            code = int(query.get("code", ["302"])[0])
            return self.finish_simple(code, b"moved\n", extra=plan.headers + [("Location", url)],
                                      head=head)
        if name == "huge":
            return self.serve_huge(query, head)
        if name == "bomb":
            mb = max(1, min(1024, int(query.get("mb", ["256"])[0])))
            body = bomb_body(mb)
            return self.finish_simple(plan.status or 200, body, ctype="application/rss+xml",
                                      extra=[("Content-Encoding", "gzip")], head=head)
        if name == "headers":
            hdrs = {k.lower(): v for k, v in self.headers.items()}
            body = json.dumps(hdrs, sort_keys=True).encode() + b"\n"
            return self.finish_simple(plan.status or 200, body, ctype="application/json",
                                      head=head)
        return self.serve_file(name, plan, query, head)

    # --- endpoints ------------------------------------------------------------------------

    def serve_huge(self, query, head):
        self.send_response(200)
        self.send_header("Content-Type", "application/rss+xml")
        if query.get("declare"):
            self.send_header("Content-Length", str(1 << 30))
        self.close_after()
        self.end_headers()
        if head:
            return
        chunk = b"<item><title>more</title></item>\n" * 2000
        try:
            self.wfile.write(b"<?xml version=\"1.0\"?><rss><channel>\n")
            while not STOP.is_set():
                self.wfile.write(chunk)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def serve_file(self, name, plan, query, head):
        path = os.path.normpath(os.path.join(ROOT, name))
        exists = (name != "" and (path == ROOT or path.startswith(ROOT + os.sep))
                  and os.path.isfile(path))
        code = plan.status
        if not exists:
            if code is None:
                return self.finish_simple(404, b"not found\n", head=head)
            body = ("status %d\n" % code).encode()
            ctype = plan.ctype or "text/plain; charset=utf-8"
            etag = lastmod = None
        else:
            with open(path, "rb") as f:
                body = f.read()
            ext = os.path.splitext(path)[1].lower()
            ctype = plan.ctype or TYPES.get(ext) or \
                mimetypes.guess_type(path)[0] or "application/octet-stream"
            etag = '"%s"' % hashlib.sha1(body).hexdigest()[:16]
            mtime = int(os.stat(path).st_mtime)
            lastmod = email.utils.formatdate(mtime, usegmt=True)
            if code is None and self.not_modified(etag, mtime):
                self.send_response(304)
                self.send_header("ETag", etag)
                self.send_header("Last-Modified", lastmod)
                for k, v in plan.headers:
                    self.send_header(k, v)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
        code = code or 200
        if code < 200 or code in (204, 304):
            body = b""  # these statuses have no body (RFC 9110)

        extra = list(plan.headers)
        if code in (429, 503):
            if "retry_after" in query:
                extra.append(("Retry-After", query["retry_after"][0]))
            elif "retry_after_date" in query:
                when = time.time() + float(query["retry_after_date"][0])
                extra.append(("Retry-After", email.utils.formatdate(when, usegmt=True)))
            else:
                extra.append(("Retry-After", "2"))
        if etag and code == 200:
            extra += [("ETag", etag), ("Last-Modified", lastmod)]
        if plan.gzip:
            body = gzip.compress(body)
            extra.append(("Content-Encoding", "gzip"))

        if plan.trickle:
            return self.serve_trickle(code, ctype, extra, body, head)

        self.send_response(code)
        self.send_header("Content-Type", ctype)
        for k, v in extra:
            self.send_header(k, v)
        if plan.truncated:
            self.send_header("Content-Length", str(len(body) + 1000))
            self.close_after()
        else:
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if not head:
            self.wfile.write(body)

    def serve_trickle(self, code, ctype, extra, body, head):
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        for k, v in extra:
            self.send_header(k, v)
        self.close_after()
        self.end_headers()
        if head:
            return
        try:
            i = 0
            while not STOP.is_set():
                b = body[i:i + 1] if i < len(body) else b" "
                self.wfile.write(b)
                self.wfile.flush()
                i += 1
                STOP.wait(1.0)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def not_modified(self, etag, mtime):
        inm = self.headers.get("If-None-Match")
        if inm is not None:
            tags = [t.strip() for t in inm.split(",")]
            return etag in tags or "*" in tags or ("W/" + etag) in tags
        ims = self.headers.get("If-Modified-Since")
        if ims:
            try:
                when = email.utils.parsedate_to_datetime(ims).timestamp()
            except (TypeError, ValueError):
                return False
            return mtime <= when
        return False


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128  # the listen backlog: clients open many connections at once

    def handle_error(self, request, client_address):
        # Clients hanging up mid-answer is what the tests do on purpose (size limits,
        # timeouts): not worth a traceback.
        exc = sys.exc_info()[1]
        if isinstance(exc, (ConnectionError, TimeoutError)):
            return
        super().handle_error(request, client_address)


def main():
    global LOG_FILE, ROOT
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--root", default=".")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--port-file")
    ap.add_argument("--log")
    ap.add_argument("--max-seconds", type=float, default=300.0)
    args = ap.parse_args()

    ROOT = os.path.realpath(args.root)
    if args.log:
        LOG_FILE = open(args.log, "a", encoding="utf-8")
    srv = Server(("127.0.0.1", args.port), Handler)
    port = srv.server_address[1]

    def stop(*_):
        STOP.set()
        threading.Thread(target=srv.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    timer = threading.Timer(args.max_seconds, stop)
    timer.daemon = True
    timer.start()

    if args.port_file:
        tmp = args.port_file + ".tmp"
        with open(tmp, "w", encoding="ascii") as f:
            f.write("%d\n" % port)
        os.replace(tmp, args.port_file)
    else:
        print(port, flush=True)

    try:
        srv.serve_forever(poll_interval=0.2)
    finally:
        STOP.set()
        srv.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
