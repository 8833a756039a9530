/**
 * When an exec cannot start (no such program, working directory or user), the engine does not fail
 * the start call: it writes its error into the exec's stdout and reports exit code 126. To tell
 * that apart from a program's own output, stdout is held back while it could still be one of the
 * engine's messages, which costs a normal program nothing: its first bytes differ at once.
 */

const ENGINE_PREFIXES = ['OCI runtime exec failed', 'unable to find user', 'unable to find group'];
const HOLD_LIMIT = 4_096;

function couldBeEngineText(text: string): boolean {
  return ENGINE_PREFIXES.some((prefix) => text.startsWith(prefix) || prefix.startsWith(text));
}

export class StartFailureProbe {
  private held: Buffer[] = [];
  private heldBytes = 0;
  private holding = true;

  /** The stdout bytes to pass on now: none while they may still be the engine's message. */
  offer(chunk: Buffer): Buffer[] {
    if (!this.holding) return [chunk];
    this.held.push(chunk);
    this.heldBytes += chunk.length;
    if (this.heldBytes > HOLD_LIMIT || !couldBeEngineText(this.text())) return this.release();
    return [];
  }

  /** Stops holding (other output came, or the exec ended normally); returns what was held. */
  release(): Buffer[] {
    this.holding = false;
    const held = this.held;
    this.held = [];
    return held;
  }

  /** The engine's message, if everything held so far is one; only meaningful at the end. */
  engineText(): string | null {
    if (!this.holding || this.heldBytes === 0) return null;
    const text = this.text();
    return ENGINE_PREFIXES.some((prefix) => text.startsWith(prefix)) ? text : null;
  }

  private text(): string {
    return Buffer.concat(this.held).toString('utf8');
  }
}
