#!/usr/bin/env bash
# bench/profile.sh — where replaygate spends CPU in one scenario.
#
# Builds an unstripped replaygate (symbols kept; `make build` strips them),
# starts the bench upstream and replaygate serve, drives one scenario with
# wrk and samples replaygate with `perf record` meanwhile (Go keeps frame
# pointers, so call graphs work without DWARF unwinding). Prints the hottest
# functions (self time) and the time per package (self time), and keeps
# perf.data in the printed directory for `perf report -i`.
# The product has no pprof endpoint and this script does not add one.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
# shellcheck source=bench/lib.sh
source bench/lib.sh

SCENARIO=${SCENARIO:-html-150k/gzip}
DURATION=${DURATION:-10}
CONNS=${CONNS:-32}
RG_CONFIG=${RG_CONFIG:-}
TOP=${TOP:-30}
SIZE_OF=${SIZE_OF:-json} # ingest: what the 20 KB segment size measures (json or gzip)
command -v perf >/dev/null || die "perf is missing (Debian: linux-perf)"

case $SCENARIO in
ingest) path=/__replay/ingest ;;
html-20k/*) path=/page-20k.html ;;
html-150k/*) path=/page-150k.html ;;
html-2m/*) path=/page-2m.html ;;
html-10m/*) path=/page-10m.html ;;
asset-100k) path=/static/app.js ;;
*) die "unknown SCENARIO $SCENARIO" ;;
esac
ae='gzip, deflate, br'
[[ $SCENARIO == */gzip ]] && ae=gzip
accept='text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8'
[[ $SCENARIO == asset-* ]] && accept='*/*'

WORK=$(mktemp -d /tmp/replaygate-profile.XXXXXX)
cleanup() {
	local rc=$?
	trap - EXIT INT TERM
	stop_all
	log "perf data and logs kept in $WORK"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

run_waited go build -o "$WORK/" ./bench/cmd/upstream ./bench/cmd/ingestload
run_waited go build -o "$WORK/replaygate" ./cmd/replaygate
up=$(free_port); port=$(free_port); admin=$(free_port)
spawn "$WORK/upstream.log" "$WORK/upstream" --listen "127.0.0.1:$up"
wait_http "http://127.0.0.1:$up/" 60 "$SPAWNED_PID" || die "upstream did not start"
args=(serve --upstream "http://127.0.0.1:$up" --listen "127.0.0.1:$port" --admin-listen "127.0.0.1:$admin" --data-dir "$WORK/data")
[[ -n $RG_CONFIG ]] && args+=(--config "$RG_CONFIG")
spawn "$WORK/replaygate.log" "$WORK/replaygate" "${args[@]}"
RG=$SPAWNED_PID
wait_http "http://127.0.0.1:$port/" 30 "$RG" || die "replaygate did not start"
url="http://127.0.0.1:$port$path"

if [[ $SCENARIO == ingest ]]; then
	# Uploads of 20 KB segments from 500 consenting visitors (see ingest.sh;
	# 500 is the default consent burst, so the cookies come at once).
	log "$DURATION s of ingestload -conns $CONNS on http://127.0.0.1:$port under perf"
	spawn "$WORK/wrk.out" "$WORK/ingestload" --target "http://127.0.0.1:$port" --duration "$((DURATION + 3))s" \
		--conns "$CONNS" --subjects 500 --size-of "$SIZE_OF"
	WRK=$SPAWNED_PID
	sleep 2 # consent cookies first
else
	log "warm-up, then $DURATION s of wrk -c$CONNS on $url (Accept-Encoding: $ae) under perf"
	wrk -t1 -c"$CONNS" -d2s -H "Accept-Encoding: $ae" -H "Accept: $accept" "$url" >/dev/null
	spawn "$WORK/wrk.out" wrk -t1 -c"$CONNS" -d"$((DURATION + 1))s" -H "Accept-Encoding: $ae" -H "Accept: $accept" "$url"
	WRK=$SPAWNED_PID
fi
run_waited perf record -q -F 999 -g -p "$RG" -o "$WORK/perf.data" -- sleep "$DURATION" 2>"$WORK/perf.log"
wait "$WRK" || true
grep -E 'Requests/sec|Latency' "$WORK/wrk.out" >&2 || true

perf report -i "$WORK/perf.data" --stdio --no-children --sort sym -g none -F overhead,sym 2>/dev/null |
	awk '/^ +[0-9.]+%/ { pct = $1; sub(/%/, "", pct); kind = $2; $1 = ""; $2 = ""; sub(/^ +/, ""); print pct "\t" kind "\t" $0 }' |
	sort -t$'\t' -k1,1 -rn >"$WORK/symbols.tsv"

echo "## replaygate CPU profile: $SCENARIO, wrk -c$CONNS, ${DURATION}s, perf -F 999"
echo
samples=$(perf report -i "$WORK/perf.data" --stdio --no-children -g none 2>/dev/null | sed -n 's/^# Samples: \([^ ]*\).*/\1/p' | head -1)
echo "Load under perf: $(sed -n 's/^Requests\/sec: *\(.*\)/\1 req\/s/p; s/.*"accepted_per_s":\([0-9.]*\).*/\1 accepted segments\/s/p' "$WORK/wrk.out"); samples: $samples"
echo
echo "### Hottest functions (self time)"
echo '```'
head -n "$TOP" "$WORK/symbols.tsv" | awk -F'\t' '{ printf "%6.2f%%  %s %s\n", $1, $2, $3 }'
echo '```'
echo
echo "### Inclusive time of application and library functions (callees included)"
echo '```'
perf report -i "$WORK/perf.data" --stdio --children --sort sym -g none 2>/dev/null |
	awk '/^ +[0-9.]+%/ && $3 == "[.]" && $4 !~ /^(runtime|internal\/|0x|aeshash|indexbyte|memeqbody|gcWriteBarrier)/ { printf "%7s  %s\n", $1, $4 }' |
	sort -rn | head -n "$TOP"
echo '```'
echo
echo "### By package (self time; [k] = kernel)"
echo '```'
awk -F'\t' '{
	pct = $1; kind = $2; sym = $3
	if (kind == "[k]") pkg = "kernel"
	else if (sym ~ /^0x/) pkg = "[unknown]"
	else if (match(sym, /^[A-Za-z0-9_.~-]+(\/[A-Za-z0-9_.~-]+)*\//)) {
		rest = substr(sym, RLENGTH + 1); sub(/\..*/, "", rest); pkg = substr(sym, 1, RLENGTH) rest
	} else { pkg = sym; sub(/\..*/, "", pkg) }
	by[pkg] += pct
}
END { for (p in by) printf "%6.2f%%  %s\n", by[p], p }' "$WORK/symbols.tsv" | sort -rn | head -n 25
echo '```'
