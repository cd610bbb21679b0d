#!/usr/bin/env bash
# The search engine for citysoc's live tests and for small sites: an OpenSearch node
# assembled from Maven Central artifacts (scripts/engine/pom.xml) and started by our own
# launcher (scripts/engine/src/CitysocNode.java). Everything binds to 127.0.0.1.
#
#   scripts/engine.sh fetch                      assemble .cache/engine/opensearch-VERSION/
#   scripts/engine.sh start NAME [--nodes N] [--http-port P] [--heap SIZE] [--timeout S]
#                                                start N nodes; last stdout line: node 0's URL
#   scripts/engine.sh stop NAME [--keep-data]    SIGTERM every node (SIGKILL after a timeout)
#   scripts/engine.sh kill-node NAME I           SIGKILL node I (fault tests)
#   scripts/engine.sh start-node NAME I          start node I again on its data; wait for it
#   scripts/engine.sh status NAME                nodes, pids, alive or not, cluster health
#   scripts/engine.sh dist OUT.tar.gz            the assembled engine as a tarball
#
# Exit codes: 0 done; 1 failed (a node died, health not reached, bad state; status: a node
# is down); 2 the machine lacks something (Java, Maven, a free port) or NAME already runs;
# 64 usage.
# Environment: JAVA_HOME picks the JVM (else `java` on PATH); ENGINE_CACHE_DIR moves the
# cache (default: .cache/engine in the repository).
set -euo pipefail

