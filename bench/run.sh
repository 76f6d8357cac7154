#!/usr/bin/env bash
# bench/run.sh — replaygate against its peers, on loopback, in one run.
#
# Starts the generated upstream (bench/cmd/upstream) and, in front of it,
# a bare httputil.ReverseProxy, nginx proxy_pass, nginx sub_filter injection
# and replaygate; measures every scenario with wrk against every peer, the
# time to first byte of a 10 MB page, and the memory held per in-flight
# 10 MB response; writes the markdown report to bench/results/latest.md and
# prints it. Every process it starts is stopped on exit, Ctrl-C or failure.
# Knobs (environment) are listed in bench/README.md.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
# shellcheck source=bench/lib.sh
source bench/lib.sh

DURATION=${DURATION:-5s}
WARMUP=${WARMUP:-1s}
CONNS=${CONNS:-32}
CONNS_2M=${CONNS_2M:-8}
CONNS_10M=${CONNS_10M:-4}
THREADS=${THREADS:-1}
WRK_TIMEOUT=${WRK_TIMEOUT:-30s}
REPEAT=${REPEAT:-1}
SCENARIOS=${SCENARIOS:-"html-20k/gzip html-20k/br html-150k/gzip html-150k/br html-2m/gzip html-2m/br html-10m/gzip html-10m/br asset-100k"}
PEERS=${PEERS:-"direct bare nginx nginx-sub replaygate"}
TTFB_N=${TTFB_N:-500}
TTFB_N_SLOW=${TTFB_N_SLOW:-50}
INFLIGHT_K=${INFLIGHT_K:-32}
NGINX_WORKERS=${NGINX_WORKERS:-$(nproc)}
NGINX_GZIP_LEVEL=${NGINX_GZIP_LEVEL:-1}
# RG_BIN: a replaygate binary to measure; by default the working tree is
# built into bin/replaygate first, so a stale binary is never measured.
BUILD_RG=0
[[ -z ${RG_BIN:-} ]] && BUILD_RG=1
RG_BIN=${RG_BIN:-$ROOT/bin/replaygate}
RG_CONFIG=${RG_CONFIG:-}
OUT=${OUT:-$ROOT/bench/results/latest.md}
KEEP_WORK=${KEEP_WORK:-0}
NAV_ACCEPT='text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8'
GATE_TAG='<script src="/__replay/gate.js" async></script>'
BROWSER_AE='gzip, deflate, br'

COMMAND="DURATION=$DURATION WARMUP=$WARMUP REPEAT=$REPEAT CONNS=$CONNS CONNS_2M=$CONNS_2M CONNS_10M=$CONNS_10M THREADS=$THREADS TTFB_N=$TTFB_N TTFB_N_SLOW=$TTFB_N_SLOW INFLIGHT_K=$INFLIGHT_K NGINX_WORKERS=$NGINX_WORKERS NGINX_GZIP_LEVEL=$NGINX_GZIP_LEVEL ./bench/run.sh"
[[ $SCENARIOS == *" "*" "* ]] || COMMAND="SCENARIOS='$SCENARIOS' $COMMAND"

for tool in wrk nginx curl go; do
	command -v "$tool" >/dev/null || die "$tool is missing (make deps-bench installs wrk and nginx-light)"
done

WORK=$(mktemp -d /tmp/replaygate-bench.XXXXXX)
chmod 755 "$WORK" # nginx workers may run as nobody
cleanup() {
	local rc=$?
	trap - EXIT INT TERM
	stop_all
	if [[ $KEEP_WORK == 1 || $rc != 0 ]]; then
		log "work dir kept: $WORK (logs of every process)"
	else
		rm -rf "$WORK"
	fi
	exit "$rc"
}
trap cleanup EXIT
trap 'log "interrupted"; exit 130' INT TERM

log "command: $COMMAND"
log "work dir: $WORK"

# --- build --------------------------------------------------------------
mkdir -p "$WORK/bin"
log "building bench tools"
run_waited go build -o "$WORK/bin/" ./bench/cmd/upstream ./bench/cmd/bareproxy ./bench/cmd/probe ./bench/cmd/ttfb ./bench/cmd/inflight ./bench/cmd/report
if [[ $BUILD_RG == 1 ]]; then
	log "building $RG_BIN from the working tree"
	run_waited go build -o "$RG_BIN" ./cmd/replaygate
fi

