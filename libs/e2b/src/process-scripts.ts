import { BOOT_ID, descendantsOf } from '@app/container-shell';

/**
 * The shell side of E2B processes, with no agent in the image. Every command runs under a small
 * wrapper whose PID (in the container) is the process's E2B pid; its state lives only in the
 * container, under /tmp/.sandboxd-e2b/<boot>/<pid>/, so any API replica can list, signal, feed
 * and follow it:
 *
 *   info      the process's config (base64 JSON: cmd, args, envs, cwd, tag), for List
 *   in        FIFO the command reads stdin from (only when started with stdin)
 *   keep      PID of the process holding `in` open for writing (killed by CloseStdin: EOF)
 *   out, err  the command's stdout and stderr as written, each up to a cap, which Connect on
 *             another replica follows (FOLLOW_SCRIPT); only when the image has a tee (or busybox)
 *   exit      the exit code, once the command is done (and its output written)
 *
 * <boot> is the start time of the container's PID 1 (as for ROCK's sessions), so a resumed
 * sandbox lists none of the processes of its previous life.
 */

/** The base of every boot in `r`, this boot's in `b` (see BOOT_ID). */
const BOOT_DIR = `${BOOT_ID}
r=/tmp/.sandboxd-e2b; b=$r/$boot`;

/** Seconds a finished process's out and err stay, for a follower's last read. */
const MIRROR_GRACE_SECONDS = 10;

/**
 * The bytes of each mirror file as the cap is set: `ulimit -f` counts 512-byte blocks, so the cap
 * is a whole number of them (at least the limit asked for).
 */
export function mirrorCapBytes(limitBytes: number): number {
  return Math.ceil(limitBytes / 512) * 512;
}

/**
 * Args: info, stdin (1 or 0), mirror cap (bytes, a multiple of 512), then the command. Prints the
 * PID on the first line of stdout, then runs the command with its stdout and stderr passed on as
 * they come, each through a tee into `out` and `err` (a tee that cannot write, or has written the
 * cap, goes on passing output on: SIGPIPE and SIGXFSZ are ignored, and tee skips a failing file).
 * `/bin/bash` (what the SDK always asks for) becomes `/bin/sh` on images without bash.
 */
export const START_SCRIPT = `m=$1 i=$2 c=$3; shift 3
${BOOT_DIR}; d=$b/$$
mkdir -p "$d" 2>/dev/null && chmod 1777 "$r" "$b" 2>/dev/null
printf '%s\\n' "$m" > "$d/info" 2>/dev/null
echo $$
if [ "$1" = /bin/bash ] && [ ! -x /bin/bash ]; then
  shift; [ "$1" = -l ] && shift; set -- /bin/sh "$@"
fi
t=
if command -v tee >/dev/null 2>&1; then t=tee
elif busybox tee </dev/null >/dev/null 2>&1; then t="busybox tee"; fi
si=/dev/null k=
if [ "$i" = 1 ] && mkfifo "$d/in" 2>/dev/null; then
  sleep 2147483647 > "$d/in" 2>/dev/null &
  k=$!; echo "$k" > "$d/keep"; si=$d/in
fi
if [ -n "$t" ] && mkfifo "$d/o" "$d/e" 2>/dev/null; then
  n=$((c / 512))
  ( trap '' PIPE XFSZ; ulimit -f "$n" 2>/dev/null; exec $t -a "$d/out" 2>/dev/null ) < "$d/o" &
  to=$!
  ( trap '' PIPE XFSZ; ulimit -f "$n" 2>/dev/null; exec $t -a "$d/err" >&2 2>/dev/null ) < "$d/e" &
  te=$!
  "$@" < "$si" > "$d/o" 2> "$d/e"; rc=$?
  wait "$to" "$te"
else
  "$@" < "$si"; rc=$?
fi
[ -n "$k" ] && kill "$k" 2>/dev/null
echo "$rc" > "$d/exit" 2>/dev/null
( sleep ${MIRROR_GRACE_SECONDS}; rm -f "$d/out" "$d/err" "$d/o" "$d/e" ) </dev/null >/dev/null 2>&1 &
exit "$rc"`;

