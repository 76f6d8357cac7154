# bench/lib.sh — process and port helpers shared by run.sh and ingest.sh.
# Sourced, not executed. Every process started with `spawn` is stopped by
# `stop_all`, which the scripts install as their EXIT trap.

BENCH_PIDS=()

# Log to the script's stderr as it was when sourced, even from a trap that
# fires while a command's output is redirected to a file.
exec {BENCH_LOG_FD}>&2
log() { printf '[%s] %s\n' "$(date -u +%H:%M:%S)" "$*" >&"$BENCH_LOG_FD"; }
die() { log "error: $*"; exit 1; }

# spawn LOGFILE CMD... — start CMD in the background, remember its pid in
# SPAWNED_PID and in the list stop_all stops.
spawn() {
	local logfile=$1; shift
	"$@" >"$logfile" 2>&1 &
	SPAWNED_PID=$!
	BENCH_PIDS+=("$SPAWNED_PID")
}

# stop PID — TERM, then KILL after 5 s; waits for it.
stop() {
	local pid=$1 i
	kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null || true; return 0; }
	kill -TERM "$pid" 2>/dev/null || true
	for ((i = 0; i < 50; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
}

# stop_all — stop every spawned process, newest first.
stop_all() {
	local i
	for ((i = ${#BENCH_PIDS[@]} - 1; i >= 0; i--)); do
		stop "${BENCH_PIDS[i]}"
	done
	BENCH_PIDS=()
}

# run_waited CMD... — run CMD in the background and wait for it, so a
# trapped INT/TERM interrupts the wait at once and the trap can stop CMD.
run_waited() {
	"$@" &
	local pid=$!
	BENCH_PIDS+=("$pid")
	local rc=0
	wait "$pid" || rc=$?
	local keep=() p
	for p in "${BENCH_PIDS[@]}"; do [[ $p == "$pid" ]] || keep+=("$p"); done
	BENCH_PIDS=("${keep[@]}")
	return "$rc"
}

# port_free PORT — true when nothing accepts connections on 127.0.0.1:PORT.
port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# free_port — print a free loopback port from a random start in 20000-29999,
# never one handed out before by this script.
BENCH_PORTS_TAKEN=" "
free_port() {
	local p=$((20000 + RANDOM % 10000)) i
	for ((i = 0; i < 2000; i++)); do
		if [[ $BENCH_PORTS_TAKEN != *" $p "* ]] && port_free "$p"; then
			BENCH_PORTS_TAKEN+="$p "
			echo "$p"
			return 0
		fi
		p=$((p >= 29999 ? 20000 : p + 1))
	done
	die "no free port"
}

# wait_http URL [SECONDS] [PID] — wait until URL answers any HTTP status;
# fail early if PID died.
wait_http() {
	local url=$1 secs=${2:-30} pid=${3:-} i code
	for ((i = 0; i < secs * 10; i++)); do
		code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$url" || true)
		[[ $code != 000 && -n $code ]] && return 0
		if [[ -n $pid ]] && ! kill -0 "$pid" 2>/dev/null; then
			return 1
		fi
		sleep 0.1
	done
	return 1
}

# cpu_ticks PID... — user+system clock ticks of the processes and of their
# direct children (nginx workers), summed.
cpu_ticks() {
	local total=0 p c stat rest
	local -a f all=()
	for p in "$@"; do
		all+=("$p")
		if [[ -r /proc/$p/task/$p/children ]]; then
			for c in $(cat "/proc/$p/task/$p/children"); do all+=("$c"); done
		fi
	done
	for p in "${all[@]}"; do
		stat=$(cat "/proc/$p/stat" 2>/dev/null) || continue
		rest=${stat##*) }
		read -r -a f <<<"$rest"
		total=$((total + f[11] + f[12]))
	done
	echo "$total"
}

# shell_words ARGS... — print ARGS as one shell command line, single-quoting
# the words that need it, so it can be copied and run.
shell_words() {
	local out="" w
	for w in "$@"; do
		if [[ $w =~ ^[A-Za-z0-9_./:=@%+,-]+$ ]]; then
			out+="$w "
		else
			out+="'${w//\'/\'\\\'\'}' "
		fi
	done
	printf '%s' "${out% }"
}
