/** A local topology cannot be started (missing binary, server failed to start). */
export class LocalSetupError extends Error {
  override readonly name = 'LocalSetupError';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}
