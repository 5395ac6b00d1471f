/**
 * The seed loop every per-driver benchmark measures (bench:clients, bench:memcache), and how: READ_RATIO 100,
 * WRITE_COUNT 10, PAYLOAD_BYTES 20000 (env PAYLOAD_BYTES), ITERATIONS per measurement, REPEATS alternated repeats
 * (env REPEATS), client and server pinned to BENCH_CPU (default 0).
 */
export const READ_RATIO = 100;
export const WRITE_COUNT = 10;
export const PAYLOAD_BYTES = Number(process.env.PAYLOAD_BYTES ?? 20000);
export const REPEATS = Number(process.env.REPEATS ?? 3);
export const ITERATIONS = 15;
/** Ops of one seed-loop iteration. */
export const OPS = WRITE_COUNT * (1 + READ_RATIO);
export const CPU = process.env.BENCH_CPU ?? '0';
