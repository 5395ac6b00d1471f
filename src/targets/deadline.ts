/**
 * Rejects with `late()` once `ms` have passed without `op` settling. The timer is cleared when the op settles; a late
 * reply to an op given up on is dropped. node-redis has no deadline for a command already written to the socket, and
 * in a fault run an ioredis op may wait in an offline queue or between cluster retries where its commandTimeout does
 * not run: those ops go through this.
 */
export function withDeadline<T>(op: Promise<T>, ms: number, late: () => Error): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(late()), ms);
    op.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (error: unknown) => {
        clearTimeout(timer);
        reject(error);
      },
    );
  });
}