# --- peers --------------------------------------------------------------
UP_PORT=$(free_port)
spawn "$WORK/upstream.log" "$WORK/bin/upstream" --listen "127.0.0.1:$UP_PORT" --manifest "$WORK/manifest.json"
UP_PID=$SPAWNED_PID
wait_http "http://127.0.0.1:$UP_PORT/" 60 "$UP_PID" || die "upstream did not start: $(tail -5 "$WORK/upstream.log")"
UPSTREAM="http://127.0.0.1:$UP_PORT"

declare -A URL PID

start_bare() { # start_bare NAME [extra flags]
	local name=$1; shift
	local port; port=$(free_port)
	spawn "$WORK/$name.log" "$WORK/bin/bareproxy" --listen "127.0.0.1:$port" --upstream "$UPSTREAM" "$@"
	wait_http "http://127.0.0.1:$port/" 20 "$SPAWNED_PID" || die "$name did not start: $(tail -5 "$WORK/$name.log")"
	URL[$name]="http://127.0.0.1:$port"
	PID[$name]=$SPAWNED_PID
}

# nginx_conf DIR PORT INJECT — write an nginx.conf for proxy_pass, or for
# sub_filter injection when INJECT is 1.
nginx_conf() {
	local dir=$1 port=$2 inject=$3 html_location
	mkdir -p "$dir"
	chmod 755 "$dir"
	local proxy="proxy_pass http://origin;
            proxy_http_version 1.1;
            proxy_set_header Connection \"\";
            proxy_set_header Host \$host;
            proxy_set_header X-Forwarded-For \$proxy_add_x_forwarded_for;
            proxy_set_header X-Forwarded-Proto \$scheme;"
	if [[ $inject == 1 ]]; then
		# sub_filter only sees identity bodies, so the upstream is asked for
		# identity and nginx compresses the output itself (gzip only: the
		# Debian nginx has no brotli module).
		html_location="location / {
            $proxy
            proxy_set_header Accept-Encoding \"\";
            sub_filter '<head>' '<head>$GATE_TAG';
            sub_filter_once on;
            gzip on;
            gzip_comp_level $NGINX_GZIP_LEVEL;
            gzip_proxied any;
            gzip_vary on;
        }
        location /static/ {
            $proxy
        }"
	else
		html_location="location / {
            $proxy
        }"
	fi
	cat >"$dir/nginx.conf" <<CONF
worker_processes $NGINX_WORKERS;
daemon off;
pid $dir/nginx.pid;
error_log $dir/error.log warn;
events {
    worker_connections 4096;
}
http {
    access_log $dir/access.log;
    client_body_temp_path $dir/client_body;
    proxy_temp_path $dir/proxy_temp;
    fastcgi_temp_path $dir/fastcgi_temp;
    uwsgi_temp_path $dir/uwsgi_temp;
    scgi_temp_path $dir/scgi_temp;
    default_type application/octet-stream;
    sendfile on;
    tcp_nopush on;
    keepalive_timeout 120s;
    keepalive_requests 1000000;
    upstream origin {
        server 127.0.0.1:$UP_PORT;
        keepalive 256;
        keepalive_requests 1000000;
    }
    server {
        listen 127.0.0.1:$port;
        $html_location
    }
}
CONF
}

start_nginx() { # start_nginx NAME INJECT
	local name=$1 inject=$2 port dir
	port=$(free_port)
	dir="$WORK/$name"
	nginx_conf "$dir" "$port" "$inject"
	nginx -t -q -p "$dir" -e "$dir/error.log" -c "$dir/nginx.conf" || die "$name config invalid: $(cat "$dir/error.log")"
	spawn "$WORK/$name.log" nginx -p "$dir" -e "$dir/error.log" -c "$dir/nginx.conf"
	wait_http "http://127.0.0.1:$port/" 20 "$SPAWNED_PID" || die "$name did not start: $(tail -5 "$dir/error.log")"
	URL[$name]="http://127.0.0.1:$port"
	PID[$name]=$SPAWNED_PID
}

