/**
 * POSIX sh snippets that the compatibility layers (@app/rock's bash sessions, @app/e2b's processes)
 * run inside sandboxes to keep their state in the container, where any API replica finds it.
 * Plain text to splice into a script: no agent, no binary beyond sh (and `kill`).
 */

/**
 * Sets `$boot` to the start time of the container's PID 1 (field 22 of /proc/1/stat, counted past
 * the command name, which may hold blanks and parentheses): a restarted container has a new one,
 * so state kept under a `$boot` directory is that of the current life only. Needs no fork, and
 * leaves the script's own arguments alone (a function's are its own). Sets `s` too.
 */
export const BOOT_ID = `boot_of() { boot=\${20}; }
read -r s < /proc/1/stat; s=\${s##*") "}; boot_of $s`;

/**
 * Sets `$all` to ` <root> <descendant> … ` (blank-separated, blank on both ends): the process whose
 * PID is in the variable `root` and every process below it, found by walking /proc's parent links
 * until nothing new turns up. Clobbers `more`, `f`, `l`, `q` and the positional parameters.
 */
export function descendantsOf(root: string): string {
  return `all=" $${root} " more=1
while [ -n "$more" ]; do
  more=
  for f in /proc/[0-9]*/stat; do
    read -r l < "$f" 2>/dev/null || continue
    q=\${f#/proc/}; q=\${q%/stat}; l=\${l##*") "}; set -- $l
    case "$all" in *" $q "*) ;; *" $2 "*) all="$all$q "; more=1 ;; esac
  done
done`;
}
