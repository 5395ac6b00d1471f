/** Why a set of results cannot be merged (the CLI maps it to exit 2, naming the file). */
export class MergeError extends Error {
  override readonly name = 'MergeError';
  /** The fix, when it is not the usual one (give throughput results). */
  constructor(message: string, readonly fix?: string) {
    super(message);
  }
}