RG_TOKEN=${REPLAYGATE_ADMIN_TOKEN:-$(od -An -N24 -tx1 /dev/urandom | tr -d ' \n')}
declare -A RG_ADMIN
start_replaygate() { # start_replaygate NAME
	local name=$1 port admin data
	port=$(free_port)
	admin=$(free_port)
	data="$WORK/$name-data"
	local args=(serve --upstream "$UPSTREAM" --listen "127.0.0.1:$port" --admin-listen "127.0.0.1:$admin" --data-dir "$data")
	[[ -n $RG_CONFIG ]] && args+=(--config "$RG_CONFIG")
	spawn "$WORK/$name.log" env REPLAYGATE_ADMIN_TOKEN="$RG_TOKEN" "$RG_BIN" "${args[@]}"
	wait_http "http://127.0.0.1:$port/" 30 "$SPAWNED_PID" || die "$name did not start: $(tail -5 "$WORK/$name.log")"
	URL[$name]="http://127.0.0.1:$port"
	PID[$name]=$SPAWNED_PID
	RG_ADMIN[$name]="http://127.0.0.1:$admin"
	# A token generated on first start wins over the one we offered.
	if [[ -s $data/admin.token ]]; then RG_TOKEN=$(tr -d ' \n' <"$data/admin.token"); fi
}

URL[direct]=$UPSTREAM
PID[direct]=$UP_PID
for peer in $PEERS; do
	case $peer in
	direct) ;;
	bare) start_bare bare ;;
	nginx) start_nginx nginx 0 ;;
	nginx-sub) start_nginx nginx-sub 1 ;;
	replaygate) start_replaygate replaygate ;;
	*) die "unknown peer $peer (known: direct bare nginx nginx-sub replaygate)" ;;
	esac
	log "peer $peer: ${URL[$peer]} (pid ${PID[$peer]})"
done

# --- throughput ---------------------------------------------------------
scenario_path() {
	case $1 in
	html-20k/*) echo /page-20k.html ;;
	html-150k/*) echo /page-150k.html ;;
	html-2m/*) echo /page-2m.html ;;
	html-10m/*) echo /page-10m.html ;;
	asset-100k) echo /static/app.js ;;
	*) die "unknown scenario $1" ;;
	esac
}
scenario_conns() {
	case $1 in
	html-2m/*) echo "$CONNS_2M" ;;
	html-10m/*) echo "$CONNS_10M" ;;
	*) echo "$CONNS" ;;
	esac
}
# scenario_type_accept: the Accept header a browser sends for it.
scenario_type_accept() {
	case $1 in
	asset-*) echo '*/*' ;;
	*) echo "$NAV_ACCEPT" ;;
	esac
}
scenario_accept() {
	case $1 in
	*/gzip) echo gzip ;;
	*) echo "$BROWSER_AE" ;;
	esac
}

CLK_TCK=$(getconf CLK_TCK)
: >"$WORK/runs.jsonl"
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
FIRST_WRK=""
for sc in $SCENARIOS; do
	path=$(scenario_path "$sc")
	ae=$(scenario_accept "$sc")
	conns=$(scenario_conns "$sc")
	accept=$(scenario_type_accept "$sc")
	html=true
	[[ $sc == asset-* ]] && html=false
	declare -A PROBE=()
	for ((round = 1; round <= REPEAT; round++)); do
		for peer in $PEERS; do
			url="${URL[$peer]}$path"
			if [[ -z ${PROBE[$peer]:-} ]]; then
				PROBE[$peer]=$("$WORK/bin/probe" --url "$url" --original "$UPSTREAM$path" --accept "$accept" --accept-encoding "$ae")
			fi
			probe=${PROBE[$peer]}
			wrk_cmd=(wrk -t"$THREADS" -c"$conns" -d"$DURATION" --timeout "$WRK_TIMEOUT" -s bench/report.lua
				-H "Accept-Encoding: $ae" -H "Accept: $accept" "$url")
			[[ -n $FIRST_WRK ]] || FIRST_WRK=$(shell_words "${wrk_cmd[@]}")
			if [[ $round == 1 && $WARMUP != 0 && $WARMUP != 0s ]]; then
				run_waited wrk -t"$THREADS" -c"$conns" -d"$WARMUP" --timeout "$WRK_TIMEOUT" -H "Accept-Encoding: $ae" -H "Accept: $accept" "$url" >/dev/null
			fi
			t0=$(cpu_ticks "${PID[$peer]}")
			run_waited "${wrk_cmd[@]}" >"$WORK/wrk.out" 2>&1 || die "wrk failed: $(cat "$WORK/wrk.out")"
			t1=$(cpu_ticks "${PID[$peer]}")
			result=$(sed -n 's/^WRK_RESULT //p' "$WORK/wrk.out")
			[[ -n $result ]] || die "no result from wrk: $(cat "$WORK/wrk.out")"
			cpu=$(awk -v d=$((t1 - t0)) -v hz="$CLK_TCK" 'BEGIN { printf "%.2f", d / hz }')
			printf '{"scenario":"%s","peer":"%s","round":%d,"html":%s,"accept":"%s","conns":%s,"cpu_s":%s,"wrk":%s,"probe":%s}\n' \
				"$sc" "$peer" "$round" "$html" "$ae" "$conns" "$cpu" "$result" "$probe" >>"$WORK/runs.jsonl"
			rps=$(sed -n 's/.*"rps":\([0-9.]*\).*/\1/p' <<<"$result")
			p99=$(sed -n 's/.*"p99_ms":\([0-9.]*\).*/\1/p' <<<"$result")
			bpr=$(sed -n 's/.*"bytes_per_req":\([0-9.]*\).*/\1/p' <<<"$result")
			enc=$(sed -n 's/.*"encoding":"\([^"]*\)".*/\1/p' <<<"$probe")
			tags=$(sed -n 's/.*"tag_count":\([0-9]*\).*/\1/p' <<<"$probe")
			intact=$(sed -n 's/.*"intact":\([a-z]*\).*/\1/p' <<<"$probe")
			log "$(printf '%-15s %-10s %9s req/s  p99 %8s ms  %10s B/resp  enc=%-8s injected=%s intact=%s cpu=%ss' \
				"$sc" "$peer" "$rps" "$p99" "$bpr" "${enc:-identity}" "$([[ $tags == 1 ]] && echo yes || echo "no($tags)")" "$intact" "$cpu")"
		done
	done
	unset PROBE
