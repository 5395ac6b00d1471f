import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { Job } from 'kubernetes-models/batch/v1/Job';
import { PersistentVolumeClaim } from 'kubernetes-models/v1/PersistentVolumeClaim';
import { jobContainer, loadJobCommand, manifestJob, MANIFEST_PATH, readManifest, type ManifestDocument } from '../helpers/kubernetes.js';

type JobData = ConstructorParameters<typeof Job>[0];
type ClaimData = ConstructorParameters<typeof PersistentVolumeClaim>[0];

/** Validates a document against the Kubernetes OpenAPI schema of its kind; throws on a schema error or an unexpected kind. */
function validate(doc: ManifestDocument): void {
  const key = `${doc.apiVersion}/${doc.kind}`;
  switch (key) {
    case 'batch/v1/Job': new Job(doc as unknown as JobData).validate(); return;
    case 'v1/PersistentVolumeClaim': new PersistentVolumeClaim(doc as unknown as ClaimData).validate(); return;
    default: throw new Error(`no kubernetes-models class for ${key} (document ${doc.metadata.name})`);
  }
}

interface PodSpec {
  restartPolicy?: string;
  containers: { name: string; image: string; workingDir?: string; resources?: unknown; volumeMounts?: { name: string; mountPath: string }[] }[];
  volumes?: { name: string; persistentVolumeClaim?: { claimName: string } }[];
}
interface JobSpec { completionMode?: string; completions?: number; parallelism?: number; backoffLimit?: number; suspend?: boolean; template: { spec: PodSpec } }
const specOf = (job: ManifestDocument): JobSpec => (job as unknown as { spec: JobSpec }).spec;

/** The claim mounted at `mountPath` in the Job's container. */
function claimAt(job: ManifestDocument, mountPath: string): string | undefined {
  const pod = specOf(job).template.spec;
  const mount = pod.containers[0]?.volumeMounts?.find((m) => m.mountPath === mountPath);
  return pod.volumes?.find((v) => v.name === mount?.name)?.persistentVolumeClaim?.claimName;
}

const docs = readManifest();
const load = manifestJob('cachebench-load', docs);
const merge = manifestJob('cachebench-merge', docs);