readonly VERSION=2.19.6
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
readonly ROOT
readonly SRC="$ROOT/scripts/engine"
CACHE=${ENGINE_CACHE_DIR:-$ROOT/.cache/engine}
case $CACHE in /*) ;; *) CACHE="$PWD/$CACHE" ;; esac
readonly CACHE
readonly HOME_DIR="$CACHE/opensearch-$VERSION"
readonly RUNS="$CACHE/run"
readonly STOP_TIMEOUT=60

say() { echo "engine: $*" >&2; }
die() { say "$1"; exit "${2:-1}"; }
usage() {
    sed -n '6,13p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2
    exit 64
}

# --- the machine ------------------------------------------------------------------------

java_bin() {
    if [ -n "${JAVA_HOME:-}" ]; then
        [ -x "$JAVA_HOME/bin/java" ] || die "JAVA_HOME=$JAVA_HOME has no bin/java" 2
        echo "$JAVA_HOME/bin/java"
    else
        command -v java || die "no Java runtime: install one (Debian: apt-get install openjdk-17-jre-headless) or set JAVA_HOME" 2
    fi
}

need_java() {
    local java major
    java=$(java_bin)
    major=$("$java" -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java.specification.version = //p')
    [ -n "$major" ] || die "cannot tell the version of $java" 2
    if [ "${major%%.*}" -lt 11 ] 2>/dev/null; then
        die "OpenSearch $VERSION needs Java 11 or newer (17 is the tested one); $java is $major" 2
    fi
}

need_build_tools() {
    command -v mvn >/dev/null || die "no Maven: install it (Debian: apt-get install maven) to assemble the engine" 2
    local javac
    if [ -n "${JAVA_HOME:-}" ]; then javac="$JAVA_HOME/bin/javac"; else javac=$(command -v javac || true); fi
    { [ -n "$javac" ] && [ -x "$javac" ]; } || die "no Java compiler (javac): install a JDK (Debian: apt-get install openjdk-17-jdk-headless)" 2
    echo "$javac"
}

# --- fetch: resolve with Maven, compile the launcher, lay out the engine's folder ------

source_digest() {
    (cd "$SRC" && cat pom.xml src/*.java engine-node config/*) | sha256sum | cut -d' ' -f1
}

fetch() {
    mkdir -p "$CACHE"
    local digest
    digest=$(source_digest)
    if [ -f "$HOME_DIR/.assembled" ] && [ "$(cat "$HOME_DIR/.assembled")" = "$digest" ]; then
        echo "$HOME_DIR"
        return 0
    fi
    exec 9>"$CACHE/.fetch.lock"
    flock 9
    # Another process may have assembled it while this one waited for the lock.
    if [ -f "$HOME_DIR/.assembled" ] && [ "$(cat "$HOME_DIR/.assembled")" = "$digest" ]; then
        exec 9>&-
        echo "$HOME_DIR"
        return 0
    fi
    local javac work log
    javac=$(need_build_tools)
    work=$(mktemp -d "$CACHE/.assemble.XXXXXX")
    chmod 0755 "$work"
    log="$CACHE/fetch.log"
    # The plugin is named in full: no plugin-prefix look-ups in the remote repositories.
    local resolve=(-B -f "$SRC/pom.xml" org.apache.maven.plugins:maven-dependency-plugin:2.8:copy-dependencies
        -DincludeScope=runtime -DoutputDirectory="$work/lib")
    # Offline first: everything may already be in the local Maven repository (~/.m2).
    if ! mvn -o "${resolve[@]}" >"$log" 2>&1; then
        say "resolving OpenSearch $VERSION and its modules with Maven (log: $log)"
        if ! mvn "${resolve[@]}" >"$log" 2>&1; then
            grep -E 'ERROR|Could not' "$log" | head -20 >&2 || true
            rm -rf "$work"
            die "Maven could not resolve the engine's artifacts (see $log)"
        fi
    fi
    say "compiling the launcher"
    mkdir -p "$work/classes"
    if ! "$javac" --release 11 -nowarn -encoding UTF-8 -cp "$work/lib/*" -d "$work/classes" "$SRC/src/CitysocNode.java" >>"$log" 2>&1; then
        tail -20 "$log" >&2
        rm -rf "$work"
        die "the launcher did not compile (see $log)"
    fi
    (cd "$work/classes" && "$(dirname "$javac")/jar" --create --file "$work/lib/citysoc-engine-node-$VERSION.jar" .) \
        || { rm -rf "$work"; die "cannot package the launcher"; }
    rm -rf "$work/classes"
    mkdir -p "$work/bin" "$work/config" "$work/modules" "$work/plugins"
    install -m 0755 "$SRC/engine-node" "$work/bin/engine-node"
    install -m 0644 "$SRC"/config/* "$work/config/"
    echo "$digest" >"$work/.assembled"
    rm -rf "$HOME_DIR.old"
    [ -d "$HOME_DIR" ] && mv "$HOME_DIR" "$HOME_DIR.old"
    mv "$work" "$HOME_DIR"
    rm -rf "$HOME_DIR.old"
    say "assembled $(find "$HOME_DIR/lib" -name '*.jar' | wc -l) jars in $HOME_DIR"
    train_class_archive
    exec 9>&-
    echo "$HOME_DIR"
}

# A class-data archive of the classes a node loads cuts a node's start-up CPU by about 40%:
# one node is started once, exercised, and stopped; the JVM writes the archive as it exits.
# engine-node uses it only with the JVM that wrote it. Without it nodes start all the same.
train_class_archive() {
    local java dir http transport pid waited=0 url json=(-H 'Content-Type: application/json')
    java=$(java_bin)
    command -v curl >/dev/null || { say "no curl: nodes start without a class-data archive"; return 0; }
    say "writing the class-data archive (one node started and stopped once)"
    dir=$(mktemp -d "$CACHE/.train.XXXXXX")
    http=$(free_port)
    transport=$(free_port "$http")
    mkdir -p "$dir/config"
    printf '%s\n' "cluster.name: citysoc-train" "node.name: node-0" "path.data: $dir/data" \
        "path.logs: $dir/logs" "network.host: 127.0.0.1" "http.port: $http" \
        "transport.port: $transport" "discovery.type: single-node" \
        "cluster.routing.allocation.disk.threshold_enabled: false" >"$dir/config/opensearch.yml"
    cp "$HOME_DIR/config/log4j2.properties" "$dir/config/"
    { sed -e 's/^-Xms.*/-Xms512m/' -e 's/^-Xmx.*/-Xmx512m/' "$HOME_DIR/config/jvm.options"
        echo "-XX:ArchiveClassesAtExit=$HOME_DIR/engine.jsa.part"; } >"$dir/config/jvm.options"
    setsid "$HOME_DIR/bin/engine-node" "$dir/config" >"$dir/stdout.log" 2>&1 </dev/null &
    pid=$!
    url="http://127.0.0.1:$http"
    while ! curl -sf --max-time 5 "$url/_cluster/health?wait_for_status=yellow&timeout=2s" >/dev/null; do
        waited=$((waited + 1))
        if ! alive "$pid" || [ "$waited" -gt 180 ]; then
            say "the training node did not start (see $dir): nodes start without a class-data archive"
            kill -KILL "$pid" 2>/dev/null || true
            return 0
        fi
        sleep 1
    done
    curl -s "${json[@]}" -X PUT "$url/_index_template/train" -d '{"index_patterns":["logs-train-*"],"data_stream":{},
        "template":{"mappings":{"properties":{"source":{"properties":{"ip":{"type":"ip"}}}}}}}' >/dev/null || true
    printf '{"create":{"_id":"%s"}}\n{"@timestamp":"2026-01-01T00:00:00Z","source":{"ip":"10.0.0.%s"},"n":%s}\n' \
        1 1 1 2 2 2 3 3 3 | curl -s -H 'Content-Type: application/x-ndjson' -X POST \
        "$url/logs-train-x/_bulk?refresh=true" --data-binary @- >/dev/null || true
    curl -s "${json[@]}" "$url/logs-train-x/_search" \
        -d '{"query":{"term":{"source.ip":"10.0.0.1"}},"aggs":{"n":{"terms":{"field":"n"}}}}' >/dev/null || true
    kill -TERM "$pid"
    waited=0
    while alive "$pid"; do
        waited=$((waited + 1))
        [ "$waited" -le 1200 ] || { kill -KILL "$pid"; break; }
        sleep 0.1
    done
    if [ -s "$HOME_DIR/engine.jsa.part" ]; then
        mv "$HOME_DIR/engine.jsa.part" "$HOME_DIR/engine.jsa"
        readlink -f "$java" >"$HOME_DIR/engine.jsa.java"
        rm -rf "$dir"
    else
        rm -f "$HOME_DIR/engine.jsa.part"
        say "no class-data archive was written (see $dir): nodes start without it"
    fi
}

