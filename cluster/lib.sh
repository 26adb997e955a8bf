# Shared by the cluster/ scripts (sourced, not run). Local multi-node clusters on one machine:
# node I listens on ${BASALT_CLUSTER_PREFIX:-127.0.0.}I with the same ports on every address;
# its configuration, data, log and pid file live in $BASALT_CLUSTER_DIR/nodeI/.
set -euo pipefail

BASALT_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CLUSTER_DIR="${BASALT_CLUSTER_DIR:-$BASALT_ROOT/.cluster}"
case "$CLUSTER_DIR" in /*) ;; *) CLUSTER_DIR="$PWD/$CLUSTER_DIR" ;; esac
PREFIX="${BASALT_CLUSTER_PREFIX:-127.0.0.}"
INTERNODE_PORT=7000
NATIVE_PORT=9042
ADMIN_PORT=7199
# Seconds `up` and `start` wait for every node to be up and normal.
WAIT_SECONDS="${BASALT_CLUSTER_TIMEOUT:-120}"
# Seconds `down` waits for a graceful stop before SIGKILL.
STOP_SECONDS="${BASALT_CLUSTER_STOP_TIMEOUT:-20}"

die() { echo "cluster: $*" >&2; exit 1; }
say() { echo "cluster: $*" >&2; }

# The basalt binary: $BASALT_BIN, or the release build (built when missing).
basalt_bin() {
    if [ -n "${BASALT_BIN:-}" ]; then
        [ -x "$BASALT_BIN" ] || die "BASALT_BIN=$BASALT_BIN is not an executable"
        echo "$BASALT_BIN"
        return
    fi
    local bin="$BASALT_ROOT/.build/release/basalt"
    if [ ! -x "$bin" ]; then
        say "building basalt (release) in $BASALT_ROOT"
        "$BASALT_ROOT/scripts/deps" >&2
        (cd "$BASALT_ROOT" && swift build -c release --product basalt >&2)
    fi
    echo "$bin"
}

node_dir() { echo "$CLUSTER_DIR/node$1"; }
node_addr() { echo "$PREFIX$1"; }

check_index() {
    [[ "$1" =~ ^[1-9][0-9]*$ ]] || die "node index must be a positive number, got '$1'"
}

# Indexes of the configured nodes, ascending.
configured_nodes() {
    local d
    for d in "$CLUSTER_DIR"/node*; do
        [ -f "$d/basalt.yaml" ] && echo "${d##*/node}"
    done | sort -n
}

node_pid() {
    local f
    f="$(node_dir "$1")/pid"
    [ -f "$f" ] && cat "$f" || true
}

# running | paused | stopped (a pid file whose process is gone or is not basalt counts as stopped).
node_state() {
    local pid
    pid="$(node_pid "$1")"
    if [ -z "$pid" ] || ! kill -0 "$pid" 2>/dev/null || ! grep -q basalt "/proc/$pid/cmdline" 2>/dev/null; then
        echo stopped
        return
    fi
    local state
    state="$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null || echo R)"
    [ "$state" = T ] && echo paused || echo running
}

write_config() {
    local i="$1" dir
    dir="$(node_dir "$i")"
    mkdir -p "$dir"
    cat > "$dir/basalt.yaml" <<YAML
# Written by cluster/up for node $i.
cluster_name: "${BASALT_CLUSTER_NAME:-Basalt Local Cluster}"
listen_address: $(node_addr "$i")
seeds: [$(node_addr 1)]
data_directory: "$dir/data"
native_transport_port: $NATIVE_PORT
storage_port: $INTERNODE_PORT
admin_port: $ADMIN_PORT
num_tokens: ${BASALT_NUM_TOKENS:-16}
log_level: ${BASALT_LOG_LEVEL:-info}
YAML
    if [ -n "${BASALT_CLUSTER_TLS:-}" ]; then
        tls_certificate "$i"
        cat >> "$dir/basalt.yaml" <<YAML
# BASALT_CLUSTER_TLS=$BASALT_CLUSTER_TLS: TLS for clients and between nodes, certificates in $CLUSTER_DIR/tls/.
client_encryption_options:
  enabled: true
  optional: $([ "$BASALT_CLUSTER_TLS" = optional ] && echo true || echo false)
  keystore: "$CLUSTER_DIR/tls/node$i-keystore.pem"
  truststore: "$CLUSTER_DIR/tls/ca.pem"
  require_client_auth: false
server_encryption_options:
  internode_encryption: all
  keystore: "$CLUSTER_DIR/tls/node$i-keystore.pem"
  truststore: "$CLUSTER_DIR/tls/ca.pem"
  require_client_auth: true
YAML
    fi
    # Extra settings for every node (YAML lines), e.g. "hinted_handoff_enabled: false".
    if [ -n "${BASALT_CLUSTER_EXTRA_CONFIG:-}" ]; then
        printf '%s\n' "$BASALT_CLUSTER_EXTRA_CONFIG" >> "$dir/basalt.yaml"
    fi
}

# With BASALT_CLUSTER_TLS set: a test CA ($CLUSTER_DIR/tls/ca.pem, made once) and node I's PEM
# keystore (key and certificate for its address, signed by that CA), made with the openssl command.
tls_certificate() {
    local i="$1" tls="$CLUSTER_DIR/tls"
    command -v openssl >/dev/null || die "BASALT_CLUSTER_TLS needs the openssl command"
    mkdir -p "$tls"
    if [ ! -f "$tls/ca.pem" ]; then
        openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 365 \
            -subj "/CN=Basalt local cluster CA" -keyout "$tls/ca.key" -out "$tls/ca.pem" 2>/dev/null || die "cannot make the test CA"
    fi
    [ -f "$tls/node$i-keystore.pem" ] && return 0
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj "/CN=$(node_addr "$i")" \
        -keyout "$tls/node$i.key" -out "$tls/node$i.csr" 2>/dev/null || die "cannot make node $i's key"
    printf 'subjectAltName=IP:%s\n' "$(node_addr "$i")" > "$tls/node$i.ext"
    openssl x509 -req -in "$tls/node$i.csr" -CA "$tls/ca.pem" -CAkey "$tls/ca.key" -CAcreateserial -days 365 \
        -extfile "$tls/node$i.ext" -out "$tls/node$i.crt" 2>/dev/null || die "cannot sign node $i's certificate"
    cat "$tls/node$i.key" "$tls/node$i.crt" > "$tls/node$i-keystore.pem"
}

