#!/bin/bash
# The checks of the systemd suite, run by dmzkit-tests.service once multi-user.target is up.
# One line per check on the console: `DMZKIT-TEST <name> PASS|FAIL <detail>`; the harness
# (qemu-tests/src/systemd_suite.rs) knows which names must appear. Expected values are in
# /etc/dmzkit-tests/expect.sh, written by the harness from the same configs the units use.
set -u
. /etc/dmzkit-tests/expect.sh
T=/usr/local/libexec/dmzkit-tests

printf 'DMZKIT-BOOT systemd-tests uptime %s\n' "$(cut -d' ' -f1 /proc/uptime)"
# Where the boot went, in seconds since the kernel started: the kernel ran the initramfs'
# /init, systemd started on the root file system, multi-user.target was reached.
printf 'DMZKIT-OBS systemd boot-s initramfs %s systemd %s multi-user %s\n' \
    "$(dmesg | sed -n 's/^\[ *\([0-9.]*\)\] Run \/init as init process.*/\1/p' | head -n1)" \
    "$(awk -v us="$(systemctl show -P UserspaceTimestampMonotonic)" 'BEGIN { printf "%.1f", us / 1e6 }')" \
    "$(awk -v us="$(systemctl show -P ActiveEnterTimestampMonotonic multi-user.target)" 'BEGIN { printf "%.1f", us / 1e6 }')"

# --- helpers -------------------------------------------------------------------------
# die MESSAGE: ends the check (a subshell) with MESSAGE as its detail.
die() {
    echo "$*" >&2
    exit 1
}
# check NAME FUNCTION: runs FUNCTION in a subshell; its output is the detail, followed by
# the time the check took.
check() {
    local name=$1 out rc t0 t1
    t0=$(cut -d' ' -f1 /proc/uptime)
    out=$("$2" 2>&1)
    rc=$?
    t1=$(cut -d' ' -f1 /proc/uptime)
    out=$(printf '%s' "$out" | tr '\n' ' ' | tr -s ' ')
    out="$out [$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f s", b - a }')]"
    if [ $rc = 0 ]; then
        printf 'DMZKIT-TEST %s PASS %s\n' "$name" "$out"
    else
        printf 'DMZKIT-TEST %s FAIL %s\n' "$name" "$out"
    fi
}
prop() { systemctl show -P "$2" "$1"; }
# A /proc/PID/status field with its whitespace squeezed ("1000 1000 1000 1000").
field() { sed -n "s/^$2:[[:space:]]*//p" "/proc/$1/status" | tr -s ' \t' '  ' | sed 's/ *$//'; }
limit_nofile() { awk '/^Max open files/ { print $4, $5 }' "/proc/$1/limits"; }
# wait_for SECONDS COMMAND...: polls COMMAND every 0.2 s.
wait_for() {
    local end=$((SECONDS + $1))
    shift
    until "$@"; do
        [ $SECONDS -ge "$end" ] && return 1
        sleep 0.2
    done
}
is_state() { [ "$(prop "$1" ActiveState)" = "$2" ]; }
journal() { journalctl -u "$1" -o cat --no-pager; }
journal_has() { journal "$1" | grep -qF -- "$2"; }
# creds PID SPEC: SPEC is "Key=value|Key=value" (status fields, plus limit-nofile).
creds() {
    local pid=$1 item key want got bad=
    local -a items
    IFS='|' read -ra items <<<"$2"
    for item in "${items[@]}"; do
        key=${item%%=*}
        want=${item#*=}
        if [ "$key" = limit-nofile ]; then got=$(limit_nofile "$pid"); else got=$(field "$pid" "$key"); fi
        [ "$got" = "$want" ] || bad+="$key '$got' (want '$want') "
    done
    [ -z "$bad" ] || die "pid $pid: $bad"
}
# main_pid UNIT: the unit's MainPID, failing when there is none.
main_pid() {
    local p
    p=$(prop "$1" MainPID)
    [ -n "$p" ] && [ "$p" != 0 ] || die "$1 has no MainPID ($(prop "$1" ActiveState))"
    echo "$p"
}
# A socket inode held open by PID, from its fd table.
holds_socket() { ls -l "/proc/$1/fd" 2>/dev/null | grep -qF "socket:[$2]"; }
# The inode of the socket listening on PORT (hex) in PID's network namespace.
listen_inode() {
    awk -v port="$2" 'FNR > 1 { split($2, a, ":"); if (a[2] == port && $4 == "0A") print $10 }' \
        "/proc/$1/net/tcp" "/proc/$1/net/tcp6" | head -n1
}
listening() { [ -n "$(listen_inode "$1" "$2")" ]; }
restarted() { [ "$(prop "$1" NRestarts)" -ge 1 ]; }
listen_uid() {
    awk -v port="$2" 'FNR > 1 { split($2, a, ":"); if (a[2] == port && $4 == "0A") print $8 }' \
        "/proc/$1/net/tcp" "/proc/$1/net/tcp6" | head -n1
}
http_get() {
    exec 5<>"/dev/tcp/127.0.0.1/$1" || return 1
    printf 'GET /index.html HTTP/1.0\r\nHost: localhost\r\n\r\n' >&5
    timeout 30 cat <&5
    exec 5<&-
}
# The service's process must be a direct child of systemd: the chain never forked.
direct_child() {
    local ppid
    ppid=$(field "$1" PPid)
    [ "$ppid" = 1 ] || die "pid $1 has PPid $ppid, not 1 (systemd)"
}

# --- the plain unit (examples/systemd/dmzkit-web.service) -----------------------------
web_mainpid() {
    wait_for 120 is_state dmzkit-web.service active || die "dmzkit-web.service is $(prop dmzkit-web.service ActiveState)"
    local pid exe
    pid=$(main_pid dmzkit-web.service) || exit 1
    exe=$(readlink "/proc/$pid/exe")
    case "$exe" in /usr/bin/python3*) ;; *) die "MainPID $pid runs $exe, not python3" ;; esac
    grep -qF http.server "/proc/$pid/cmdline" || die "MainPID $pid is not http.server"
    direct_child "$pid"
    echo "MainPID $pid is the target ($exe -m http.server), a direct child of systemd"
}
web_credentials() {
    local pid
    pid=$(main_pid dmzkit-web.service) || exit 1
    creds "$pid" "$WEB_EXPECT"
    echo "pid $pid: ${WEB_EXPECT//|/, }"
}
web_serves() {
    local pid resp ino uid
    pid=$(main_pid dmzkit-web.service) || exit 1
    wait_for 60 listening "$pid" 0050 || die "nothing listens on port 80"
    ino=$(listen_inode "$pid" 0050)
    uid=$(listen_uid "$pid" 0050)
    holds_socket "$pid" "$ino" || die "the socket on :80 (inode $ino) is not the target's"
    [ "$uid" = 1000 ] || die "the socket on :80 belongs to uid $uid"
    resp=$(http_get 80) || die "no connection to :80"
    grep -q '^HTTP/1.0 200' <<<"$resp" || die "response: $(head -n1 <<<"$resp")"
    grep -qF "$WWW_MARKER" <<<"$resp" || die "index.html not served"
    echo "pid $pid (uid 1000) holds the socket on :80 and serves index.html (200)"
}

