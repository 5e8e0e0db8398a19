# Sourced by the scripts that run one test server in the background (scripts/cassandra.sh, scripts/mongodb.sh):
# its pid file, start lock, readiness wait, stop and status. The sourcing script sets NAME (the server, in
# messages), TAG (the log prefix), HOST, PORT, PORT_VARIABLE (the environment variable that moves the port),
# RUN_DIR, PID_FILE, LOG_FILE, LOG_TAIL_LINES, PROCESS_PATTERN (found in the server's command line),
# START_TIMEOUT and STOP_GRACE, and defines is_ready (the server answers).

log() { echo "[$TAG] $*" >&2; }
die() { echo "[$TAG] ERROR: $*" >&2; exit 1; }

port_open() { timeout 2 bash -c "exec 3<>/dev/tcp/$HOST/$PORT" 2>/dev/null; }

# pid of our server from the pid file, or empty if not running
running_pid() {
  [[ -f "$PID_FILE" ]] || return 0
  local pid
  pid="$(cat "$PID_FILE" 2>/dev/null || true)"
  [[ "$pid" =~ ^[0-9]+$ ]] || return 0
  if kill -0 "$pid" 2>/dev/null && tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q "$PROCESS_PATTERN"; then
    echo "$pid"
  fi
}

log_tail() {
  if [[ -f "$LOG_FILE" ]]; then
    echo "----- last $LOG_TAIL_LINES lines of $LOG_FILE -----" >&2
    tail -n "$LOG_TAIL_LINES" "$LOG_FILE" >&2 || true
    echo "-----" >&2
  fi
}

wait_ready() { # $1 pid
  local pid="$1" deadline=$((SECONDS + START_TIMEOUT)) next_note=$((SECONDS + 15))
  while ((SECONDS < deadline)); do
    if ! kill -0 "$pid" 2>/dev/null; then
      log_tail
      rm -f "$PID_FILE"
      die "$NAME (pid $pid) exited during start-up"
    fi
    if is_ready; then return 0; fi
    if ((SECONDS >= next_note)); then
      log "still starting ... ($((START_TIMEOUT - (deadline - SECONDS)))s)"
      next_note=$((SECONDS + 15))
    fi
    sleep 0.5
  done
  log_tail
  cmd_stop >/dev/null 2>&1 || true
  die "$NAME not answering on $HOST:$PORT after ${START_TIMEOUT}s"
}

# Takes the start lock, so concurrent starts queue, and says whether our server is already up (once it is ready).
# Refuses a port that another process holds.
already_running() {
  mkdir -p "$RUN_DIR"
  # fd 9 holds the lock; launch closes it for the server, so the server never holds it.
  exec 9>"$RUN_DIR/.lock"
  flock -w $((START_TIMEOUT + 300)) 9 || die "could not take $RUN_DIR/.lock"
  local pid
  pid="$(running_pid)"
  if [[ -n "$pid" ]]; then
    wait_ready "$pid"
    log "already running (pid $pid) on $HOST:$PORT"
    return 0
  fi
  rm -f "$PID_FILE"
  if port_open; then
    die "$HOST:$PORT is already in use by another process (not started by this script); set $PORT_VARIABLE"
  fi
  return 1
}

launch() { # the server's command line, run from RUN_DIR with its output in LOG_FILE; returns once it is ready
  local started=$SECONDS pid
  : >"$LOG_FILE"
  (cd "$RUN_DIR" && exec setsid "$@" </dev/null >>"$LOG_FILE" 2>&1 9>&-) &
  pid=$!
  echo "$pid" >"$PID_FILE"
  wait_ready "$pid"
  log "ready on $HOST:$PORT (pid $pid) after $((SECONDS - started))s"
}

cmd_stop() {
  local pid
  pid="$(running_pid)"
  if [[ -z "$pid" ]]; then
    rm -f "$PID_FILE"
    log "not running"
    return 0
  fi
  log "stopping pid $pid ..."
  kill -TERM "$pid" 2>/dev/null || true
  local deadline=$((SECONDS + STOP_GRACE))
  while kill -0 "$pid" 2>/dev/null && ((SECONDS < deadline)); do sleep 0.2; done
  if kill -0 "$pid" 2>/dev/null; then
    log "still alive after ${STOP_GRACE}s; sending KILL"
    kill -KILL "$pid" 2>/dev/null || true
    while kill -0 "$pid" 2>/dev/null; do sleep 0.2; done
  fi
  rm -f "$PID_FILE"
  log "stopped"
}

cmd_status() {
  local pid
  pid="$(running_pid)"
  if [[ -z "$pid" ]]; then echo "not running"; return 1; fi
  if is_ready; then echo "running (pid $pid), answering on $HOST:$PORT"; return 0; fi
  echo "running (pid $pid), not answering yet on $HOST:$PORT"; return 1
}
