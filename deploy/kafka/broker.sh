#!/usr/bin/env bash
# Local single-node Apache Kafka (KRaft, broker+controller in one JVM) for development, tests, CI
# and the demo. Jars come from Maven Central because that is the only place they can be fetched
# from here; the tarball's bin/ scripts are not in Maven, so the JVM is started directly.
#
# Usage: deploy/kafka/broker.sh {install|start|stop|status|restart}
# stdout of `start`/`restart`/`status` is only the bootstrap address, so callers can capture it;
# everything else goes to stderr.
#
# Exit codes: 0 ok · 1 failure (install, format, start timeout, broker died) · 2 usage
#             3 not running (`status`) · 4 port already taken by something else
set -euo pipefail

KAFKA_VERSION="${KAFKA_VERSION:-4.4.0}"
LOG4J_VERSION="${KAFKA_LOG4J_VERSION:-2.25.3}"
# 3.8.x still runs on the Debian Maven 3.8.7; newer plugin lines want Maven 3.9.
DEP_PLUGIN="org.apache.maven.plugins:maven-dependency-plugin:3.8.1"
PORT="${KAFKA_PORT:-9092}"
CONTROLLER_PORT="${KAFKA_CONTROLLER_PORT:-9093}"
HOST=127.0.0.1
START_TIMEOUT="${KAFKA_START_TIMEOUT:-60}"
STOP_TIMEOUT="${KAFKA_STOP_TIMEOUT:-30}"
HEAP_OPTS="${KAFKA_HEAP_OPTS:--Xms128m -Xmx512m}"

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
CACHE="${KAFKA_HOME_CACHE:-$REPO_ROOT/.cache/kafka}"
DIST="$CACHE/$KAFKA_VERSION"
# One run dir per port, so brokers on different ports can coexist without sharing data.
RUN="$CACHE/run-$PORT"
PID_FILE="$RUN/broker.pid"
CONFIG="$RUN/server.properties"
DATA="$RUN/data"
LOGS="$RUN/logs"
JAVA="${JAVA_HOME:+$JAVA_HOME/bin/}java"

say() { echo "broker.sh: $*" >&2; }
die() { local code="$1"; shift; say "$*"; exit "$code"; }

is_installed() { [[ -f "$DIST/.complete" ]]; }

install() {
  if is_installed; then say "Kafka $KAFKA_VERSION already installed in $DIST"; return 0; fi
  command -v mvn >/dev/null || die 1 "mvn not found: Maven is needed to fetch Kafka"
  mkdir -p "$CACHE"
  local tmp; tmp="$(mktemp -d "$CACHE/.install.XXXXXX")"
  # Kafka 4.x itself logs through slf4j 1.7, so the slf4j-1 binding of log4j2 is the right one.
  cat >"$tmp/pom.xml" <<EOF
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>local.diffiqa</groupId><artifactId>kafka-runtime</artifactId><version>1</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka_2.13</artifactId><version>$KAFKA_VERSION</version></dependency>
    <dependency><groupId>org.apache.logging.log4j</groupId><artifactId>log4j-core</artifactId><version>$LOG4J_VERSION</version></dependency>
    <dependency><groupId>org.apache.logging.log4j</groupId><artifactId>log4j-slf4j-impl</artifactId><version>$LOG4J_VERSION</version></dependency>
  </dependencies>
</project>
EOF
  say "installing Kafka $KAFKA_VERSION into $DIST (Maven)"
  if ! mvn -B -q -f "$tmp/pom.xml" "$DEP_PLUGIN:copy-dependencies" \
      -DincludeScope=runtime -DoutputDirectory="$tmp/lib" >"$tmp/mvn.log" 2>&1; then
    tail -n 30 "$tmp/mvn.log" >&2
    rm -rf "$tmp"
    die 1 "Maven could not fetch Kafka $KAFKA_VERSION"
  fi
  [[ -f "$tmp/lib/kafka_2.13-$KAFKA_VERSION.jar" ]] || { rm -rf "$tmp"; die 1 "kafka jar missing after install"; }
  touch "$tmp/.complete"
  # Rename into place so an interrupted install never looks complete.
  rm -rf "$DIST"
  mv "$tmp" "$DIST"
  say "installed $(ls "$DIST/lib" | wc -l) jars"
}

# Our broker only: a live pid whose command line is kafka.Kafka with this run's config.
running_pid() {
  [[ -f "$PID_FILE" ]] || return 1
  local pid; pid="$(cat "$PID_FILE")"
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  [[ -r "/proc/$pid/cmdline" ]] || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q "kafka.Kafka $CONFIG" || return 1
  echo "$pid"
}

port_open() { (exec 3<>"/dev/tcp/$HOST/$1") 2>/dev/null; }