# --- stop: SIGTERM reaches the target --------------------------------------------------
stop_web() {
    local pid
    pid=$(main_pid dmzkit-web.service) || exit 1
    systemctl stop dmzkit-web.service || die "systemctl stop failed"
    local st code status res epid
    st=$(prop dmzkit-web.service ActiveState)
    code=$(prop dmzkit-web.service ExecMainCode)
    status=$(prop dmzkit-web.service ExecMainStatus)
    res=$(prop dmzkit-web.service Result)
    epid=$(prop dmzkit-web.service ExecMainPID)
    [ "$epid" = "$pid" ] || die "ExecMainPID $epid, target was $pid"
    [ "$code" = 2 ] && [ "$status" = 15 ] || die "ExecMainCode $code ExecMainStatus $status (want killed by 15)"
    [ "$st" = inactive ] && [ "$res" = success ] || die "ActiveState $st Result $res"
    echo "target pid $pid ended by SIGTERM (ExecMainCode 2, status 15), unit inactive, Result=success"
}
stop_handler() {
    local u=dmzkit-t-term.service pid
    systemctl start $u || die "start failed"
    pid=$(main_pid $u) || exit 1
    wait_for 60 journal_has $u "term: running as pid $pid" || die "target did not start: $(journal $u | tail -n3)"
    systemctl stop $u
    wait_for 30 journal_has $u "term: SIGTERM received by pid $pid" || die "no SIGTERM in pid $pid: $(journal $u | tail -n3)"
    # An inactive unit nothing refers to is unloaded at once (its ExecMain* properties with
    # it): systemd's record comes from ExecStopPost's $SERVICE_RESULT/$EXIT_CODE/$EXIT_STATUS.
    wait_for 30 journal_has $u "term: systemd saw " || die "no ExecStopPost line"
    journal_has $u "term: systemd saw result=success code=exited status=0" ||
        die "$(journal $u | grep 'term: systemd saw')"
    echo "the target (MainPID $pid) got SIGTERM itself; systemd saw it exit 0, result=success"
}