done
log "wrk command (first run; the others differ in URL, Accept-Encoding and -c): $FIRST_WRK"

# --- time to first byte -------------------------------------------------
: >"$WORK/ttfb.jsonl"
# Three ways: back to back (each request right after the previous 10 MB
# response); primed (each request right after a 20 KB page from the same
# peer, so every peer starts warm); and primed with the client at real-time
# priority (chrt -f 10), when the machine allows it. On 2 vCPUs the client
# otherwise waits in the run queue behind the peer's own work and the
# upstream's burst, up to a scheduler time slice after the bytes were sent
# (perf sched, docs/benchmarks.md): a visitor's browser does not share the
# proxy's CPUs, and the real-time client measures what it sees.
#
# The peers are measured interleaved, round by round in a random order
# (bench/cmd/ttfb), so a slow spell of the machine falls on all of them
# alike. Except nginx sub_filter: each of its requests compresses the
# whole page (about 70 ms of CPU), which leaves the caches cold for
# whichever peer comes next, so it is measured on its own, after them.
modes=(primed back-to-back)
chrt -f 10 true 2>/dev/null && modes=(primed-rt "${modes[@]}")
groups=()
if [[ $TTFB_N -gt 0 ]]; then
	light=""
	for peer in $PEERS; do [[ $peer == nginx-sub ]] || light+=" $peer"; done
	[[ -n $light ]] && groups+=("${light# }")
	[[ " $PEERS " == *" nginx-sub "* ]] && groups+=(nginx-sub)
fi
# ttfb_group MODE N PEER... — one interleaved measurement, one line per peer.
ttfb_group() {
	local mode=$1 n=$2 i=0 r
	shift 2
	local peers=("$@") urls=() prime=() rt=()
	for peer in "${peers[@]}"; do urls+=(--url "${URL[$peer]}/page-10m.html"); done
	[[ $mode == primed* ]] && prime=(--prime /page-20k.html)
	[[ $mode == *-rt ]] && rt=(chrt -f 10)
	run_waited "${rt[@]}" "$WORK/bin/ttfb" "${urls[@]}" -n "$n" --accept-encoding gzip "${prime[@]}" >"$WORK/tool.out" || die "ttfb $mode failed"
	while IFS= read -r r; do
		printf '{"peer":"%s","mode":"%s","result":%s}\n' "${peers[$i]}" "$mode" "$r" >>"$WORK/ttfb.jsonl"
		log "ttfb $mode ${peers[$i]}: $r"
		i=$((i + 1))
	done <"$WORK/tool.out"
	[[ $i == "${#peers[@]}" ]] || die "ttfb $mode: $i result lines for ${#peers[@]} peers"
}
# One unmeasured round first, so that every peer has seen the page
# (replaygate learns which paths to ask for precompressed gzip).
for g in "${groups[@]}"; do
	warm=()
	for peer in $g; do warm+=(--url "${URL[$peer]}/page-10m.html"); done
	run_waited "$WORK/bin/ttfb" "${warm[@]}" -n 1 --accept-encoding gzip >/dev/null || die "ttfb warm-up failed"