# Extra environment for node I's process, one VAR=value per line: the lines of nodeI/env (kept
# across restarts; '#' starts a comment) and then the words of $BASALT_NODE<I>_ENV (this launch
# only). E.g. a clock 10 minutes ahead through libfaketime:
#   BASALT_NODE2_ENV="LD_PRELOAD=/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1 FAKETIME=+10m FAKETIME_DONT_FAKE_MONOTONIC=1"
node_env() {
    local i="$1" file line var word
    file="$(node_dir "$i")/env"
    if [ -f "$file" ]; then
        while IFS= read -r line || [ -n "$line" ]; do
            line="${line%%#*}"
            line="${line#"${line%%[![:space:]]*}"}"
            line="${line%"${line##*[![:space:]]}"}"
            [ -z "$line" ] && continue
            [[ "$line" == *=* ]] || die "$file: '$line' is not VAR=value"
            echo "$line"
        done < "$file"
    fi
    var="BASALT_NODE${i}_ENV"
    for word in ${!var:-}; do
        [[ "$word" == *=* ]] || die "$var: '$word' is not VAR=value"
        echo "$word"
    done
}

# Starts node I in the background (its own session, so it outlives this script), with node_env.
launch_node() {
    local i="$1" dir bin
    dir="$(node_dir "$i")"
    [ -f "$dir/basalt.yaml" ] || die "node $i is not configured; run cluster/up first"
    [ "$(node_state "$i")" = stopped ] || { say "node $i is already $(node_state "$i")"; return 0; }
    bin="$(basalt_bin)"
    local -a extra=()
    local env_lines
    env_lines="$(node_env "$i")" || exit 1
    [ -n "$env_lines" ] && mapfile -t extra <<< "$env_lines"
    echo "--- start $(date -u +%FT%TZ)${extra[*]:+ with ${extra[*]}}" >> "$dir/basalt.log"
    # env before setsid: both exec in place, so $! stays the server's pid.
    env ${extra[@]+"${extra[@]}"} setsid "$bin" server --config "$dir/basalt.yaml" --log-file "$dir/basalt.log" \
        </dev/null >/dev/null 2>>"$dir/basalt.log" &
    local pid=$! tries=0
    echo "$pid" > "$dir/pid"
    # Until setsid has exec'd the server, the child's command line is this script's, and
    # node_state would call the node stopped: wait (bounded) for the exec.
    while [ $tries -lt 50 ] && kill -0 "$pid" 2>/dev/null && ! grep -q basalt "/proc/$pid/cmdline" 2>/dev/null; do
        sleep 0.1
        tries=$((tries + 1))
    done
    say "node $i starting on $(node_addr "$i") (pid $pid)"
}

# The admin status table of node I, or nothing when it does not answer.
admin_status() {
    "$(basalt_bin)" admin status --host "$(node_addr "$1")" --port "$ADMIN_PORT" --timeout 5 2>/dev/null || true
}

# Waits until every observer sees every target UN; on timeout prints what is missing and fails.
wait_until_up() {
    local observers="$1" targets="$2" deadline=$((SECONDS + WAIT_SECONDS)) missing o t table
    while :; do
        missing=""
        for o in $observers; do
            if [ "$(node_state "$o")" = stopped ]; then
                die "node $o exited while starting; last lines of $(node_dir "$o")/basalt.log:
$(tail -n 5 "$(node_dir "$o")/basalt.log")"
            fi
            table="$(admin_status "$o")"
            for t in $targets; do
                grep -Eq "^UN +$(node_addr "$t" | sed 's/\./\\./g') " <<< "$table" || missing+=" node$o-sees-node$t"
            done
        done
        [ -z "$missing" ] && return 0
        if [ "$SECONDS" -ge "$deadline" ]; then
            say "timed out after ${WAIT_SECONDS}s waiting for nodes to be up and normal; missing:$missing"
            return 1
        fi
        sleep 0.5
    done
}

# SIGTERM (and SIGCONT for paused nodes), then SIGKILL whatever is left after STOP_SECONDS.
stop_nodes() {
    local i pid deadline=$((SECONDS + STOP_SECONDS)) left
    for i in "$@"; do
        pid="$(node_pid "$i")"
        [ "$(node_state "$i")" = stopped ] && { rm -f "$(node_dir "$i")/pid"; continue; }
        kill -TERM "$pid" 2>/dev/null || true
        kill -CONT "$pid" 2>/dev/null || true
    done
    while :; do
        left=""
        for i in "$@"; do [ "$(node_state "$i")" = stopped ] || left+=" $i"; done
        [ -z "$left" ] && break
        if [ "$SECONDS" -ge "$deadline" ]; then
            for i in $left; do
                say "node $i did not stop within ${STOP_SECONDS}s; killing it"
                kill -KILL "$(node_pid "$i")" 2>/dev/null || true
            done
            sleep 0.2
            break
        fi
        sleep 0.2
    done
    for i in "$@"; do rm -f "$(node_dir "$i")/pid"; done
}
