#!/usr/bin/env bash
# bench/ingest.sh — ingest load: accepted segments/s and latency of
# POST /__replay/ingest with gzip rrweb segments, fsync on (issue 4 target:
# ≥ 2,000 segments/s of 20 KB segments).
#
# MODE=serve (default) starts the bench upstream and `replaygate serve` on a
# fresh data dir; MODE=demo starts `replaygate demo`; TARGET=http://host:port
# uses a replaygate that is already running (set ADMIN and
# REPLAYGATE_ADMIN_TOKEN to also check that the segments reach the store).
# Consent cookies come from POST /__replay/consent with a same-origin Origin,
# as the gate would get them. Writes bench/results/ingest-latest.md.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
# shellcheck source=bench/lib.sh
source bench/lib.sh

MODE=${MODE:-serve}
TARGET=${TARGET:-}
ADMIN=${ADMIN:-}
PREFIX=${PREFIX:-/__replay}
DURATION=${DURATION:-10s}
WARMUP=${WARMUP:-2s}
CONNS=${CONNS:-32}
SUBJECTS=${SUBJECTS:-1024}
PER_REPLAY=${PER_REPLAY:-10}
SIZE=${SIZE:-20480}
SIZE_OF=${SIZE_OF:-json}
DRAIN=${DRAIN:-60s}
# RG_BIN: a replaygate binary to measure; by default the working tree is
# built into bin/replaygate first, so a stale binary is never measured.
BUILD_RG=0
[[ -z ${RG_BIN:-} ]] && BUILD_RG=1
RG_BIN=${RG_BIN:-$ROOT/bin/replaygate}
RG_CONFIG=${RG_CONFIG:-}
DATA_PARENT=${DATA_PARENT:-/tmp}
OUT=${OUT:-$ROOT/bench/results/ingest-latest.md}
KEEP_WORK=${KEEP_WORK:-0}

COMMAND="MODE=$MODE DURATION=$DURATION WARMUP=$WARMUP CONNS=$CONNS SUBJECTS=$SUBJECTS PER_REPLAY=$PER_REPLAY SIZE=$SIZE SIZE_OF=$SIZE_OF ./bench/ingest.sh"
[[ -z $TARGET ]] || COMMAND="TARGET=$TARGET $COMMAND"

WORK=$(mktemp -d "$DATA_PARENT/replaygate-ingest.XXXXXX")
cleanup() {
	local rc=$?
	trap - EXIT INT TERM
	stop_all
	if [[ $KEEP_WORK == 1 || $rc != 0 ]]; then
		log "work dir kept: $WORK"
	else
		rm -rf "$WORK"
	fi
	exit "$rc"
}
trap cleanup EXIT
trap 'log "interrupted"; exit 130' INT TERM
log "command: $COMMAND"

mkdir -p "$WORK/bin"
run_waited go build -o "$WORK/bin/" ./bench/cmd/ingestload ./bench/cmd/upstream
TOKEN=${REPLAYGATE_ADMIN_TOKEN:-$(od -An -N24 -tx1 /dev/urandom | tr -d ' \n')}
DATA="$WORK/data"
RG_PID=""

if [[ -z $TARGET ]]; then
	if [[ $BUILD_RG == 1 ]]; then log "building $RG_BIN from the working tree"; go build -o "$RG_BIN" ./cmd/replaygate; fi
	port=$(free_port)
	admin=$(free_port)
	extra=()
	[[ -n $RG_CONFIG ]] && extra+=(--config "$RG_CONFIG")
	case $MODE in
	serve)
		up=$(free_port)
		spawn "$WORK/upstream.log" "$WORK/bin/upstream" --listen "127.0.0.1:$up"
		wait_http "http://127.0.0.1:$up/" 60 "$SPAWNED_PID" || die "upstream did not start"
		spawn "$WORK/replaygate.log" env REPLAYGATE_ADMIN_TOKEN="$TOKEN" "$RG_BIN" serve "${extra[@]}" \
			--upstream "http://127.0.0.1:$up" --listen "127.0.0.1:$port" --admin-listen "127.0.0.1:$admin" --data-dir "$DATA"
		;;
	demo)
		spawn "$WORK/replaygate.log" env REPLAYGATE_ADMIN_TOKEN="$TOKEN" "$RG_BIN" demo "${extra[@]}" \
			--listen "127.0.0.1:$port" --admin-listen "127.0.0.1:$admin" --data-dir "$DATA"
		;;
	*) die "MODE must be serve or demo (or set TARGET)" ;;
	esac
	RG_PID=$SPAWNED_PID
	wait_http "http://127.0.0.1:$port/" 30 "$RG_PID" || die "replaygate did not start: $(tail -5 "$WORK/replaygate.log")"
	TARGET="http://127.0.0.1:$port"
	ADMIN="http://127.0.0.1:$admin"
	# A token generated on first start wins over the one offered.
	if [[ -s $DATA/admin.token ]]; then
		TOKEN=$(tr -d ' \n' <"$DATA/admin.token")
	elif t=$(sed -n 's/.*[Aa]dmin token[^:]*: *\([0-9A-Za-z_-]\{16,\}\).*/\1/p' "$WORK/replaygate.log" | head -1) && [[ -n $t ]]; then
		TOKEN=$t
	fi
	FS="$(df -PT "$DATA" | awk 'NR==2 {print $2}') ($DATA)"
