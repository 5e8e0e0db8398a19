#!/usr/bin/env bash
# PostgreSQL and MariaDB on loopback (127.0.0.1) for the iPubSub test suites.
#
# Usage (as root, from any directory):
#   scripts/databases.sh install   # install postgresql + mariadb-server if missing
#   scripts/databases.sh start     # (install if missing,) start both, create user/db "ipubsub"
#   scripts/databases.sh stop      # stop both
#   scripts/databases.sh status    # show whether each one accepts connections
#   scripts/databases.sh env       # print the test connection URLs as shell exports
#
#   eval "$(scripts/databases.sh env)"
#
# Works without systemd: PostgreSQL is run through pg_ctlcluster (pg_ctl),
# MariaDB through mysqld_safe started in its own session. Every subcommand is
# idempotent. Durability settings (fsync, innodb_flush_log_at_trx_commit=1,
# doublewrite) are deliberately left at their safe defaults so that test
# timings reflect a real, durable deployment.
set -euo pipefail

readonly DB_USER=ipubsub
readonly DB_PASSWORD=ipubsub
readonly DB_NAME=ipubsub
readonly DB_HOST=127.0.0.1
readonly PG_PORT=5432
readonly MY_PORT=3306
readonly WAIT_SECONDS=60

readonly MY_DATADIR=/var/lib/mysql
readonly MY_RUNDIR=/run/mysqld
readonly MY_SOCKET="$MY_RUNDIR/mysqld.sock"
readonly MY_PIDFILE="$MY_RUNDIR/mysqld.pid"
readonly MY_SAFE_PIDFILE="$MY_RUNDIR/ipubsub-mysqld_safe.pid"
readonly MY_LOGDIR=/var/log/mysql
readonly MY_ERRLOG="$MY_LOGDIR/ipubsub-mariadb.err"
readonly MY_SAFELOG="$MY_LOGDIR/ipubsub-mysqld_safe.out"

export DEBIAN_FRONTEND=noninteractive

