import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';

/** The Kubernetes example (from dist/test/helpers, three levels up is the repo root). */
export const MANIFEST_PATH = fileURLToPath(new URL('../../../examples/kubernetes/indexed-job.yaml', import.meta.url));

/** A manifest document as plain data: kind, apiVersion, metadata.name and the rest untyped. */
export interface ManifestDocument {
  readonly apiVersion: string;
  readonly kind: string;
  readonly metadata: { readonly name: string; readonly [key: string]: unknown };
  readonly [key: string]: unknown;
}

/** Every document of the manifest as plain JS data; throws on a YAML error or warning, or a document without kind/metadata.name. */
export function readManifest(path: string = MANIFEST_PATH): ManifestDocument[] {
  const docs = parseAllDocuments(readFileSync(path, 'utf8'));
  if (!Array.isArray(docs)) throw new Error(`${path}: no YAML documents`);
  return docs.map((doc, i) => {
    const problems = [...doc.errors, ...doc.warnings];
    if (problems.length > 0) throw new Error(`${path}: document ${i}: ${problems.map((p) => p.message).join('; ')}`);
    const data: unknown = doc.toJS();
    const d = data as Partial<ManifestDocument> | null;
    if (d === null || typeof d !== 'object' || typeof d.kind !== 'string' || typeof d.apiVersion !== 'string' || typeof d.metadata?.name !== 'string') {
      throw new Error(`${path}: document ${i} lacks apiVersion, kind or metadata.name`);
    }
    return d as ManifestDocument;
  });
}

/** A Job document's only container (throws unless there is exactly one). */
export function jobContainer(job: ManifestDocument): { command: string[]; env: Record<string, string>; [key: string]: unknown } {
  const containers = (job as { spec?: { template?: { spec?: { containers?: unknown } } } }).spec?.template?.spec?.containers;
  if (!Array.isArray(containers) || containers.length !== 1) throw new Error(`Job ${job.metadata.name}: expected exactly one container`);
  const c = containers[0] as { command?: unknown; env?: unknown; [key: string]: unknown };
  if (!Array.isArray(c.command) || !c.command.every((a): a is string => typeof a === 'string')) throw new Error(`Job ${job.metadata.name}: container command is not a list of strings`);
  const env: Record<string, string> = {};
  for (const e of (c.env ?? []) as { name?: unknown; value?: unknown }[]) {
    if (typeof e.name !== 'string' || typeof e.value !== 'string') throw new Error(`Job ${job.metadata.name}: env entry ${JSON.stringify(e)} is not a literal name/value string pair`);
    env[e.name] = e.value;
  }
  return { ...c, command: c.command, env };
}

/** The manifest's Job named `name`. */
export function manifestJob(name: string, docs: readonly ManifestDocument[] = readManifest()): ManifestDocument {
  const job = docs.find((d) => d.kind === 'Job' && d.metadata.name === name);
  if (job === undefined) throw new Error(`${MANIFEST_PATH}: no Job named ${name}`);
  return job;
}

/**
 * The load Job (cachebench-load) container's command array and env (name → value), exactly as the
 * manifest has them, so a test can run the pod's command line locally (e.g. as shard 0 of 1: set
 * JOB_COMPLETION_INDEX=0 and SHARDS=1, and replace START_AT, which the manifest holds as the
 * envsubst placeholder "${START_AT}", and RESULTS_DIR/REDIS_SERVERS with local values).
 * The command runs from the image's workingDir (/app, the repo root).
 */
export function loadJobCommand(): { command: string[]; env: Record<string, string> } {
  const { command, env } = jobContainer(manifestJob('cachebench-load'));
  return { command, env };
}