describe('Kubernetes example (examples/kubernetes/indexed-job.yaml)', () => {
  it('holds a PersistentVolumeClaim and two Jobs, each valid against the Kubernetes schema', () => {
    assert.deepEqual(docs.map((d) => d.kind), ['PersistentVolumeClaim', 'Job', 'Job']);
    assert.deepEqual(docs.map((d) => d.metadata.name), ['cachebench-results', 'cachebench-load', 'cachebench-merge']);
    for (const doc of docs) assert.doesNotThrow(() => validate(doc), `${doc.kind} ${doc.metadata.name}`);
  });

  it('validation is real: a wrong type in the load Job is rejected', () => {
    const cases: [string, (spec: Record<string, unknown>) => void, RegExp][] = [
      ['completionMode: 5', (s) => { s.completionMode = 5; }, /completionMode/],
      ["parallelism: 'three'", (s) => { s.parallelism = 'three'; }, /parallelism/],
      ['completionMode: Indexd', (s) => { s.completionMode = 'Indexd'; }, /completionMode/],
    ];
    for (const [label, mutate, message] of cases) {
      const copy = structuredClone(load) as unknown as { spec: Record<string, unknown> };
      mutate(copy.spec);
      assert.throws(() => validate(copy as unknown as ManifestDocument), message, label);
    }
    assert.doesNotThrow(() => validate(load), 'the mutations touched a copy only');
  });

  it('the shared volume is a 1Gi ReadWriteMany claim mounted at RESULTS_DIR by both Jobs', () => {
    const claim = docs[0] as unknown as { spec: { accessModes: string[]; resources: { requests: { storage: string } } } };
    assert.deepEqual(claim.spec.accessModes, ['ReadWriteMany']);
    assert.equal(claim.spec.resources.requests.storage, '1Gi');
    for (const job of [load, merge]) {
      const resultsDir = jobContainer(job).env.RESULTS_DIR;
      assert.equal(resultsDir, '/results', job.metadata.name);
      assert.equal(claimAt(job, resultsDir), 'cachebench-results', `${job.metadata.name} mounts the claim at RESULTS_DIR`);
    }
  });

  it('the load Job runs SHARDS indexed pods at once, each as shard $JOB_COMPLETION_INDEX/$SHARDS, never retried', () => {
    const spec = specOf(load);
    const { command, env } = loadJobCommand();
    const shards = Number(env.SHARDS);
    assert.ok(Number.isInteger(shards) && shards >= 1, `SHARDS=${env.SHARDS}`);
    assert.equal(spec.completionMode, 'Indexed');
    assert.equal(spec.completions, shards, 'completions must equal SHARDS');
    assert.equal(spec.parallelism, shards, 'parallelism must equal SHARDS (all shards share START_AT)');
    assert.equal(spec.backoffLimit, 0);
    assert.equal(spec.template.spec.restartPolicy, 'Never');
    const container = spec.template.spec.containers[0];
    assert.equal(container?.name, 'cachebench');
    assert.equal(container?.image, 'cachebench:latest');
    assert.equal(container?.workingDir, '/app');
    assert.deepEqual(container?.resources, { requests: { cpu: '2', memory: '1Gi' }, limits: { cpu: '2', memory: '1Gi' } });

    assert.deepEqual(command, ['sh', '-c', 'exec node dist/src/cli/main.js run scenarios/throughput.yaml --no-local --shard "$JOB_COMPLETION_INDEX/$SHARDS" --out "$RESULTS_DIR/shard-$JOB_COMPLETION_INDEX"']);
    assert.ok(command[2]?.includes('--shard "$JOB_COMPLETION_INDEX/$SHARDS"'));
    assert.deepEqual(Object.keys(env).sort(), ['CI', 'REDIS_SERVERS', 'RESULTS_DIR', 'SHARDS', 'START_AT']);
    assert.equal(env.START_AT, '${START_AT}', 'START_AT is the envsubst placeholder');
    assert.equal(env.CI, 'true');
    assert.match(env.REDIS_SERVERS ?? '', /^[^,\s]+:\d+(,[^,\s]+:\d+)*$/);
  });

  it('the merge Job waits suspended and merges every shard\'s results.json', () => {
    const spec = specOf(merge);
    const { command, env } = jobContainer(merge);
    assert.equal(spec.suspend, true, 'applied with the load, it must not run before the load completes');
    assert.equal(spec.backoffLimit, 0);
    assert.equal(spec.template.spec.restartPolicy, 'Never');
    assert.equal(spec.template.spec.containers[0]?.image, 'cachebench:latest');
    assert.equal(spec.template.spec.containers[0]?.workingDir, '/app');
    assert.deepEqual(env, { RESULTS_DIR: '/results' });
    assert.deepEqual(command, ['sh', '-c', 'exec node dist/src/cli/main.js merge "$RESULTS_DIR"/shard-*/*/results.json --out "$RESULTS_DIR/merged"']);
    assert.match(command[2] ?? '', /main\.js merge /);
    // The load writes <--out>/<runId>/results.json with --out "$RESULTS_DIR/shard-<index>": the glob matches that.
    assert.ok(loadJobCommand().command[2]?.includes('--out "$RESULTS_DIR/shard-$JOB_COMPLETION_INDEX"'));
  });

  it('every $VAR a command uses is set in the pod, and envsubst has only ${START_AT} to fill', () => {
    for (const job of [load, merge]) {
      const { command, env } = jobContainer(job);
      const used = new Set([...command.join(' ').matchAll(/\$\{?([A-Za-z_][A-Za-z0-9_]*)/g)].map((m) => m[1]));
      for (const name of used) {
        const set = name === 'JOB_COMPLETION_INDEX' ? specOf(job).completionMode === 'Indexed' : name !== undefined && name in env;
        assert.ok(set, `${job.metadata.name} uses $${name}, which nothing sets`);
      }
    }
    const placeholders = new Set([...readFileSync(MANIFEST_PATH, 'utf8').matchAll(/\$\{([^}]*)\}/g)].map((m) => m[1]));
    assert.deepEqual([...placeholders], ['START_AT']);
  });
});
