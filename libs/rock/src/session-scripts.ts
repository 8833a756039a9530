import { BOOT_ID, descendantsOf } from '@app/container-shell';

/**
 * The shell side of ROCK bash sessions, with no agent in the image. A session is one long-lived
 * shell (bash, else sh) in the container, reading command ids from a FIFO; its state lives only
 * in the container, under /tmp/.sandboxd-rock/<boot>/<session>/, so any API replica (or a
 * restarted one) reaches the same session:
 *
 *   in        FIFO the shell reads command ids from (it holds it open read-write: no EOF ever)
 *   pid       the shell's PID
 *   init      the shell's program (below); prelude: the startup_source lines
 *   c.<id>    a command's text; o.<id> its output (stdout and stderr interleaved, as on a pty)
 *   d.<id>    FIFO the shell writes the exit code to when the command is done (mode 666: the
 *             shell may run as another user, remote_user, than the caller)
 *
 * <boot> is the start time of the container's PID 1, so a restarted container (which ends every
 * process, as a stop does on ROCK) has none of the sessions of its previous life. Every open of a
 * FIFO here is read-write, which never blocks: a caller that went away cannot hang the shell, and
 * a shell that died cannot hang a caller.
 */

/** The session directory of `$name` in `d` and the boot's base in `b` (see BOOT_ID). */
const SESSION_DIR = `${BOOT_ID}
b=/tmp/.sandboxd-rock; d=$b/$boot/$name`;

/**
 * Runs the script ($1) under bash when there is one, else under sh: waiting uses `read -t`, which
 * some sh (dash) lack. The remaining arguments are the script's.
 */
export const TRAMPOLINE = `s=$1; shift
if command -v bash >/dev/null 2>&1; then exec bash -c "$s" bash "$@"; fi
eval "$s"`;

/**
 * Creates a session. Args: name, keep (1: inherit the exec's environment, else only PATH and
 * HOME), then NAME=value assignments. Stdin: the prelude. Prints `created` or `exists`.
 */
export const CREATE_SCRIPT = `name=$1 keep=$2; shift 2
${SESSION_DIR}
for e in "$b"/*; do [ "$e" = "$b/$boot" ] || rm -rf "$e"; done 2>/dev/null
if [ -p "$d/in" ] && read -r pid < "$d/pid" 2>/dev/null && kill -0 "$pid" 2>/dev/null; then
  echo exists; exit 0
fi
mkdir -p "$b/$boot" && chmod 1777 "$b" "$b/$boot" 2>/dev/null
rm -rf "$d" && mkdir -p "$d" && mkfifo "$d/in" && cat > "$d/prelude" || exit 1
sh=$(command -v bash || command -v sh)
printf "__rock_d='%s'\\n__rock_sh='%s'\\n" "$d" "$sh" > "$d/init"
cat >> "$d/init" <<'INIT'
command -v disown >/dev/null 2>&1 || disown() { :; }
trap 'return 124 2>/dev/null' USR1
. "$__rock_d/prelude" </dev/null >/dev/null 2>&1
__rock_run() {
  if "$__rock_sh" -n "$__rock_d/c.$1" >"$__rock_d/o.$1" 2>&1; then
    . "$__rock_d/c.$1" </dev/null >"$__rock_d/o.$1" 2>&1
    __rock_rc=$?
  else
    __rock_rc=2
  fi
  printf '%s\\n' "$__rock_rc" 1<>"$__rock_d/d.$1"
}
exec 7<>"$__rock_d/in"
while :; do
  IFS= read -r __rock_id <&7 && __rock_run "$__rock_id"
done
INIT
unset SANDBOXD_EXEC_ID
detach=; command -v setsid >/dev/null 2>&1 && detach=setsid
if [ "$keep" = 1 ]; then
  $detach env "$@" "$sh" "$d/init" </dev/null >"$d/log" 2>&1 &
else
  $detach env -i PATH="$PATH" HOME="$HOME" "$@" "$sh" "$d/init" </dev/null >"$d/log" 2>&1 &
fi
echo $! > "$d/pid"
echo created`;

/**
 * Runs one command. Args: name, command id, timeout in whole seconds. Stdin: the command. Prints
 * one line `<status> <exit code>` (status: ok, timeout, killed, gone, nosession), then the output.
 * At the timeout the shell is told (USR1: its trap returns from the command) and the command's
 * processes are killed, so the session lives on; one that still runs 3 s later takes the shell
 * with it (killed).
 */
export const RUN_SCRIPT = `name=$1 id=$2 t=$3
${SESSION_DIR}
if ! { [ -p "$d/in" ] && read -r pid < "$d/pid" && kill -0 "$pid"; } 2>/dev/null; then
  echo nosession; exit 0
fi
cat > "$d/c.$id" && mkfifo -m 666 "$d/d.$id" || exit 1
exec 3<>"$d/d.$id"
printf '%s\\n' "$id" 1<>"$d/in"
n=0 st=ok rc=
while ! IFS= read -r -t 1 rc <&3; do
  if ! kill -0 "$pid" 2>/dev/null; then st=gone; break; fi
  n=$((n+1))
  [ "$n" -lt "$t" ] && continue
  st=timeout
  if [ "$n" -ge $((t+3)) ]; then kill -KILL "$pid"; st=killed; break; fi
  kill -USR1 "$pid"
  ${descendantsOf('pid')}
  kids=\${all# $pid }
  [ -n "$kids" ] && kill -KILL $kids 2>/dev/null
done
echo "$st $rc"
cat "$d/o.$id" 2>/dev/null
rm -f "$d/c.$id" "$d/o.$id" "$d/d.$id"`;

/**
 * Closes a session: SIGHUP to its process group (what closing ROCK's pty does: nohup'd commands
 * live on), then the shell is killed. Args: name. Prints `closed` or `none`.
 */
export const CLOSE_SCRIPT = `name=$1
${SESSION_DIR}
if [ -p "$d/in" ] && read -r pid < "$d/pid" 2>/dev/null && kill -0 "$pid" 2>/dev/null; then
  kill -HUP -"$pid" 2>/dev/null; kill -KILL "$pid" 2>/dev/null; rm -rf "$d"; echo closed
else
  rm -rf "$d"; echo none
fi`;
