import { BOOT_ID, descendantsOf } from '@app/container-shell';

/**
 * The shell side of E2B processes, with no agent in the image. Every command runs under a small
 * wrapper whose PID (in the container) is the process's E2B pid; its state lives only in the
 * container, under /tmp/.sandboxd-e2b/<boot>/<pid>/, so any API replica can list, signal and feed it:
 *
 *   info   the process's config (base64 JSON: cmd, args, envs, cwd, tag), for List
 *   in     FIFO the command reads stdin from (only when started with stdin)
 *   keep   PID of the process holding `in` open for writing (killed by CloseStdin: EOF)
 *   exit   the exit code, once the command is done
 *
 * <boot> is the start time of the container's PID 1 (as for ROCK's sessions), so a resumed
 * sandbox lists none of the processes of its previous life.
 */

/** The base of every boot in `r`, this boot's in `b` (see BOOT_ID). */
const BOOT_DIR = `${BOOT_ID}
r=/tmp/.sandboxd-e2b; b=$r/$boot`;

/**
 * Args: info, stdin (1 or 0), then the command. Prints the PID on the first line of stdout, then
 * runs the command with stdout and stderr straight through. `/bin/bash` (what the SDK always asks
 * for) becomes `/bin/sh` on images without bash.
 */
export const START_SCRIPT = `m=$1 i=$2; shift 2
${BOOT_DIR}; d=$b/$$
mkdir -p "$d" 2>/dev/null && chmod 1777 "$r" "$b" 2>/dev/null
printf '%s\\n' "$m" > "$d/info" 2>/dev/null
echo $$
if [ "$1" = /bin/bash ] && [ ! -x /bin/bash ]; then
  shift; [ "$1" = -l ] && shift; set -- /bin/sh "$@"
fi
if [ "$i" = 1 ] && mkfifo "$d/in" 2>/dev/null; then
  sleep 2147483647 > "$d/in" 2>/dev/null &
  echo $! > "$d/keep"
  "$@" < "$d/in"; rc=$?
  kill "$!" 2>/dev/null
else
  "$@" < /dev/null; rc=$?
fi
echo "$rc" > "$d/exit" 2>/dev/null
exit "$rc"`;

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
 * Args: pid, wait (1: poll each second until the process ends). Prints `none` when there is no
 * such process, `running` (without wait), else `end <exit code>` (empty when it was killed before
 * it could write one).
 */
export const WAIT_SCRIPT = `p=$1 w=$2
${BOOT_DIR}
[ -d "$b/$p" ] || { echo none; exit 0; }
while [ ! -f "$b/$p/exit" ] && [ -d "/proc/$p" ]; do
  [ "$w" = 1 ] || { echo running; exit 0; }
  sleep 1
done
rc=; read -r rc < "$b/$p/exit" 2>/dev/null
echo "end $rc"`;
