#!/usr/bin/env bash
# Single-node Apache Cassandra 5.0 for tests, resolved from Maven (org.apache.cassandra:cassandra-all).
#
#   scripts/cassandra.sh start     resolve jars (cached), boot a node on 127.0.0.1:9042, wait until CQL answers
#   scripts/cassandra.sh stop      TERM, then KILL after a grace period; removes the pid file
#   scripts/cassandra.sh status    exit 0 if running and answering CQL, 1 otherwise
#   scripts/cassandra.sh restart   stop + start
#   scripts/cassandra.sh resolve   only resolve the jars into the cache
#
# Environment (all optional):
#   IPUBSUB_CASSANDRA_HOME           jar cache              (default $HOME/.cache/ipubsub-cassandra)
#   IPUBSUB_CASSANDRA_RUN_DIR        conf/data/log/pid dir  (default ${TMPDIR:-/tmp}/ipubsub-cassandra)
#   IPUBSUB_CASSANDRA_VERSION        pin one version        (default: first that resolves of 5.0.8 5.0.7 5.0.6 5.0.5)
#   IPUBSUB_CASSANDRA_JAVA_HOME      JDK to run with        (default: a Java 17, else 11, found in /usr/lib/jvm)
#   IPUBSUB_CASSANDRA_PORT           CQL port               (default 9042)
#   IPUBSUB_CASSANDRA_STORAGE_PORT   internode port         (default 7000)
#   IPUBSUB_CASSANDRA_HEAP_MIN/MAX   heap                   (default 512M / 1G)
#   IPUBSUB_CASSANDRA_START_TIMEOUT  seconds to wait for CQL (default 180)
#   IPUBSUB_CASSANDRA_STOP_GRACE     seconds before KILL    (default 30)
#   IPUBSUB_CASSANDRA_KEEP_DATA      1 = keep data between starts (default: wipe, every start is a fresh node)
set -euo pipefail

HOST=127.0.0.1
CACHE_DIR="${IPUBSUB_CASSANDRA_HOME:-${HOME:-/tmp}/.cache/ipubsub-cassandra}"
RUN_DIR="${IPUBSUB_CASSANDRA_RUN_DIR:-${TMPDIR:-/tmp}/ipubsub-cassandra}"
VERSIONS="${IPUBSUB_CASSANDRA_VERSION:-5.0.8 5.0.7 5.0.6 5.0.5}"
PORT="${IPUBSUB_CASSANDRA_PORT:-9042}"
STORAGE_PORT="${IPUBSUB_CASSANDRA_STORAGE_PORT:-7000}"
HEAP_MIN="${IPUBSUB_CASSANDRA_HEAP_MIN:-512M}"
HEAP_MAX="${IPUBSUB_CASSANDRA_HEAP_MAX:-1G}"
START_TIMEOUT="${IPUBSUB_CASSANDRA_START_TIMEOUT:-180}"
STOP_GRACE="${IPUBSUB_CASSANDRA_STOP_GRACE:-30}"
KEEP_DATA="${IPUBSUB_CASSANDRA_KEEP_DATA:-0}"
DEP_PLUGIN="org.apache.maven.plugins:maven-dependency-plugin:3.10.0"

PID_FILE="$RUN_DIR/cassandra.pid"
LOG_FILE="$RUN_DIR/cassandra.log"
CONF_DIR="$RUN_DIR/conf"
DATA_DIR="$RUN_DIR/data"

NAME=Cassandra
TAG=cassandra
PORT_VARIABLE=IPUBSUB_CASSANDRA_PORT
PROCESS_PATTERN=CassandraDaemon
LOG_TAIL_LINES=60
# shellcheck source=lib/service.sh
source "$(dirname "$0")/lib/service.sh"

# ---------------------------------------------------------------- helpers

is_ready() { port_open && grep -q "Startup complete" "$LOG_FILE" 2>/dev/null; }

java_major() { "$1" -version 2>&1 | sed -n '1s/.*version "\([0-9]*\).*/\1/p'; }