# --- the precompiled config, dmz alone (examples/systemd/dmzkit-web-pcfg.service) -------
pcfg() {
    local u=dmzkit-web-pcfg.service pid resp
    is_state dmzkit-web.service inactive || die "dmzkit-web.service still holds port 80"
    systemctl start $u || die "start failed: $(journal $u | tail -n3)"
    pid=$(main_pid $u) || exit 1
    wait_for 60 listening "$pid" 0050 || die "nothing listens on port 80: $(journal $u | tail -n3)"
    case "$(readlink "/proc/$pid/exe")" in /usr/bin/python3*) ;; *) die "MainPID $pid is not python3" ;; esac
    direct_child "$pid"
    creds "$pid" "$WEB_EXPECT"
    resp=$(http_get 80) || die "no connection to :80"
    grep -qF "$WWW_MARKER" <<<"$resp" || die "index.html not served"
    systemctl stop $u
    echo "dmz /etc/dmzkit/web.pcfg: MainPID $pid is python3, same credentials as the launcher unit, serves :80"
}

# --- the seed scenario ------------------------------------------------------------------
seed() {
    local u=dmzkit-t-seed.service pid ino uid
    cp /usr/bin/nc.openbsd $T/nc-caps && setcap cap_net_bind_service=ep $T/nc-caps || die "setcap failed"
    getcap $T/nc-caps | grep -q 'cap_net_bind_service=ep' || die "getcap: $(getcap $T/nc-caps)"
    systemctl start $u || die "start failed"
    pid=$(main_pid $u) || exit 1
    wait_for 60 listening "$pid" 0050 || die "nothing listens on :80: $(journal $u | tail -n3)"
    [ "$(readlink "/proc/$pid/exe")" = $T/nc-caps ] || die "MainPID $pid runs $(readlink "/proc/$pid/exe")"
    direct_child "$pid"
    creds "$pid" "$SEED_EXPECT"
    ino=$(listen_inode "$pid" 0050)
    uid=$(listen_uid "$pid" 0050)
    holds_socket "$pid" "$ino" && [ "$uid" = 1000 ] || die "the :80 socket (inode $ino, uid $uid) is not the target's"
    systemctl stop $u
    echo "nc (MainPID $pid) listens on :80 as uid 1000: ${SEED_EXPECT//|/, }"
}
seed_control() {
    local u=dmzkit-t-seed-control.service
    systemctl start $u
    wait_for 60 is_state $u failed || die "ActiveState $(prop $u ActiveState)"
    journal_has $u "Permission denied" || die "no EACCES message: $(journal $u | tail -n3)"
    local status
    status=$(prop $u ExecMainStatus)
    [ "$status" = 1 ] || die "ExecMainStatus $status"
    systemctl reset-failed $u
    echo "without file caps nc fails: Permission denied, status 1"
}

# --- groups, capability subset, seccomp -------------------------------------------------
cred() {
    local u=dmzkit-t-cred.service pid
    systemctl start $u || die "start failed: $(journal $u | tail -n3)"
    pid=$(main_pid $u) || exit 1
    [ "$(readlink "/proc/$pid/exe")" = /usr/bin/sleep ] || die "MainPID $pid runs $(readlink "/proc/$pid/exe")"
    direct_child "$pid"
    creds "$pid" "$CRED_EXPECT"
    systemctl stop $u
    echo "pid $pid: ${CRED_EXPECT//|/, }"
}

