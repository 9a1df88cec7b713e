#!/usr/bin/env bash
# Run feedmill once over the demo sources, offline.
#
# Serves contrib/demo/site/ on 127.0.0.1 with tests/integration/httpd.py (port 8765, or a free
# port when that one is taken), runs
#
#     build/feedmill run --once -c contrib/demo/pipeline.conf
#
# stops the server, and shows what came out and where. Everything goes to demo-out/ at the top
# of the source tree, which is emptied first: every run starts from nothing and shows the same
# result.
#
#   contrib/demo/run-demo.sh            (from anywhere; needs a built build/feedmill)
#   FEEDMILL=/path/to/feedmill contrib/demo/run-demo.sh
#   contrib/demo/run-demo.sh --set dedupe.mode=mark    (extra arguments go to `feedmill run`)
#
# contrib/demo.sh installs what is missing, builds, then runs this script.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)

# $FEEDMILL is taken relative to where the script was started; the default, to the tree.
feedmill=${FEEDMILL:-$root/build/feedmill}
case $feedmill in
*/*) [ "${feedmill#/}" != "$feedmill" ] || feedmill=$PWD/$feedmill ;;
*) feedmill=$(command -v "$feedmill" || printf '%s' "$feedmill") ;;
esac
cd "$root"
out=demo-out
port=8765
conf=contrib/demo/pipeline.conf
server_pid=
tmp_conf=

say() { printf '%s\n' "$*"; }
die() { printf 'run-demo: %s\n' "$*" >&2; exit 1; }

cleanup() {
	if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
		kill -TERM "$server_pid" 2>/dev/null || true
		wait "$server_pid" 2>/dev/null || true
	fi
	server_pid=
	if [ -n "$tmp_conf" ]; then
		rm -f "$tmp_conf"
	fi
	tmp_conf=
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

[ -x "$feedmill" ] || die "no feedmill binary at $feedmill: build first (meson setup build && ninja -C build), run contrib/demo.sh, or set FEEDMILL"
command -v python3 >/dev/null || die "python3 is needed for the demo web server (tests/integration/httpd.py)"

# A fresh start: no state from an earlier run (source validators, the dedupe index, the id set
# of publish_jsonl), so this run shows everything again.
rm -rf "$out"
mkdir -p "$out"

# start_server PORT: start httpd.py on PORT (0: any free port); 0 once it listens, 1 if it
# exited first (the port is taken).
start_server() {
	rm -f "$out/httpd.port"
	python3 tests/integration/httpd.py --root contrib/demo/site --port "$1" \
		--port-file "$out/httpd.port" --log "$out/httpd.log" --max-seconds 600 \
		2>>"$out/httpd.err" &
	server_pid=$!
	for _ in $(seq 1 150); do
		if [ -s "$out/httpd.port" ]; then
			port=$(tr -dc '0-9' <"$out/httpd.port")
			return 0
		fi
		if ! kill -0 "$server_pid" 2>/dev/null; then
			wait "$server_pid" 2>/dev/null || true
			server_pid=
			return 1
		fi
		sleep 0.1
	done
	die "the demo web server did not start within 15s (see $out/httpd.err)"
}

if ! start_server 8765; then
	start_server 0 || die "cannot start the demo web server (see $out/httpd.err)"
	# The configuration names port 8765. Run a copy with the real port, written beside the
	# original so that its relative paths (rules.conf, ../../demo-out) mean the same.
	tmp_conf=contrib/demo/.pipeline.port-$port.conf
	sed "s#127\.0\.0\.1:8765/#127.0.0.1:$port/#g" "$conf" >"$tmp_conf"
	conf=$tmp_conf
	say "Port 8765 is taken: serving the demo sites on port $port instead."
fi
say "Serving contrib/demo/site on http://127.0.0.1:$port/ (requests logged in $out/httpd.log)"
say "Running: $feedmill run --once -c $conf${*:+ $*}"
say ""

rc=0
if command -v timeout >/dev/null; then
	timeout 300 "$feedmill" run --once -c "$conf" "$@" || rc=$?
else
	"$feedmill" run --once -c "$conf" "$@" || rc=$?
fi
cleanup

say ""
if [ "$rc" -eq 124 ]; then
	die "feedmill did not finish within 5 minutes"
elif [ "$rc" -ne 0 ]; then
	die "feedmill exited with status $rc (2: usage, 3: configuration; the messages are above)"
fi

# What came out.
python3 - "$out" "$root" <<'EOF'
import json, os, sys
import xml.etree.ElementTree as ET

out, root = sys.argv[1], sys.argv[2]
jsonl = os.path.join(out, "articles.jsonl")
atom = os.path.join(out, "feed.atom")

docs = []
if os.path.exists(jsonl):
    with open(jsonl, encoding="utf-8") as f:
        docs = [json.loads(line) for line in f if line.strip()]
entries = None
if os.path.exists(atom):
    try:
        ns = "{http://www.w3.org/2005/Atom}"
        entries = ET.parse(atom).getroot().findall(ns + "entry")
    except ET.ParseError as e:
        print("run-demo: %s is not well-formed XML: %s" % (atom, e), file=sys.stderr)

print("What came out, in %s/:" % root)
print("  %-26s %d documents, one JSON object a line" % (jsonl, len(docs)))
if entries is not None:
    print("  %-26s %d entries" % (atom, len(entries)))
else:
    print("  %-26s missing" % atom)
print("  %-26s per-source state and each stage's own state" % os.path.join(out, "state/"))
print("  %-26s the requests the demo web server answered" % os.path.join(out, "httpd.log"))
print()
if not docs:
    print("No document was published: see the messages above.")
    sys.exit(1)
print("Published (source: title  [tags]):")
titles = {d.get("id"): d.get("title") for d in docs}
for d in docs:
    tags = ", ".join(d.get("tags") or [])
    line = "  %-9s %s%s" % (d.get("source", "?") + ":", d.get("title", "(no title)"),
                            "  [" + tags + "]" if tags else "")
    if d.get("duplicate_of"):
        line += "\n            copy of: %s" % titles.get(d["duplicate_of"], d["duplicate_of"])
    print(line)
ex = docs[0]
print()
print("For example, %r from %s:" % (ex.get("title"), ex.get("source")))
print("  url   %s" % ex.get("url"))
text = " ".join((ex.get("text") or "").split())
print("  text  %s" % (text[:160] + ("..." if len(text) > 160 else "")))
print()
print("The sites hold 13 documents: 6 Courier stories and its live blog, a scraper's copies of 3")
print("Courier stories plus a shopping promotion, a synonym-spun copy of the day-4 flood story and")
print("a chess story. The summary above says what each stage let through: dedupe drops copies of")
print("stories already seen, classify drops what contrib/demo/rules.conf blocks. To see the copies")
print("with \"duplicate_of\" naming their original:  contrib/demo/run-demo.sh --set dedupe.mode=mark")
EOF