log() { printf '[databases] %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

require_root() {
  [[ $(id -u) -eq 0 ]] || die "must run as root (try: sudo $0 $*)"
}

# First existing command out of the candidates (MariaDB renamed its binaries;
# older packages only ship the mysql* names). /usr/sbin is searched too because
# it is not always on PATH.
pick() {
  local c
  for c in "$@"; do
    if command -v "$c" >/dev/null 2>&1; then command -v "$c"; return 0; fi
    if [[ -x /usr/sbin/$c ]]; then echo "/usr/sbin/$c"; return 0; fi
    if [[ -x /usr/bin/$c ]]; then echo "/usr/bin/$c"; return 0; fi
  done
  return 1
}

# ---------------------------------------------------------------- install ---

pg_installed() {
  command -v pg_ctlcluster >/dev/null 2>&1 && compgen -G '/usr/lib/postgresql/*/bin/postgres' >/dev/null
}

mariadb_installed() {
  pick mariadbd mysqld >/dev/null && pick mysqld_safe mariadbd-safe >/dev/null &&
    pick mariadb mysql >/dev/null && pick mariadb-install-db mysql_install_db >/dev/null
}

apt_has_candidate() {
  local cand
  cand=$(apt-cache policy "$1" 2>/dev/null | awk '/Candidate:/ {print $2}')
  [[ -n $cand && $cand != "(none)" ]]
}

cmd_install() {
  require_root
  local pkgs=()
  pg_installed || pkgs+=(postgresql)
  mariadb_installed || pkgs+=(mariadb-server)
  if [[ ${#pkgs[@]} -eq 0 ]]; then
    log "postgresql and mariadb-server are already installed"
    return 0
  fi
  command -v apt-get >/dev/null 2>&1 || die "missing ${pkgs[*]} and apt-get is not available"

  # Don't let the maintainer scripts start the services (there is no init
  # system to own them); `start` runs them itself. Keep an existing policy.
  local own_policy=0
  if [[ ! -e /usr/sbin/policy-rc.d ]]; then
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
    chmod 755 /usr/sbin/policy-rc.d
    own_policy=1
    trap 'rm -f /usr/sbin/policy-rc.d' EXIT
  fi

  # Only refresh the package lists when they don't know the packages yet.
  local p need_update=0
  for p in "${pkgs[@]}"; do apt_has_candidate "$p" || need_update=1; done
  if [[ $need_update -eq 1 ]]; then
    log "apt-get update"
    apt-get update -q
  fi
  local apt_install=(apt-get install -y -q --no-install-recommends
    -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold "${pkgs[@]}")
  log "installing: ${pkgs[*]}"
  if ! "${apt_install[@]}"; then
    if [[ $need_update -eq 0 ]]; then
      # Lists may be stale (old versions gone from the mirror): refresh, retry.
      log "install failed; running apt-get update and retrying"
      apt-get update -q
      "${apt_install[@]}"
    else
      die "apt-get install ${pkgs[*]} failed"
    fi
  fi
  if [[ $own_policy -eq 1 ]]; then
    rm -f /usr/sbin/policy-rc.d
    trap - EXIT
  fi
  pg_installed || die "PostgreSQL still missing after install"
  mariadb_installed || die "MariaDB still missing after install"
}

# ------------------------------------------------------------- PostgreSQL ---

# Prints "<version> <cluster>": the cluster already on port 5432, else the
# newest version's first cluster, else a freshly created <newest>/main.
pg_cluster() {
  local line
  line=$(pg_lsclusters -h 2>/dev/null | awk -v p="$PG_PORT" '$3 == p {print $1, $2; exit}')
  if [[ -z $line ]]; then
    local ver
    ver=$(ls /usr/lib/postgresql | sort -V | tail -n1)
    line=$(pg_lsclusters -h 2>/dev/null | awk -v v="$ver" '$1 == v {print $1, $2; exit}')
    if [[ -z $line ]]; then
      log "creating PostgreSQL cluster $ver/main"
      pg_createcluster --port="$PG_PORT" "$ver" main >&2
      line="$ver main"
    fi
  fi
  echo "$line"
}

pg_status() { # -> online | down | ...
  pg_lsclusters -h 2>/dev/null | awk -v v="$1" -v c="$2" '$1 == v && $2 == c {print $4; exit}'
}

pg_logfile() {
  pg_lsclusters -h 2>/dev/null | awk -v v="$1" -v c="$2" '$1 == v && $2 == c {print $7; exit}'
}

pg_ready() { pg_isready -q -h "$DB_HOST" -p "$PG_PORT" -t 2 >/dev/null 2>&1; }

pg_start() {
  local line ver cluster
  line=$(pg_cluster)
  read -r ver cluster <<<"$line"
  local confdir="/etc/postgresql/$ver/$cluster/conf.d"
  local conf="$confdir/ipubsub-tests.conf"
  local want
  want=$(cat <<EOF
# Managed by iPubSub scripts/databases.sh: loopback only, fixed port.
listen_addresses = '$DB_HOST'
port = $PG_PORT
EOF
)
  mkdir -p "$confdir"
  local changed=0
  if [[ ! -f $conf ]] || [[ "$(cat "$conf")" != "$want" ]]; then
    printf '%s\n' "$want" >"$conf"
    chown postgres:postgres "$conf" 2>/dev/null || true
    changed=1
  fi
  # postgresql.conf must include conf.d (Debian's default does).
  grep -Eq "^[[:space:]]*include_dir[[:space:]]*=[[:space:]]*'conf.d'" \
    "/etc/postgresql/$ver/$cluster/postgresql.conf" ||
    printf "include_dir = 'conf.d'\n" >>"/etc/postgresql/$ver/$cluster/postgresql.conf"

  install -d -o postgres -g postgres -m 2775 /var/run/postgresql

  local st
  st=$(pg_status "$ver" "$cluster")
  if [[ $st == online* ]]; then
    if [[ $changed -eq 1 ]]; then
      log "PostgreSQL $ver/$cluster: configuration changed, restarting"
      pg_ctlcluster "$ver" "$cluster" restart -m fast
    else
      log "PostgreSQL $ver/$cluster already running"
    fi
  else
    log "starting PostgreSQL $ver/$cluster"
    # Run as the cluster owner; pg_ctl detaches the postmaster into its own
    # session, so it outlives this script.
    if ! pg_ctlcluster "$ver" "$cluster" start; then
      log "pg_ctlcluster start failed; log tail:"
      tail -n 40 "$(pg_logfile "$ver" "$cluster")" >&2 || true
      exit 1
    fi
  fi

  local i
  for ((i = 0; i < WAIT_SECONDS * 5; i++)); do
    pg_ready && break
    sleep 0.2
  done
  if ! pg_ready; then
    log "PostgreSQL is not accepting connections on $DB_HOST:$PG_PORT after ${WAIT_SECONDS}s; log tail:"
    tail -n 40 "$(pg_logfile "$ver" "$cluster")" >&2 || true
    exit 1
  fi

  # Role and database (idempotent). CREATEDB lets tests make scratch databases.
  runuser -u postgres -- psql -X -q -v ON_ERROR_STOP=1 -p "$PG_PORT" -d postgres >&2 <<EOF
SELECT format('CREATE ROLE %I', '$DB_USER')
 WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '$DB_USER') \gexec
ALTER ROLE "$DB_USER" WITH LOGIN CREATEDB PASSWORD '$DB_PASSWORD';
SELECT format('CREATE DATABASE %I OWNER %I', '$DB_NAME', '$DB_USER')
 WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = '$DB_NAME') \gexec
ALTER DATABASE "$DB_NAME" OWNER TO "$DB_USER";
EOF
  # End-to-end check: the test credentials work over TCP.
  PGPASSWORD="$DB_PASSWORD" PGCONNECT_TIMEOUT=5 psql -X -q -h "$DB_HOST" -p "$PG_PORT" \
    -U "$DB_USER" -d "$DB_NAME" -tAc 'SELECT 1' >/dev/null ||
    die "PostgreSQL: login as $DB_USER over TCP failed"
  log "PostgreSQL ready on $DB_HOST:$PG_PORT (user/db $DB_USER)"
}

pg_stop() {
  pg_installed || { log "PostgreSQL not installed"; return 0; }
  local line ver cluster
  line=$(pg_lsclusters -h 2>/dev/null | awk -v p="$PG_PORT" '$3 == p {print $1, $2; exit}')
  [[ -n $line ]] || { log "no PostgreSQL cluster on port $PG_PORT"; return 0; }
  read -r ver cluster <<<"$line"
  if [[ $(pg_status "$ver" "$cluster") == online* ]]; then
    log "stopping PostgreSQL $ver/$cluster"
    pg_ctlcluster "$ver" "$cluster" stop -m fast
  else
    log "PostgreSQL $ver/$cluster already stopped"
  fi
}

# ---------------------------------------------------------------- MariaDB ---

my_client() { pick mariadb mysql; }
my_admin() { pick mariadb-admin mysqladmin; }

# Server alive on the local socket (root via unix_socket authentication).
my_alive() {
  "$(my_admin)" --no-defaults --socket="$MY_SOCKET" -uroot --connect-timeout=2 ping >/dev/null 2>&1
}

# Something listens on 127.0.0.1:3306 (plain TCP connect; a login attempt
# would fail before the ipubsub user exists).
my_tcp_ready() {
  timeout 3 bash -c "exec 3<>/dev/tcp/$DB_HOST/$MY_PORT" >/dev/null 2>&1
}

my_log_tail() {
  local f
  for f in "$MY_ERRLOG" "$MY_SAFELOG"; do
    [[ -s $f ]] && { log "--- tail $f"; tail -n 40 "$f" >&2; }
  done
  return 0
}

my_start() {
  id mysql >/dev/null 2>&1 || die "system user 'mysql' is missing (is mariadb-server installed?)"
  install -d -o mysql -g mysql -m 755 "$MY_RUNDIR"
  install -d -o mysql -g adm -m 2750 "$MY_LOGDIR"

  if my_alive; then
    log "MariaDB already running"
  elif my_safe_pid >/dev/null; then
    log "MariaDB: mysqld_safe already running (pid $(my_safe_pid)), waiting for the server"
  else
    if [[ ! -d $MY_DATADIR/mysql ]]; then
      log "initialising MariaDB datadir $MY_DATADIR"
      install -d -o mysql -g mysql -m 755 "$MY_DATADIR"
      if ! "$(pick mariadb-install-db mysql_install_db)" --user=mysql --datadir="$MY_DATADIR" \
        --auth-root-authentication-method=socket --skip-test-db >"$MY_LOGDIR/ipubsub-install-db.log" 2>&1; then
        tail -n 40 "$MY_LOGDIR/ipubsub-install-db.log" >&2
        die "mariadb-install-db failed"
      fi
    fi
    local safe
    safe=$(pick mysqld_safe mariadbd-safe)
    log "starting MariaDB ($safe)"
    : >"$MY_SAFELOG"
    # Options on the command line override /etc/mysql/*: loopback only, fixed
    # port, no DNS lookups on connect (faster; grants use IPs / '%').
    # setsid: own session, so the server outlives this script and its job.
    setsid nohup "$safe" \
      --user=mysql \
      --datadir="$MY_DATADIR" \
      --socket="$MY_SOCKET" \
      --pid-file="$MY_PIDFILE" \
      --log-error="$MY_ERRLOG" \
      --bind-address="$DB_HOST" \
      --port="$MY_PORT" \
      --skip-name-resolve \
      --skip-syslog \
      >>"$MY_SAFELOG" 2>&1 </dev/null &
    echo "$!" >"$MY_SAFE_PIDFILE"
    disown || true
  fi

  local i
  for ((i = 0; i < WAIT_SECONDS * 5; i++)); do
    my_alive && my_tcp_ready && break
    sleep 0.2
  done
  if ! { my_alive && my_tcp_ready; }; then
    log "MariaDB is not accepting connections on $DB_HOST:$MY_PORT after ${WAIT_SECONDS}s"
    my_log_tail
    exit 1
  fi

  # User and database (idempotent). Grants also cover ipubsub_* databases so
  # tests can create scratch databases.
  "$(my_client)" --no-defaults --socket="$MY_SOCKET" -uroot <<EOF
CREATE DATABASE IF NOT EXISTS \`$DB_NAME\` CHARACTER SET utf8mb4;
CREATE USER IF NOT EXISTS '$DB_USER'@'%' IDENTIFIED BY '$DB_PASSWORD';
CREATE USER IF NOT EXISTS '$DB_USER'@'localhost' IDENTIFIED BY '$DB_PASSWORD';
ALTER USER '$DB_USER'@'%' IDENTIFIED BY '$DB_PASSWORD';
ALTER USER '$DB_USER'@'localhost' IDENTIFIED BY '$DB_PASSWORD';
GRANT ALL PRIVILEGES ON \`$DB_NAME\`.* TO '$DB_USER'@'%';
GRANT ALL PRIVILEGES ON \`${DB_NAME}\\_%\`.* TO '$DB_USER'@'%';
GRANT ALL PRIVILEGES ON \`$DB_NAME\`.* TO '$DB_USER'@'localhost';
GRANT ALL PRIVILEGES ON \`${DB_NAME}\\_%\`.* TO '$DB_USER'@'localhost';
FLUSH PRIVILEGES;
EOF
  # End-to-end check: the test credentials work over TCP.
  "$(my_client)" --no-defaults --protocol=tcp -h "$DB_HOST" -P "$MY_PORT" \
    -u"$DB_USER" -p"$DB_PASSWORD" -D "$DB_NAME" -N -B -e 'SELECT 1' >/dev/null ||
    die "MariaDB: login as $DB_USER over TCP failed"
  log "MariaDB ready on $DB_HOST:$MY_PORT (user/db $DB_USER)"
}

my_pid() {
  local pid
  [[ -s $MY_PIDFILE ]] || return 1
  pid=$(<"$MY_PIDFILE")
  [[ $pid =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null && echo "$pid"
}

# pid of the mysqld_safe started by `start`, if it is still running.
my_safe_pid() {
  local pid
  [[ -s $MY_SAFE_PIDFILE ]] || return 1
  pid=$(<"$MY_SAFE_PIDFILE")
  [[ $pid =~ ^[0-9]+$ ]] && grep -qs 'mysqld_safe\|mariadbd-safe' "/proc/$pid/cmdline" && echo "$pid"
}

my_stop() {
  mariadb_installed || { log "MariaDB not installed"; return 0; }
  local pid
  pid=$(my_pid || true)
  if ! my_alive && [[ -z $pid ]]; then
    log "MariaDB already stopped"
    return 0
  fi
  log "stopping MariaDB"
  # A clean shutdown makes mysqld_safe exit instead of restarting the server.
  "$(my_admin)" --no-defaults --socket="$MY_SOCKET" -uroot shutdown >/dev/null 2>&1 ||
    { [[ -n $pid ]] && kill -TERM "$pid" 2>/dev/null; } || true
  local i
  for ((i = 0; i < WAIT_SECONDS * 5; i++)); do
    if [[ -n $pid ]]; then kill -0 "$pid" 2>/dev/null || break
    else my_alive || break
    fi
    sleep 0.2
  done
  if { [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null; } || my_alive; then
    log "MariaDB did not stop within ${WAIT_SECONDS}s"
    my_log_tail
    exit 1
  fi
  # mysqld_safe exits by itself after a clean shutdown; wait for it briefly.
  for ((i = 0; i < 10; i++)); do
    my_safe_pid >/dev/null || break
    sleep 1
  done
  rm -f "$MY_SAFE_PIDFILE"
}

# ------------------------------------------------------------------- main ---

cmd_start() {
  require_root
  if ! pg_installed || ! mariadb_installed; then cmd_install; fi
  pg_start
  my_start
}

cmd_stop() {
  require_root
  pg_stop
  my_stop
}

cmd_status() {
  local rc=0
  if pg_installed && pg_ready; then log "PostgreSQL: up on $DB_HOST:$PG_PORT"
  else log "PostgreSQL: down"; rc=1; fi
  if mariadb_installed && my_tcp_ready; then log "MariaDB: up on $DB_HOST:$MY_PORT"
  else log "MariaDB: down"; rc=1; fi
  return "$rc"
}

cmd_env() {
  echo "export IPUBSUB_TEST_POSTGRES_URL=postgres://$DB_USER:$DB_PASSWORD@$DB_HOST:$PG_PORT/$DB_NAME"
  echo "export IPUBSUB_TEST_MYSQL_URL=mysql://$DB_USER:$DB_PASSWORD@$DB_HOST:$MY_PORT/$DB_NAME"
}

usage() {
  echo "usage: $0 {install|start|stop|status|env}" >&2
}

main() {
  case "${1:-}" in
    install) cmd_install ;;
    start) cmd_start ;;
    stop) cmd_stop ;;
    status) cmd_status ;;
    env) cmd_env ;;
    -h | --help | help) usage ;;
    *) usage; exit 2 ;;
  esac
}

main "$@"