# --- ports and processes ----------------------------------------------------------------

port_taken() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

free_port() {  # a free port below the kernel's ephemeral range, not in the given list
    local port tries=0
    while [ $tries -lt 200 ]; do
        port=$((20000 + RANDOM % 12000))
        tries=$((tries + 1))
        case " $* " in *" $port "*) continue ;; esac
        port_taken "$port" || { echo "$port"; return 0; }
    done
    die "found no free transport port on 127.0.0.1" 2
}

alive() {  # PID: running, and not a zombie waiting for a parent that does not reap it
    kill -0 "$1" 2>/dev/null && [ "$(sed -n 's/^State:[[:space:]]*\([A-Z]\).*/\1/p' "/proc/$1/status" 2>/dev/null)" != Z ]
}

node_dir() { echo "$RUNS/$1/node-$2"; }

node_pid() {  # the pid of a running node, or nothing
    local pidfile pid
    pidfile="$(node_dir "$1" "$2")/node.pid"
    [ -f "$pidfile" ] || return 0
    pid=$(cat "$pidfile")
    # A pid is ours only while its command line names this node's config folder (as the
    # JVM's, or for a moment as engine-node's before it execs java).
    if [ -r "/proc/$pid/cmdline" ] && tr '\0' ' ' <"/proc/$pid/cmdline" \
        | grep -Eq "(CitysocNode|engine-node) $(node_dir "$1" "$2")/config( |\$)"; then
        echo "$pid"
    fi
}

load_cluster() {
    local file="$RUNS/$1/cluster.env"
    [ -f "$file" ] || die "no engine named $1 (nothing in $RUNS/$1)"
    # shellcheck disable=SC1090
    . "$file"
}