# --- socket activation ------------------------------------------------------------------
socket_activation() {
    local s=dmzkit-t-listen.socket u=dmzkit-t-listen.service line pid lpid fds fd3 ino
    is_state $s active || die "$s is $(prop $s ActiveState)"
    is_state $u inactive || die "$u is $(prop $u ActiveState) before any connection"
    exec 5<>/dev/tcp/127.0.0.1/7070 || die "connect failed"
    read -r -t 120 line <&5 || die "no answer"
    exec 5<&-
    pid=$(main_pid $u) || exit 1
    lpid=$(sed -n 's/.*listen_pid=\([^ ]*\).*/\1/p' <<<"$line")
    fds=$(sed -n 's/.*listen_fds=\([^ ]*\).*/\1/p' <<<"$line")
    fd3=$(sed -n 's/.*fd3=\([^ ]*\).*/\1/p' <<<"$line")
    [[ "$line" == "pid=$pid "* ]] || die "answer '$line' is not from MainPID $pid"
    [ "$lpid" = "$pid" ] || die "LISTEN_PID $lpid, target pid $pid"
    [ "$fds" = 1 ] || die "LISTEN_FDS $fds"
    ino=$(sed -n 's/socket:\[\([0-9]*\)\]/\1/p' <<<"$fd3")
    [ -n "$ino" ] || die "fd 3 is $fd3"
    holds_socket 1 "$ino" || die "fd 3 ($fd3) is not the socket systemd holds"
    direct_child "$pid"
    systemctl stop $u 2>/dev/null
    echo "first connection started the service; target pid $pid has LISTEN_PID=$lpid LISTEN_FDS=1, fd 3 = systemd's $fd3"
}
echo_socket() {
    local word reply inst pid
    word="dmzkit-echo-$$"
    exec 5<>/dev/tcp/127.0.0.1/7 || die "connect to :7 failed"
    printf '%s\n' "$word" >&5
    read -r -t 120 reply <&5 || die "no echo"
    [ "$reply" = "$word" ] || die "echo '$reply'"
    inst=$(systemctl list-units --plain --no-legend 'dmzkit-echo@*.service' | awk '{ print $1; exit }')
    [ -n "$inst" ] || die "no dmzkit-echo@ instance while connected"
    pid=$(main_pid "$inst") || exit 1
    [ "$(readlink "/proc/$pid/exe")" = /usr/bin/cat ] || die "$inst MainPID $pid runs $(readlink "/proc/$pid/exe")"
    creds "$pid" "$ECHO_EXPECT"
    exec 5<&-
    echo "$inst echoed as MainPID $pid (cat): ${ECHO_EXPECT//|/, }"
}

# --- Type=notify and the watchdog -------------------------------------------------------
notify_example() {
    local u=dmzkit-notify.service pid wpid
    wait_for 120 is_state $u active || die "$u is $(prop $u ActiveState)"
    pid=$(main_pid $u) || exit 1
    grep -qF notify-demo.py "/proc/$pid/cmdline" || die "MainPID $pid is not notify-demo.py"
    direct_child "$pid"
    wpid=$(tr '\0' '\n' <"/proc/$pid/environ" | sed -n 's/^WATCHDOG_PID=//p')
    [ "$wpid" = "$pid" ] || die "WATCHDOG_PID $wpid, target pid $pid"
    echo "active after READY=1 from MainPID $pid (notify-demo.py), WATCHDOG_PID=$wpid"
}
ready_gate() {
    local u=dmzkit-t-ready.service pid i st
    mkdir -p /run/dmzkit-tests
    rm -f /run/dmzkit-tests/go
    systemctl start --no-block $u
    wait_for 120 journal_has $u "ready: waiting in pid" || die "the target did not start"
    pid=$(main_pid $u) || exit 1
    journal_has $u "ready: waiting in pid $pid" || die "the target is not MainPID $pid"
    for i in 1 2 3 4 5 6 7 8 9 10; do
        st=$(prop $u ActiveState)
        [ "$st" = activating ] || die "ActiveState $st before READY=1"
        sleep 0.3
    done
    touch /run/dmzkit-tests/go
    wait_for 120 is_state $u active || die "not active after READY=1: $(prop $u ActiveState)"
    journal_has $u "ready: sent READY=1 from pid $pid" || die "READY=1 not from $pid"
    systemctl stop $u
    echo "activating for 3 s while the target (MainPID $pid) waited, active once it sent READY=1"
}
watchdog() {
    local u=dmzkit-t-watchdog.service pid first n stop_at kill_at
    systemctl start $u || die "start failed: $(journal $u | tail -n3)"
    pid=$(main_pid $u) || exit 1
    journal_has $u "watchdog: pid=$pid watchdog_pid=$pid " || die "WATCHDOG_PID is not the target's: $(journal $u | grep 'watchdog: pid')"
    wait_for 180 restarted $u || die "NRestarts $(prop $u NRestarts): $(journal $u | tail -n4)"
    n=$(prop $u NRestarts)
    stop_at=$(journal $u | grep -nF "watchdog: stopped pinging in pid $pid" | head -n1 | cut -d: -f1)
    kill_at=$(journal $u | grep -nF "Watchdog timeout" | head -n1 | cut -d: -f1)
    [ -n "$stop_at" ] && [ -n "$kill_at" ] && [ "$stop_at" -lt "$kill_at" ] ||
        die "pinging stopped at journal line '$stop_at', watchdog timeout at '$kill_at'"
    journal_has $u "Killing process $pid " || die "pid $pid was not the one killed: $(journal $u | grep Killing)"
    wait_for 60 is_state $u active
    first=$pid
    pid=$(main_pid $u) || exit 1
    [ "$pid" != "$first" ] || die "still pid $first after a restart"
    systemctl stop $u
    echo "pings from pid $first kept it alive; after they stopped: Watchdog timeout, pid $first killed, restarted as pid $pid, NRestarts=$n"
}