else
	FS="unknown (external target)"
fi
log "target $TARGET, admin ${ADMIN:-none}, data dir filesystem: $FS"

# Refuse to report figures for an endpoint that is not there yet.
code=$(curl -s -o /dev/null -w '%{http_code}' -X POST -H 'Content-Type: application/json' -H "Origin: $TARGET" \
	--data '{"decision":"granted"}' "$TARGET$PREFIX/consent" || true)
[[ $code == 2* ]] || die "POST $PREFIX/consent answered $code: the consent endpoint is not wired yet"

load() { # load DURATION [ADMIN]
	local args=(--target "$TARGET" --prefix "$PREFIX" --duration "$1" --conns "$CONNS" --subjects "$SUBJECTS" --segments-per-replay "$PER_REPLAY" --size "$SIZE" --size-of "$SIZE_OF")
	[[ -n ${2:-} ]] && args+=(--admin "$2" --drain "$DRAIN")
	REPLAYGATE_ADMIN_TOKEN=$TOKEN
	export REPLAYGATE_ADMIN_TOKEN
	run_waited "$WORK/bin/ingestload" "${args[@]}" >"$WORK/load.out" 2>"$WORK/load.err" || die "ingestload failed: $(tail -3 "$WORK/load.err")"
	LOAD_CMD=$(shell_words ingestload "${args[@]}")
}

if [[ $WARMUP != 0 && $WARMUP != 0s ]]; then
	load "$WARMUP"
	log "warm-up: $(cat "$WORK/load.out")"
fi
t0=0
[[ -n $RG_PID ]] && t0=$(cpu_ticks "$RG_PID")
load "$DURATION" "$ADMIN"
t1=0
[[ -n $RG_PID ]] && t1=$(cpu_ticks "$RG_PID")
result=$(cat "$WORK/load.out")
log "result: $result"

field() { sed -n "s/.*\"$1\":\\([^,}]*\\).*/\\1/p" <<<"$result" | tr -d '"'; }
accepted_per_s=$(field accepted_per_s)
cpu=$(awk -v d=$((t1 - t0)) -v hz="$(getconf CLK_TCK)" 'BEGIN { printf "%.2f", d / hz }')
target_met="**not met**"
awk -v a="$accepted_per_s" 'BEGIN { exit !(a >= 2000) }' && target_met="**met**"

mkdir -p "$(dirname "$OUT")"
cat >"$OUT" <<MD
# replaygate ingest load — $(date -u '+%Y-%m-%d %H:%M UTC')

Command: \`$COMMAND\`
Load generator: \`$LOAD_CMD\`

Machine: $(nproc) CPUs, Linux $(uname -r), loopback; load average at start of the measured run: $(cut -d' ' -f1-3 /proc/loadavg).
Data dir filesystem: $FS (fsync as configured by replaygate; on tmpfs fsync would cost nothing).
replaygate: $("$RG_BIN" version 2>/dev/null || echo unknown), mode $MODE.

| measure | value |
|---|---|
| segment size (JSON → gzip on the wire) | $(field segment_json_bytes) B → $(field segment_gzip_bytes) B |
| connections / consenting subjects / segments per replay | $(field conns) / $(field subjects) / $PER_REPLAY (each new replay goes to the next subject in turn) |
| duration | $(field duration_s) s |
| uploads sent | $(field sent) |
| accepted (202) | $(field accepted) |
| **accepted segments/s** | **$accepted_per_s** |
| JSON / wire throughput | $(field json_mb_per_s) / $(field wire_mb_per_s) MB/s |
| latency of accepted uploads p50 / p90 / p99 / max | $(field p50_ms) / $(field p90_ms) / $(field p99_ms) / $(field max_ms) ms |
| replaygate CPU during the run | ${cpu} s ($(awk -v c="$cpu" -v a="$(field accepted)" 'BEGIN { if (a > 0) printf "%.2f", 1000 * c / a; else printf "–" }') ms per accepted segment, delivery to the local store included) |
| statuses | \`$(sed -n 's/.*"statuses":\({[^}]*}\).*/\1/p' <<<"$result")\` |
| first refusal or error | $(field first_error) |
| stored (admin API) / wait after the run | $(field stored) after $(field stored_after_s) s $(field stored_note) |
| delivered to the store per second (stored ÷ (duration + wait)) | $(awk -v n="$(field stored)" -v d="$(field duration_s)" -v w="$(field stored_after_s)" 'BEGIN { if (n > 0) printf "%.0f", n / (d + w); else printf "–" }') — the rate sustainable once the spool is full |

Target (issue 4): ≥ 2,000 accepted segments/s of 20 KB gzip with fsync on — $target_met.

Raw: \`$result\`
MD
cat "$OUT"
log "report written to $OUT"