write_node_config() {  # NAME I HTTP_PORT TRANSPORT_PORT
    local name=$1 i=$2 http=$3 transport=$4 dir
    dir=$(node_dir "$name" "$i")
    mkdir -p "$dir/config" "$dir/data" "$dir/logs"
    {
        echo "# Written by scripts/engine.sh for node $i of $name."
        echo "cluster.name: $name"
        echo "node.name: node-$i"
        echo "path.data: $dir/data"
        echo "path.logs: $dir/logs"
        echo "network.host: 127.0.0.1"
        echo "http.port: $http"
        echo "transport.port: $transport"
        if [ "$NODES" -eq 1 ]; then
            echo "discovery.type: single-node"
        else
            local seeds="" managers="" j
            for j in $(seq 0 $((NODES - 1))); do
                seeds+="${seeds:+, }\"127.0.0.1:$(echo "$TRANSPORT_PORTS" | cut -d, -f$((j + 1)))\""
                managers+="${managers:+, }\"node-$j\""
            done
            echo "discovery.seed_hosts: [$seeds]"
            echo "cluster.initial_cluster_manager_nodes: [$managers]"
        fi
        echo "# A test disk may be nearly full: never block writes on disk watermarks."
        echo "cluster.routing.allocation.disk.threshold_enabled: false"
        echo "bootstrap.memory_lock: false"
    } >"$dir/config/opensearch.yml"
    cp "$HOME_DIR/config/log4j2.properties" "$dir/config/"
    sed -e "s/^-Xms.*/-Xms$HEAP/" -e "s/^-Xmx.*/-Xmx$HEAP/" \
        -e "s/^-XX:MaxDirectMemorySize=.*/-XX:MaxDirectMemorySize=$(half_size "$HEAP")/" \
        "$HOME_DIR/config/jvm.options" >"$dir/config/jvm.options"
}

half_size() {  # 512m -> 256m, 1g -> 512m
    local num=${1%[kKmMgG]} unit=${1: -1}
    case $unit in
        g | G) echo "$((num * 512))m" ;;
        m | M) echo "$((num / 2))m" ;;
        *) die "heap size must end in m or g: $1" 64 ;;
    esac
}

launch_node() {  # NAME I
    local dir
    dir=$(node_dir "$1" "$2")
    # setsid: the node leaves this shell's session and survives it; the pid is the JVM's,
    # as engine-node execs java.
    setsid "$HOME_DIR/bin/engine-node" "$dir/config" >"$dir/logs/stdout.log" 2>&1 </dev/null &
    echo $! >"$dir/node.pid"
}

health() {  # PORT [QUERY] -> the health JSON, or nothing
    curl -s --max-time 5 "http://127.0.0.1:$1/_cluster/health${2:+?$2}" 2>/dev/null || true
}

json_field() { sed -n "s/.*\"$1\":\"\{0,1\}\([^,\"}]*\).*/\1/p"; }

wait_health() {  # NAME WANTED_STATUS NODES_EXPECTED TIMEOUT STARTED_NODE...
    local name=$1 want=$2 expect=$3 timeout=$4 start now i pid body status nodes port=""
    shift 4
    start=$(date +%s)
    while :; do
        now=$(date +%s)
        for i in "$@"; do
            pid=$(node_pid "$name" "$i")
            if [ -z "$pid" ] && [ -f "$(node_dir "$name" "$i")/node.pid" ]; then
                say "node-$i of $name died while starting; the end of its log:"
                tail -n 25 "$(node_dir "$name" "$i")/logs/stdout.log" >&2 || true
                tail -n 25 "$(node_dir "$name" "$i")/logs/node-$i.log" >&2 2>/dev/null || true
                return 1
            fi
        done
        # Ask any node that answers; node 0 first.
        body=""
        for i in $(seq 0 $((NODES - 1))); do
            port=$((HTTP_PORT + i))
            [ -n "$(node_pid "$name" "$i")" ] || continue
            body=$(health "$port" "wait_for_status=$want&wait_for_nodes=$expect&timeout=2s")
            [ -n "$body" ] && break
        done
        status=$(echo "$body" | json_field status)
        nodes=$(echo "$body" | json_field number_of_nodes)
        case $body in *'"error"'*) status="no cluster-manager elected yet" nodes="" ;; esac
        if [ -n "$body" ] && [ "$(echo "$body" | json_field timed_out)" = false ]; then
            say "$name is $status with $nodes node(s) after $((now - start))s"
            return 0
        fi
        if [ $((now - start)) -ge "$timeout" ]; then
            say "$name did not reach $want with $expect node(s) in ${timeout}s (status: ${status:-no answer}, nodes: ${nodes:-0})"
            return 1
        fi
        say "waiting for $name: ${status:-no node answers yet}, ${nodes:-0}/$expect node(s) joined, $((now - start))s"
        [ -n "$body" ] || sleep 1
    done
}