write_config() {
  mkdir -p "$RUN" "$LOGS"
  cat >"$CONFIG" <<EOF
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@$HOST:$CONTROLLER_PORT
listeners=PLAINTEXT://$HOST:$PORT,CONTROLLER://$HOST:$CONTROLLER_PORT
advertised.listeners=PLAINTEXT://$HOST:$PORT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=$DATA
# One node: every internal topic must fit a replication factor of 1.
num.partitions=3
default.replication.factor=1
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
# Fewer internal partitions: creating 50 of each is slow on a 2-core machine and buys nothing here.
offsets.topic.num.partitions=10
transaction.state.log.num.partitions=10
# Tests join groups constantly; the default 3 s delay would be paid on every one.
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=true
# Face crops can be large; 10 MiB leaves headroom for batches of them.
message.max.bytes=10485760
replica.fetch.max.bytes=10485760
EOF
  cat >"$RUN/log4j2.properties" <<EOF
status = warn
appender.file.type = File
appender.file.name = file
appender.file.fileName = $LOGS/server.log
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.file.ref = file
# Per-request and per-partition-state chatter drowns what matters when a test fails.
logger.request.name = kafka.request.logger
logger.request.level = WARN
logger.state.name = state.change.logger
logger.state.level = WARN
EOF
}

format_storage() {
  # A random cluster id (16 bytes, URL-safe base64 without padding, as Kafka's Uuid expects). One that
  # starts with "-" reads as an option to the tool's argument parser (1 run in 64 failed to format):
  # draw again, as Kafka's own Uuid.randomUuid does.
  local id="-"
  while [[ "$id" == -* ]]; do id="$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=')"; done
  if ! "$JAVA" $HEAP_OPTS -cp "$DIST/lib/*" -Dlog4j2.configurationFile="$RUN/log4j2.properties" \
      kafka.tools.StorageTool format -t "$id" -c "$CONFIG" >"$LOGS/format.log" 2>&1; then
    cat "$LOGS/format.log" >&2
    die 1 "formatting KRaft storage failed"
  fi
}

start() {
  local pid
  if pid="$(running_pid)"; then
    say "already running (pid $pid); data was not touched"
    echo "$HOST:$PORT"; return 0
  fi
  port_open "$PORT" && die 4 "port $PORT is already in use by another process"
  port_open "$CONTROLLER_PORT" && die 4 "controller port $CONTROLLER_PORT is already in use"
  is_installed || install
  write_config
  # Keep the previous run's log for post-mortems; the readiness check needs a fresh one.
  if [[ -f "$LOGS/server.log" ]]; then mv -f "$LOGS/server.log" "$LOGS/server.log.1"; fi
  if [[ "${KAFKA_KEEP_DATA:-0}" != 1 ]]; then rm -rf "$DATA"; fi
  [[ -f "$DATA/meta.properties" ]] || format_storage
  # setsid: the broker must outlive the shell (or test runner) that started it.
  # The inner shell writes its own pid, then exec keeps that pid for the JVM.
  # shellcheck disable=SC2086
  setsid bash -c 'echo $$ >"$0"; exec "$@"' "$PID_FILE" \
    "$JAVA" $HEAP_OPTS -XX:+ExitOnOutOfMemoryError -Djava.awt.headless=true \
    -Dlog4j2.configurationFile="$RUN/log4j2.properties" \
    -cp "$DIST/lib/*" kafka.Kafka "$CONFIG" \
    </dev/null >"$LOGS/stdout.log" 2>&1 &
  local launched=$! deadline=$((SECONDS + START_TIMEOUT))
  # The port accepts TCP before the broker is unfenced, so the log line is what says it's ready.
  while ((SECONDS < deadline)); do
    kill -0 "$launched" 2>/dev/null || fail_start "broker exited during startup"
    if grep -q "Kafka Server started" "$LOGS/server.log" 2>/dev/null && port_open "$PORT" \
        && pid="$(running_pid)"; then
      say "running (pid $pid), logs in $LOGS"
      echo "$HOST:$PORT"; return 0
    fi
    sleep 0.5
  done
  fail_start "broker not ready after ${START_TIMEOUT}s"
}

fail_start() {
  say "$1; last log lines:"
  tail -n 40 "$LOGS/server.log" "$LOGS/stdout.log" >&2 2>/dev/null || true
  stop >/dev/null 2>&1 || true
  exit 1
}

stop() {
  local pid
  if ! pid="$(running_pid)"; then rm -f "$PID_FILE"; say "not running"; return 0; fi
  kill -TERM "$pid"
  local deadline=$((SECONDS + STOP_TIMEOUT))
  while kill -0 "$pid" 2>/dev/null && ((SECONDS < deadline)); do sleep 0.2; done
  if kill -0 "$pid" 2>/dev/null; then
    say "no clean shutdown after ${STOP_TIMEOUT}s, sending SIGKILL"
    kill -KILL "$pid"
    while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
  fi
  rm -f "$PID_FILE"
  say "stopped (pid $pid)"
}

status() {
  local pid
  if pid="$(running_pid)"; then say "running (pid $pid)"; echo "$HOST:$PORT"; return 0; fi
  say "not running"; return 3
}

case "${1:-}" in
  install) install ;;
  start) start ;;
  stop) stop ;;
  status) status ;;
  # A restart exists to bounce the broker under a running workload, so it keeps data by default.
  restart) stop; KAFKA_KEEP_DATA="${KAFKA_KEEP_DATA:-1}" start ;;
  *) echo "usage: $0 {install|start|stop|status|restart}" >&2; exit 2 ;;
esac
