#!/usr/bin/env bash
# Proves the engine that scripts/engine.sh assembles, and measures it:
#   one node: a data stream from an index template, bulk create by _id (the second time
#   every document answers 409), a refused document (400), search, health;
#   three nodes: an index with one replica survives SIGKILL of a node (yellow, every
#   document still found), the node comes back and the cluster is green again.
# Prints each figure as it goes and a summary at the end; exits 1 on the first failed check.
#
#   scripts/engine/prove.sh [--http-port P] [--cold]
#
# --cold also times a fetch into an empty, temporary Maven repository (downloads ~60 MB).
# Everything runs on 127.0.0.1 and is stopped at the end, also on failure.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
ENGINE="$ROOT/scripts/engine.sh"
PORT=9280
COLD=false
while [ $# -gt 0 ]; do
    case $1 in
        --http-port) PORT=$2; shift 2 ;;
        --cold) COLD=true; shift ;;
        *) echo "usage: $0 [--http-port P] [--cold]" >&2; exit 64 ;;
    esac
done
ONE=prove-one
THREE=prove-three
SUMMARY=()

cleanup() {
    "$ENGINE" stop "$ONE" >/dev/null 2>&1 || true
    "$ENGINE" stop "$THREE" >/dev/null 2>&1 || true
}
trap cleanup EXIT

fail() { echo "FAILED: $*" >&2; exit 1; }
figure() { echo "== $*"; SUMMARY+=("$*"); }
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }
rss_mib() { echo $(($(ps -o rss= -p "$1") / 1024)); }
node_pid() { cat "$ROOT/.cache/engine/run/$1/node-$2/node.pid"; }
statuses() { { grep -o '"status":[0-9]*' || true; } | cut -d: -f2 | tr '\n' ' ' | sed 's/ $//'; }
count() { curl -s "$1/_count" | sed -n 's/.*"count":\([0-9]*\).*/\1/p'; }
health_status() { curl -s "$1/_cluster/health" | sed -n 's/.*"status":"\([a-z]*\)".*/\1/p'; }

# --- fetch ----------------------------------------------------------------------------
if $COLD; then
    repo=$(mktemp -d)
    cache=$(mktemp -d)
    t=$(now)
    MAVEN_OPTS="-Dmaven.repo.local=$repo" ENGINE_CACHE_DIR="$cache" "$ENGINE" fetch >/dev/null
    figure "fetch, cold (empty Maven repository): $(since "$t") s, $(du -sh "$repo" | cut -f1) downloaded"
    rm -rf "$repo" "$cache"
fi
"$ENGINE" fetch >/dev/null
t=$(now)
"$ENGINE" fetch >/dev/null
figure "fetch, warm (already assembled): $(since "$t") s"

# --- one node -------------------------------------------------------------------------
t=$(now)
url=$("$ENGINE" start "$ONE" --http-port "$PORT" --heap 512m 2>/dev/null | tail -n 1)
[ "$url" = "http://127.0.0.1:$PORT" ] || fail "start printed '$url'"
figure "one node started (yellow or better): $(since "$t") s"

json=(-H 'Content-Type: application/json')
ndjson=(-H 'Content-Type: application/x-ndjson')
curl -sf "${json[@]}" -X PUT "$url/_index_template/prove-logs" -d '{
  "index_patterns": ["logs-prove.*-*"], "data_stream": {}, "priority": 300,
  "template": {"settings": {"number_of_replicas": 0},
    "mappings": {"properties": {"@timestamp": {"type": "date"},
      "event": {"properties": {"id": {"type": "keyword"}, "action": {"type": "keyword"}}},
      "source": {"properties": {"ip": {"type": "ip"}}}}}}}' >/dev/null || fail "index template"
bulk=$(mktemp)
cat >"$bulk" <<'EOF'
{"create":{"_id":"ev-1"}}
{"@timestamp":"2026-01-01T00:00:00Z","event":{"id":"ev-1","action":"rtsp-login-failed"},"source":{"ip":"10.0.0.1"}}
{"create":{"_id":"ev-2"}}
{"@timestamp":"2026-01-01T00:00:01Z","event":{"id":"ev-2","action":"rtsp-login-failed"},"source":{"ip":"10.0.0.2"}}
{"create":{"_id":"ev-3"}}
{"@timestamp":"2026-01-01T00:00:02Z","event":{"id":"ev-3","action":"ssh-login"},"source":{"ip":"not-an-address"}}
EOF
ds="$url/logs-prove.events-d1"
first=$(curl -s "${ndjson[@]}" -X POST "$ds/_bulk?refresh=true" --data-binary @"$bulk" | statuses)
[ "$first" = "201 201 400" ] || fail "first bulk answered '$first', expected 201 201 400"
second=$(curl -s "${ndjson[@]}" -X POST "$ds/_bulk?refresh=true" --data-binary @"$bulk" | statuses)
[ "$second" = "409 409 400" ] || fail "second bulk answered '$second', expected 409 409 400"
rm -f "$bulk"
curl -sf "$url/_data_stream/logs-prove.events-d1" | grep -q '"template":"prove-logs"' || fail "no data stream"
hits=$(curl -s "${json[@]}" "$ds/_search" -d '{"query":{"term":{"event.action":"rtsp-login-failed"}}}' \
    | sed -n 's/.*"total":{"value":\([0-9]*\).*/\1/p')