live_nodes() {  # NAME: how many nodes run
    local i n=0
    for i in $(seq 0 $((NODES - 1))); do [ -z "$(node_pid "$1" "$i")" ] || n=$((n + 1)); done
    echo "$n"
}

# One node: yellow (a replica has nowhere to go). Several: green once every node runs;
# while one is down, yellow (its replicas wait for it).
wanted_status() { if [ "$NODES" -gt 1 ] && [ "$(live_nodes "$1")" -eq "$NODES" ]; then echo green; else echo yellow; fi; }

# --- commands ---------------------------------------------------------------------------

cmd_start() {
    local name="" nodes=1 http=9250 heap=512m timeout=180 i pid
    while [ $# -gt 0 ]; do
        case $1 in
            --nodes) nodes=${2:?--nodes needs a number}; shift 2 ;;
            --http-port) http=${2:?--http-port needs a port}; shift 2 ;;
            --heap) heap=${2:?--heap needs a size like 512m}; shift 2 ;;
            --timeout) timeout=${2:?--timeout needs seconds}; shift 2 ;;
            -*) say "unknown option $1"; usage ;;
            *) [ -z "$name" ] || usage; name=$1; shift ;;
        esac
    done
    [ -n "$name" ] || usage
    [[ $name =~ ^[a-z0-9][a-z0-9_-]*$ ]] || die "NAME must be lower-case letters, digits, - or _: $name" 64
    [[ $nodes =~ ^[1-9][0-9]*$ ]] || die "--nodes must be a positive number: $nodes" 64
    { [[ $http =~ ^[0-9]+$ ]] && [ "$http" -ge 1024 ] && [ $((http + nodes - 1)) -le 65535 ]; } || die "--http-port must be 1024..65535: $http" 64
    [[ $heap =~ ^[0-9]+[mMgG]$ ]] || die "--heap must be a size like 512m or 1g: $heap" 64
    [[ $timeout =~ ^[0-9]+$ ]] || die "--timeout must be seconds: $timeout" 64
    need_java
    command -v curl >/dev/null || die "no curl: install it (Debian: apt-get install curl)" 2
    command -v setsid >/dev/null || die "no setsid (util-linux)" 2
    fetch >/dev/null

    if [ -f "$RUNS/$name/cluster.env" ]; then
        (load_cluster "$name"
            for i in $(seq 0 $((NODES - 1))); do
                pid=$(node_pid "$name" "$i")
                [ -z "$pid" ] || die "$name is already running (node-$i, pid $pid): stop it first" 2
            done
            if [ -f "$RUNS/$name/kept" ] && [ "$NODES" -ne "$nodes" ]; then
                die "$RUNS/$name holds the kept data of $NODES node(s), not $nodes: 'stop $name' (without --keep-data) first" 1
            fi
        ) || exit $?
        if [ -f "$RUNS/$name/kept" ]; then
            say "$name: starting on the data kept in $RUNS/$name"
            rm -f "$RUNS/$name/kept"
        else
            say "$name: removing what a run that was not stopped left in $RUNS/$name"
            rm -rf "${RUNS:?}/$name"
        fi
    fi
    for i in $(seq 0 $((nodes - 1))); do
        port_taken $((http + i)) && die "port $((http + i)) on 127.0.0.1 is taken: choose another --http-port" 2
    done
    local transports=() p
    for i in $(seq 0 $((nodes - 1))); do
        # shellcheck disable=SC2046  # one argument per port
        p=$(free_port "${transports[@]+"${transports[@]}"}" $(seq "$http" $((http + nodes - 1))))
        transports+=("$p")
    done

    NODES=$nodes HTTP_PORT=$http HEAP=$heap
    TRANSPORT_PORTS=$(IFS=,; echo "${transports[*]}")
    mkdir -p "$RUNS/$name"
    printf 'NODES=%s\nHTTP_PORT=%s\nHEAP=%s\nTRANSPORT_PORTS=%s\n' \
        "$NODES" "$HTTP_PORT" "$HEAP" "$TRANSPORT_PORTS" >"$RUNS/$name/cluster.env"
    for i in $(seq 0 $((NODES - 1))); do
        write_node_config "$name" "$i" $((HTTP_PORT + i)) "${transports[$i]}"
    done
    local started
    started=$(date +%s)
    for i in $(seq 0 $((NODES - 1))); do
        launch_node "$name" "$i"
        say "started node-$i of $name (pid $(cat "$(node_dir "$name" "$i")/node.pid"), http $((HTTP_PORT + i)), transport ${transports[$i]}, heap $HEAP)"
    done
    # shellcheck disable=SC2046  # one argument per node
    if ! wait_health "$name" "$(wanted_status "$name")" "$NODES" "$timeout" $(seq 0 $((NODES - 1))); then
        say "stopping $name; its logs stay in $RUNS/$name/node-*/logs"
        stop_nodes "$name"
        exit 1
    fi
    say "$name up in $(($(date +%s) - started))s; logs in $RUNS/$name/node-*/logs"
    echo "http://127.0.0.1:$HTTP_PORT"
}