find_java() {
  local cand major
  if [[ -n "${IPUBSUB_CASSANDRA_JAVA_HOME:-}" ]]; then
    [[ -x "$IPUBSUB_CASSANDRA_JAVA_HOME/bin/java" ]] || die "no bin/java in IPUBSUB_CASSANDRA_JAVA_HOME=$IPUBSUB_CASSANDRA_JAVA_HOME"
    echo "$IPUBSUB_CASSANDRA_JAVA_HOME/bin/java"; return
  fi
  # Cassandra 5.0 runs on Java 11 or 17 only; prefer 17.
  for want in 17 11; do
    for cand in /usr/lib/jvm/*/bin/java "${JAVA_HOME:-/nonexistent}/bin/java" "$(command -v java || true)"; do
      [[ -x "$cand" ]] || continue
      major="$(java_major "$cand")"
      if [[ "$major" == "$want" ]]; then echo "$cand"; return; fi
    done
  done
  die "no Java 17 (or 11) found in /usr/lib/jvm, JAVA_HOME or PATH; set IPUBSUB_CASSANDRA_JAVA_HOME (Cassandra 5.0 cannot run on newer JDKs)"
}

# ---------------------------------------------------------------- resolve

write_pom() { # $1 dir, $2 version
  cat >"$1/pom.xml" <<EOF
<?xml version="1.0" encoding="UTF-8"?>
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>local.ipubsub</groupId>
  <artifactId>cassandra-runtime</artifactId>
  <version>1</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency>
      <groupId>org.apache.cassandra</groupId>
      <artifactId>cassandra-all</artifactId>
      <version>$2</version>
    </dependency>
  </dependencies>
</project>
EOF
}

# Prints the lib dir of a resolved version. Reuses the cache; else resolves with Maven.
resolve() {
  local v dir tmp errors=""
  for v in $VERSIONS; do
    if [[ -f "$CACHE_DIR/$v/.complete" ]]; then
      echo "$CACHE_DIR/$v/lib"; return 0
    fi
  done
  command -v mvn >/dev/null || die "mvn not found on PATH (needed once to resolve Cassandra's jars)"
  mkdir -p "$CACHE_DIR"
  for v in $VERSIONS; do
    dir="$CACHE_DIR/$v"
    log "resolving org.apache.cassandra:cassandra-all:$v with Maven into $dir ..."
    rm -rf "$dir.tmp" && mkdir -p "$dir.tmp"
    tmp="$dir.tmp"
    write_pom "$tmp" "$v"
    if mvn -B -q -U -Dstyle.color=never -f "$tmp/pom.xml" "$DEP_PLUGIN:copy-dependencies" \
         -DoutputDirectory="$tmp/lib" -DincludeScope=runtime >"$tmp/mvn.log" 2>&1 \
       && [[ -f "$tmp/lib/cassandra-all-$v.jar" ]]; then
      rm -rf "$dir"
      mv "$tmp" "$dir"
      touch "$dir/.complete"
      log "resolved cassandra-all $v ($(find "$dir/lib" -name '*.jar' | wc -l) jars)"
      echo "$dir/lib"; return 0
    fi
    log "could not resolve $v:"
    sed 's/\x1b\[[0-9;]*m//g' "$tmp/mvn.log" | grep -v 'jmc5.path' | grep -m1 -E '^\[ERROR\] .{3,}' >&2 \
      || tail -n 5 "$tmp/mvn.log" >&2
    errors="$errors $v"
  done
  die "no cassandra-all version could be resolved (tried:$errors); Maven logs are in $CACHE_DIR/<version>.tmp/mvn.log"
}

# ---------------------------------------------------------------- config

write_config() {
  mkdir -p "$CONF_DIR" "$DATA_DIR" "$RUN_DIR/logs" "$RUN_DIR/triggers"
  cat >"$CONF_DIR/cassandra.yaml" <<EOF
# Generated by scripts/cassandra.sh: single test node, not for production.
cluster_name: ipubsub-test
num_tokens: 1
initial_token: 0
partitioner: org.apache.cassandra.dht.Murmur3Partitioner
endpoint_snitch: SimpleSnitch
seed_provider:
  - class_name: org.apache.cassandra.locator.SimpleSeedProvider
    parameters:
      - seeds: "$HOST:$STORAGE_PORT"
listen_address: $HOST
rpc_address: $HOST
storage_port: $STORAGE_PORT
native_transport_port: $PORT
start_native_transport: true
commitlog_sync: periodic
commitlog_sync_period: 10000ms
data_file_directories:
  - $DATA_DIR/data
commitlog_directory: $DATA_DIR/commitlog
hints_directory: $DATA_DIR/hints
saved_caches_directory: $DATA_DIR/saved_caches
cdc_enabled: false
auto_snapshot: false
hinted_handoff_enabled: false
disk_access_mode: standard
memtable_allocation_type: heap_buffers
EOF
  cat >"$CONF_DIR/logback.xml" <<'EOF'
<configuration scan="false">
  <appender name="STDOUT" class="ch.qos.logback.core.ConsoleAppender">
    <encoder>
      <pattern>%-5level [%thread] %date{ISO8601} %logger{0}:%line - %msg%n</pattern>
    </encoder>
  </appender>
  <root level="INFO">
    <appender-ref ref="STDOUT" />
  </root>
</configuration>
EOF
}

# ---------------------------------------------------------------- commands

cmd_start() {
  if already_running; then return 0; fi
  local java lib
  java="$(find_java)"
  lib="$(resolve)"
  if [[ "$KEEP_DATA" != 1 ]]; then rm -rf "$DATA_DIR"; fi
  write_config

  local -a opts=(
    -Xms"$HEAP_MIN" -Xmx"$HEAP_MAX" -Xss256k
    -XX:+UseG1GC -XX:+ParallelRefProcEnabled -XX:MaxGCPauseMillis=300
    -XX:+PerfDisableSharedMem -XX:+ExitOnOutOfMemoryError
    -Djava.net.preferIPv4Stack=true
    -Dcassandra-foreground=yes
    -Dcassandra.config="file://$CONF_DIR/cassandra.yaml"
    -Dcassandra.storagedir="$DATA_DIR"
    -Dcassandra.logdir="$RUN_DIR/logs"
    -Dcassandra.triggers_dir="$RUN_DIR/triggers"
    -Dlogback.configurationFile="$CONF_DIR/logback.xml"
    -Dchronicle.analytics.disable=true
    # fast start for a single test node
    -Dcassandra.skip_wait_for_gossip_to_settle=0
    -Dcassandra.superuser_setup_delay_ms=0
    -Dcassandra.unsafesystem=true
    # Java 17 module flags from Cassandra 5.0's conf/jvm17-server.options
    -Djdk.attach.allowAttachSelf=true
    --add-exports java.base/jdk.internal.misc=ALL-UNNAMED
    --add-exports java.management.rmi/com.sun.jmx.remote.internal.rmi=ALL-UNNAMED
    --add-exports java.management/com.sun.jmx.remote.security=ALL-UNNAMED
    --add-exports java.rmi/sun.rmi.registry=ALL-UNNAMED
    --add-exports java.rmi/sun.rmi.server=ALL-UNNAMED
    --add-exports java.sql/java.sql=ALL-UNNAMED
    --add-exports java.base/java.lang.ref=ALL-UNNAMED
    --add-exports jdk.unsupported/sun.misc=ALL-UNNAMED
    --add-opens java.base/java.lang.module=ALL-UNNAMED
    --add-opens java.base/jdk.internal.loader=ALL-UNNAMED
    --add-opens java.base/jdk.internal.ref=ALL-UNNAMED
    --add-opens java.base/jdk.internal.reflect=ALL-UNNAMED
    --add-opens java.base/jdk.internal.math=ALL-UNNAMED
    --add-opens java.base/jdk.internal.module=ALL-UNNAMED
    --add-opens java.base/jdk.internal.util.jar=ALL-UNNAMED
    --add-opens jdk.management/com.sun.management.internal=ALL-UNNAMED
    --add-opens java.base/sun.nio.ch=ALL-UNNAMED
    --add-opens java.base/java.io=ALL-UNNAMED
    --add-opens java.base/java.lang.reflect=ALL-UNNAMED
    --add-opens java.base/java.lang=ALL-UNNAMED
    --add-opens java.base/java.util=ALL-UNNAMED
    --add-opens java.base/java.nio=ALL-UNNAMED
    -Dio.netty.tryReflectionSetAccessible=true
  )

  log "starting Cassandra $(basename "$(dirname "$lib")") with $java on $HOST:$PORT (log: $LOG_FILE)"
  launch "$java" "${opts[@]}" -cp "$CONF_DIR:$lib/*" org.apache.cassandra.service.CassandraDaemon
}

case "${1:-}" in
  start) cmd_start ;;
  stop) cmd_stop ;;
  status) cmd_status ;;
  restart) cmd_stop; cmd_start ;;
  resolve) resolve ;;
  *) echo "usage: $0 {start|stop|status|restart|resolve}" >&2; exit 2 ;;
esac