done
for mode in "${modes[@]}"; do
	for g in "${groups[@]}"; do
		n=$TTFB_N
		[[ $g == nginx-sub ]] && n=$TTFB_N_SLOW
		# shellcheck disable=SC2086 # $g is a list of peer names
		ttfb_group "$mode" "$n" $g
	done
done

# --- memory per in-flight response --------------------------------------
# Fresh processes, so the heap holds no garbage from the load above.
: >"$WORK/inflight.jsonl"
if [[ " $PEERS " == *" replaygate "* && $INFLIGHT_K -gt 0 ]]; then
	stop "${PID[replaygate]}"
	for ae in gzip "$BROWSER_AE"; do
		for who in replaygate bare; do
			if [[ $who == replaygate ]]; then
				name="replaygate-mem-${ae%%,*}"
				start_replaygate "$name"
				metrics="${RG_ADMIN[$name]}/metrics"
			else
				name="bare-mem-${ae%%,*}"
				admin=$(free_port)
				start_bare "$name" --admin-listen "127.0.0.1:$admin"
				metrics="http://127.0.0.1:$admin/metrics"
				wait_http "$metrics" 10 || die "bare admin did not start"
			fi
			export INFLIGHT_TOKEN=$RG_TOKEN
			run_waited "$WORK/bin/inflight" --url "${URL[$name]}/page-10m.html" \
				--metrics "$metrics" --pid "${PID[$name]}" -k "$INFLIGHT_K" --accept-encoding "$ae" \
				--gc-url "${URL[$name]}/page-20k.html" >"$WORK/tool.out" 2>>"$WORK/inflight.log" || die "inflight $who failed: $(tail -3 "$WORK/inflight.log")"
			r=$(cat "$WORK/tool.out")
			printf '{"peer":"%s","accept":"%s","result":%s}\n' "$who" "$ae" "$r" >>"$WORK/inflight.jsonl"
			log "inflight $who ($ae): $r"
			stop "${PID[$name]}"
		done
	done
fi

# --- report -------------------------------------------------------------
LOAD_END=$(cut -d' ' -f1-3 /proc/loadavg)
version() { "$@" 2>&1 | head -1 | tr -d '"\\' || true; }
cat >"$WORK/meta.json" <<META
{
  "date": "$(date -u '+%Y-%m-%d %H:%M UTC')",
  "command": "$COMMAND",
  "machine": "$(nproc) CPUs ($(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -1 | tr -d '"\\')), Linux $(uname -r), everything on loopback",
  "load": "$LOAD_START (at end: $LOAD_END)",
  "versions": {
    "replaygate": "$(version "$RG_BIN" version)",
    "nginx": "$(version nginx -v)",
    "wrk": "$(version wrk -v)",
    "go": "$(version go version)"
  },
  "knobs": {
    "duration": "$DURATION", "warmup": "$WARMUP", "repeat": "$REPEAT (best run kept)", "connections": "$CONNS (2 MB: $CONNS_2M, 10 MB: $CONNS_10M)", "wrk threads": "$THREADS",
    "nginx workers": "$NGINX_WORKERS", "nginx gzip_comp_level": "$NGINX_GZIP_LEVEL", "ttfb n": "$TTFB_N", "ttfb n sub_filter": "$TTFB_N_SLOW", "inflight k": "$INFLIGHT_K"
  },
  "notes": [
    "All processes share the same $(nproc) cores as wrk and the upstream; other work on the machine adds noise (see load average). Compare peers within a scenario: they ran back to back.",
    "cpu_s in the raw results is the CPU time the peer process (with nginx workers) used during the measured run."
  ]
}
META
printf "%s\n" "$FIRST_WRK" >"$WORK/wrk-command.txt"
mkdir -p "$(dirname "$OUT")"
"$WORK/bin/report" --dir "$WORK" >"$OUT.tmp"
mv "$OUT.tmp" "$OUT"
raw="${OUT%.md}.raw"
mkdir -p "$raw"
cp "$WORK"/{meta.json,manifest.json,runs.jsonl,ttfb.jsonl,inflight.jsonl,wrk-command.txt} "$raw/"
cat "$OUT"
log "report written to $OUT (raw results in $raw)"