stop_nodes() {  # NAME: SIGTERM every node, SIGKILL those still there after STOP_TIMEOUT
    local name=$1 i pid pids=() waited=0
    for i in $(seq 0 $((NODES - 1))); do
        pid=$(node_pid "$name" "$i")
        if [ -n "$pid" ]; then
            kill -TERM "$pid" 2>/dev/null || true
            pids+=("$pid")
        fi
    done
    while [ ${#pids[@]} -gt 0 ]; do
        local still=()
        for pid in "${pids[@]}"; do alive "$pid" && still+=("$pid"); done
        pids=("${still[@]+"${still[@]}"}")
        [ ${#pids[@]} -gt 0 ] || break
        if [ "$waited" -ge $((STOP_TIMEOUT * 5)) ]; then
            say "node(s) ${pids[*]} did not stop in ${STOP_TIMEOUT}s: SIGKILL"
            kill -KILL "${pids[@]}" 2>/dev/null || true
            sleep 0.5
            break
        fi
        sleep 0.2
        waited=$((waited + 1))
    done
    rm -f "$RUNS/$name"/node-*/node.pid
}

cmd_stop() {
    local name=${1:-} keep=false
    [ -n "$name" ] || usage
    case ${2:-} in
        "") ;;
        --keep-data) keep=true ;;
        *) usage ;;
    esac
    if [ ! -f "$RUNS/$name/cluster.env" ]; then
        say "$name is not running (nothing in $RUNS/$name)"
        return 0
    fi
    load_cluster "$name"
    stop_nodes "$name"
    if $keep; then
        touch "$RUNS/$name/kept"
        say "stopped $name; data kept in $RUNS/$name for the next start"
    else
        rm -rf "${RUNS:?}/$name"
        say "stopped $name; removed $RUNS/$name"
    fi
}

node_index() {  # NAME I: checks I
    [[ ${2:-} =~ ^[0-9]+$ ]] || usage
    [ "$2" -lt "$NODES" ] || die "$1 has nodes 0..$((NODES - 1)), not $2" 64
}

cmd_kill_node() {
    local name=${1:-} i=${2:-} pid
    [ -n "$name" ] || usage
    load_cluster "$name"
    node_index "$name" "$i"
    pid=$(node_pid "$name" "$i")
    [ -n "$pid" ] || die "node-$i of $name is not running"
    kill -KILL "$pid"
    while alive "$pid"; do sleep 0.1; done
    rm -f "$(node_dir "$name" "$i")/node.pid"
    say "killed node-$i of $name (pid $pid)"
}

cmd_start_node() {
    local name=${1:-} i=${2:-} timeout=180 dir port transport
    [ -n "$name" ] || usage
    load_cluster "$name"
    node_index "$name" "$i"
    need_java
    [ -z "$(node_pid "$name" "$i")" ] || die "node-$i of $name is already running"
    dir=$(node_dir "$name" "$i")
    [ -f "$dir/config/opensearch.yml" ] || die "node-$i of $name has no config in $dir"
    port=$((HTTP_PORT + i))
    port_taken "$port" && die "port $port on 127.0.0.1 is taken" 2
    transport=$(sed -n 's/^transport.port: //p' "$dir/config/opensearch.yml")
    if port_taken "$transport"; then
        # The others still know it by their seed list; it finds them by its own.
        transport=$(free_port)
        sed -i "s/^transport.port: .*/transport.port: $transport/" "$dir/config/opensearch.yml"
    fi
    fetch >/dev/null
    launch_node "$name" "$i"
    say "started node-$i of $name again (pid $(cat "$dir/node.pid"), http $port)"
    wait_health "$name" "$(wanted_status "$name")" "$(live_nodes "$name")" "$timeout" "$i" || exit 1
}

cmd_status() {
    local name=${1:-} i pid state body="" down=0
    [ -n "$name" ] || usage
    load_cluster "$name"
    for i in $(seq 0 $((NODES - 1))); do
        pid=$(node_pid "$name" "$i")
        if [ -n "$pid" ]; then
            state="alive pid $pid rss $(($(ps -o rss= -p "$pid") / 1024))MiB"
            [ -n "$body" ] || body=$(health $((HTTP_PORT + i)))
        else
            state="down"
            down=$((down + 1))
        fi
        echo "node-$i http://127.0.0.1:$((HTTP_PORT + i)) $state"
    done
    if [ -n "$body" ]; then
        echo "health: $(echo "$body" | json_field status), nodes $(echo "$body" | json_field number_of_nodes)/$NODES, unassigned shards $(echo "$body" | json_field unassigned_shards)"
    else
        echo "health: no node answers"
    fi
    [ "$down" -eq 0 ]
}

cmd_dist() {
    local out=${1:-} stage
    [ -n "$out" ] || usage
    case $out in /*) ;; *) out="$PWD/$out" ;; esac
    fetch >/dev/null
    stage=$(mktemp -d)
    mkdir -p "$stage/citysoc-engine-$VERSION"
    cp -a "$HOME_DIR"/{bin,lib,config,modules,plugins} "$stage/citysoc-engine-$VERSION/"
    tar -C "$stage" -czf "$out" --owner=0 --group=0 "citysoc-engine-$VERSION"
    rm -rf "$stage"
    say "wrote $out ($(du -h "$out" | cut -f1)): unpack, then bin/engine-node CONFIG_DIR (see config/citysoc-engine.service)"
    echo "$out"
}

main() {
    local cmd=${1:-}
    [ $# -gt 0 ] && shift
    case $cmd in
        fetch) [ $# -eq 0 ] || usage; fetch ;;
        start) cmd_start "$@" ;;
        stop) { [ $# -ge 1 ] && [ $# -le 2 ]; } || usage; cmd_stop "$@" ;;
        kill-node) [ $# -eq 2 ] || usage; cmd_kill_node "$@" ;;
        start-node) [ $# -eq 2 ] || usage; cmd_start_node "$@" ;;
        status) [ $# -eq 1 ] || usage; cmd_status "$@" ;;
        dist) [ $# -eq 1 ] || usage; cmd_dist "$@" ;;
        *) usage ;;
    esac
}

main "$@"