[ "$hits" = 2 ] || fail "search found '$hits' events, expected 2"
figure "data stream: bulk create 201 201 400, again 409 409 400, search 2 hits, health $(health_status "$url")"

# An ingest pipeline (common processors), Painless through _update_by_query (reindex module),
# and rollover: after it, the same _id goes into the new write index (a duplicate).
curl -sf "${json[@]}" -X PUT "$url/_ingest/pipeline/prove-stamp" \
    -d '{"processors":[{"set":{"field":"event.ingested","value":"{{_ingest.timestamp}}"}}]}' >/dev/null \
    || fail "ingest pipeline"
stamped=$(curl -s "${json[@]}" -X POST "$ds/_doc?pipeline=prove-stamp&op_type=create&refresh=true" \
    -d '{"@timestamp":"2026-01-01T00:00:03Z","event":{"id":"ev-4","action":"x"}}' | statuses)
[ "$stamped" = "" ] || fail "pipeline write answered $stamped"
curl -s "${json[@]}" "$ds/_search" -d '{"query":{"exists":{"field":"event.ingested"}}}' \
    | grep -q '"total":{"value":1,' || fail "the pipeline did not stamp event.ingested"
updated=$(curl -s "${json[@]}" -X POST "$ds/_update_by_query?refresh=true" \
    -d '{"script":{"source":"ctx._source.seen = params.v","params":{"v":true}},"query":{"term":{"event.id":"ev-1"}}}' \
    | sed -n 's/.*"updated":\([0-9]*\).*/\1/p')
[ "$updated" = 1 ] || fail "_update_by_query with Painless updated '$updated'"
curl -sf -X POST "$ds/_rollover" >/dev/null || fail "rollover"
again=$(printf '{"create":{"_id":"ev-1"}}\n{"@timestamp":"2026-01-01T00:00:00Z","event":{"id":"ev-1"}}\n' \
    | curl -s "${ndjson[@]}" -X POST "$ds/_bulk?refresh=true" --data-binary @- | statuses)
[ "$again" = 201 ] || fail "after rollover the same _id answered '$again'"
figure "ingest pipeline, Painless _update_by_query, rollover (then the same _id is accepted again: 201)"
figure "one node RSS with a 512m heap: $(rss_mib "$(node_pid "$ONE" 0)") MiB"
t=$(now)
"$ENGINE" stop "$ONE" 2>/dev/null
figure "one node stopped: $(since "$t") s"

# --- three nodes ----------------------------------------------------------------------
t=$(now)
url=$("$ENGINE" start "$THREE" --nodes 3 --http-port "$PORT" --heap 512m 2>/dev/null | tail -n 1)
[ "$url" = "http://127.0.0.1:$PORT" ] || fail "start printed '$url'"
figure "three nodes started (green): $(since "$t") s"
curl -sf "${json[@]}" -X PUT "$url/faults" \
    -d '{"settings":{"number_of_shards":3,"number_of_replicas":1}}' >/dev/null || fail "create index"
docs=$(mktemp)
for i in $(seq 1 1000); do
    printf '{"create":{"_id":"d%s"}}\n{"n":%s}\n' "$i" "$i"
done >"$docs"
curl -s "${ndjson[@]}" -X POST "$url/faults/_bulk?refresh=true" --data-binary @"$docs" | grep -q '"errors":false' \
    || fail "bulk into the three nodes"
rm -f "$docs"
curl -sf "$url/_cluster/health?wait_for_status=green&timeout=60s" >/dev/null || fail "not green with replicas"
figure "three nodes RSS with 512m heaps: $(for i in 0 1 2; do printf '%s ' "$(rss_mib "$(node_pid "$THREE" "$i")")"; done)MiB"
"$ENGINE" kill-node "$THREE" 1 2>/dev/null
sleep 1
status=$(curl -s "$url/_cluster/health?wait_for_nodes=2&timeout=30s" | sed -n 's/.*"status":"\([a-z]*\)".*/\1/p')
[ "$status" = yellow ] || fail "after SIGKILL of node-1 the cluster is '$status', expected yellow"
[ "$(count "$url/faults")" = 1000 ] || fail "after SIGKILL of node-1 not every document is found"
figure "SIGKILL node-1: yellow, 1000 of 1000 documents found"
t=$(now)
"$ENGINE" start-node "$THREE" 1 2>/dev/null
[ "$(health_status "$url")" = green ] || fail "not green after node-1 came back"
[ "$(count "$url/faults")" = 1000 ] || fail "documents missing after node-1 came back"
figure "node-1 back, cluster green again: $(since "$t") s"
t=$(now)
"$ENGINE" stop "$THREE" 2>/dev/null
figure "three nodes stopped: $(since "$t") s"

echo
echo "engine proven; figures (load average $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores):"
printf '  %s\n' "${SUMMARY[@]}"