# --- failures: dmz's one line and status 125 --------------------------------------------
bad_unit() { # UNIT EXPECTED-LINE
    local u=$1 want=$2 status code lines
    systemctl start "$u"
    wait_for 60 is_state "$u" failed || die "ActiveState $(prop "$u" ActiveState)"
    status=$(prop "$u" ExecMainStatus)
    code=$(prop "$u" ExecMainCode)
    [ "$code" = 1 ] && [ "$status" = "$BAD_STATUS" ] || die "ExecMainCode $code ExecMainStatus $status"
    wait_for 30 journal_has "$u" "$want" || die "journal: $(journal "$u" | tail -n3)"
    lines=$(journal "$u" | grep -c '^dmz: ')
    [ "$lines" = 1 ] || die "$lines lines from dmz"
    systemctl reset-failed "$u"
    echo "ExecMainStatus=$status, journalctl -u $u: $want"
}
bad_config() { bad_unit dmzkit-t-bad.service "$BAD_LINE"; }
bad_step() { bad_unit dmzkit-t-badstep.service "$BADSTEP_LINE"; }

# --- dmzkit's init as the ExecStart= wrapper --------------------------------------------
init_stop() {
    local u=dmzkit-t-init.service pid child exe code status
    systemctl start $u || die "start failed"
    pid=$(main_pid $u) || exit 1
    exe=$(readlink "/proc/$pid/exe")
    [ "$exe" = /usr/local/libexec/dmzkit/init ] || die "MainPID $pid runs $exe"
    wait_for 60 journal_has $u "init-child: running as" || die "the command did not start"
    child=$(journal $u | sed -n 's/^init-child: running as //p' | tail -n1)
    [ "$(field "$child" PPid)" = "$pid" ] || die "command pid $child is not init's child"
    systemctl stop $u
    journal_has $u "init-child: TERM in $child" || die "SIGTERM did not reach the command: $(journal $u | tail -n3)"
    code=$(prop $u ExecMainCode)
    status=$(prop $u ExecMainStatus)
    [ "$code" = 1 ] && [ "$status" = 3 ] || die "ExecMainCode $code ExecMainStatus $status (want exited 3)"
    systemctl reset-failed $u 2>/dev/null
    echo "stop sent SIGTERM to init (MainPID $pid) alone; the command ($child) got it, exited 3, init exited 3"
}
init_exit() {
    local u=dmzkit-t-init-exit.service status code
    systemctl start $u
    wait_for 60 is_state $u failed || die "ActiveState $(prop $u ActiveState)"
    code=$(prop $u ExecMainCode)
    status=$(prop $u ExecMainStatus)
    [ "$code" = 1 ] && [ "$status" = 7 ] || die "ExecMainCode $code ExecMainStatus $status"
    journal_has $u "init-exit: exiting 7" || die "the command did not run"
    systemctl reset-failed $u
    echo "the command exited 7, so did init: ExecMainStatus=7"
}

# Order matters where units share port 80: the launcher unit is stopped before the
# precompiled one starts.
check web-mainpid web_mainpid
check web-credentials web_credentials
check web-serves web_serves
check notify-example notify_example
check socket-activation socket_activation
check echo-socket echo_socket
check stop-sigterm stop_web
check pcfg-dmz-alone pcfg
check stop-handler stop_handler
check seed-port80 seed
check seed-control seed_control
check credentials cred
check notify-ready-gate ready_gate
check watchdog-restart watchdog
check bad-config bad_config
check bad-step bad_step
check init-stop init_stop
check init-exit init_exit
printf 'DMZKIT-END systemd-tests uptime %s\n' "$(cut -d' ' -f1 /proc/uptime)"