/**
 * Args: pid. Writes what the process writes to its stdout and stderr from now on (read from `out`
 * and `err`, polled five times a second), to the same streams, until the process has ended and
 * all it wrote is passed on. Checking the end before each read makes the last read complete.
 */
export const FOLLOW_SCRIPT = `p=$1
${BOOT_DIR}; d=$b/$p
[ -d "$d" ] || exit 0
size() { z=$(wc -c < "$1" 2>/dev/null); z=\${z##* }; z=\${z:-0}; }
size "$d/out"; o=$z; size "$d/err"; e=$z
while :; do
  f=0; { [ -f "$d/exit" ] || [ ! -d "/proc/$p" ]; } && f=1
  size "$d/out"
  if [ "$z" -gt "$o" ]; then tail -c +$((o + 1)) "$d/out" | head -c $((z - o)); o=$z; fi
  size "$d/err"
  if [ "$z" -gt "$e" ]; then tail -c +$((e + 1)) "$d/err" | head -c $((z - e)) >&2; e=$z; fi
  [ "$f" = 1 ] && exit 0
  sleep 0.2 2>/dev/null || sleep 1
done`;

/** Prints `<pid> <info>` per live process; forgets finished ones. */
export const LIST_SCRIPT = `${BOOT_DIR}
for e in "$r"/*; do [ "$e" = "$b" ] || rm -rf "$e"; done 2>/dev/null
for d in "$b"/*; do
  [ -d "$d" ] || continue
  p=\${d##*/}
  if [ -f "$d/exit" ] || [ ! -d "/proc/$p" ]; then rm -rf "$d" 2>/dev/null; continue; fi
  read -r m < "$d/info" 2>/dev/null
  echo "$p $m"
done`;

/**
 * Args: pid, signal (KILL or TERM). Signals the process and every descendant. Prints `ok` or
 * `none` (no such E2B process).
 */
export const SIGNAL_SCRIPT = `p=$1 sig=$2
${BOOT_DIR}
if [ ! -d "$b/$p" ] || [ -f "$b/$p/exit" ] || [ ! -d "/proc/$p" ]; then echo none; exit 0; fi
${descendantsOf('p')}
kill -"$sig" $all 2>/dev/null
echo ok`;

/** Args: pid. Stdin: the bytes. Prints `ok`, `nostdin` or `none`. */
export const INPUT_SCRIPT = `p=$1
${BOOT_DIR}
if [ ! -d "$b/$p" ] || [ -f "$b/$p/exit" ]; then echo none; exit 0; fi
[ -p "$b/$p/in" ] || { echo nostdin; exit 0; }
cat 1<>"$b/$p/in" && echo ok`;

/** Args: pid. Prints `ok`, `nostdin` or `none`. */
export const CLOSE_STDIN_SCRIPT = `p=$1
${BOOT_DIR}
if [ ! -d "$b/$p" ] || [ -f "$b/$p/exit" ]; then echo none; exit 0; fi
read -r k < "$b/$p/keep" 2>/dev/null || { echo nostdin; exit 0; }
kill "$k" 2>/dev/null; echo ok`;

/**
 * Args: pid, wait (1: poll each second until the process ends), and the mirror cap (bytes) or
 * nothing. Prints `none` when there is no such process, `running` (without wait), else
 * `end <exit code>` (empty when it was killed before it could write one), followed by ` cut` when
 * a mirror file reached the cap (its followers missed output).
 */
export const WAIT_SCRIPT = `p=$1 w=$2 c=$3
${BOOT_DIR}
[ -d "$b/$p" ] || { echo none; exit 0; }
while [ ! -f "$b/$p/exit" ] && [ -d "/proc/$p" ]; do
  [ "$w" = 1 ] || { echo running; exit 0; }
  sleep 1
done
rc=; read -r rc < "$b/$p/exit" 2>/dev/null
cut=
if [ -n "$c" ]; then
  for f in "$b/$p/out" "$b/$p/err"; do
    z=$(wc -c < "$f" 2>/dev/null); z=\${z##* }
    [ "\${z:-0}" -ge "$c" ] && cut=" cut"
  done
fi
echo "end $rc$cut"`;
