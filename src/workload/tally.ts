import { redactedMessage } from '../config/redact.js';

/** What a GET of a key the harness wrote returned: exactly the bytes written, nothing, or other bytes. */
export type PlainVerdict = 'verified' | 'missing' | 'mismatched';

/** The read verdict every loop gives a GET of a value it wrote (versioned values: judgeRead in overwriter.ts). */
export function readVerdict(value: Buffer | null, written: Buffer): PlainVerdict {
  if (value === null) return 'missing';
  return value.length === written.length && value.equals(written) ? 'verified' : 'mismatched';
}

/** Counters of one target over a whole parameter combination: ops, failures, verification. */
export class Tally {
  sets = 0;
  setErrors = 0;
  gets = 0;
  getErrors = 0;
  /** GETs that returned exactly the bytes written. */
  verified = 0;
  /** GETs that returned nothing for a key just written. */
  missing = 0;
  /** GETs that returned other bytes (wrong length or content). */
  mismatched = 0;
  /**
   * GETs that returned an older version than one already acknowledged (OVERWRITE_RATE), or nothing for a key
   * already written when reading from a replica. Not counted as verified.
   */
  stale = 0;
  /** Receives each stale read's age in ns (how long the newer version had been acknowledged). */
  staleAge: ((ns: number) => void) | undefined;
  /** Distinct failure messages with their counts (at most MAX_MESSAGES kept). */
  readonly errorMessages = new Map<string, number>();

  static readonly MAX_MESSAGES = 10;

  /** Counts a read's verdict. */
  read(verdict: PlainVerdict): void {
    this[verdict]++;
  }

  /** Records a stale read and its age. */
  staleRead(ageNs: number): void {
    this.stale++;
    this.staleAge?.(ageNs);
  }

  /** Records a failed op and its message (credentials masked: it goes into the results); `command`: a WORKLOAD's command name. */
  fail(op: 'set' | 'get', error: unknown, command?: string): string {
    if (op === 'set') this.setErrors++;
    else this.getErrors++;
    const message = `${command ?? op.toUpperCase()}: ${redactedMessage(error)}`;
    const seen = this.errorMessages.get(message);
    if (seen !== undefined) this.errorMessages.set(message, seen + 1);
    else if (this.errorMessages.size < Tally.MAX_MESSAGES) this.errorMessages.set(message, 1);
    return message;
  }
}
