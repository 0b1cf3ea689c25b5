// The job check as users write it: a container (say, the integration-test image) run once
// as a Kubernetes Job next to the app. Pure: parsing only; the gate that runs it is checks/job.ts.
import { parseImageReference } from '../../shared/image-reference.js';
import { DEFAULT_TEST_TIMEOUT_MS, parseEnv } from './env.js';
import { Fields, show } from './fields.js';

export interface JobCheckSpec {
  kind: 'job';
  /** The image to run, as written (a tag or a digest). */
  image: string;
  /** Replaces the image's entrypoint. */
  command?: string[];
  /** Replaces the image's arguments; `$(GANTRY_CANARY_URL)` and the like are expanded by Kubernetes. */
  args?: string[];
  /** Set after Gantry's GANTRY_* variables, so values may refer to them as $(NAME). */
  env: Record<string, string>;
  /** The Job's activeDeadlineSeconds, in ms: a Job that runs longer fails the check. */
  timeoutMs: number;
  serviceAccount?: string;
}

const JOB_FIELDS = ['image', 'command', 'args', 'env', 'timeout', 'service-account'] as const;

/** The Job deadline is whole seconds. */
const MIN_TIMEOUT_MS = 1_000;

/** A ServiceAccount name: a DNS-1123 subdomain. */
const SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

export function parseJob(f: Fields): JobCheckSpec | undefined {
  f.onlyKnown(JOB_FIELDS, 'a job');
  const image = jobImage(f);
  const command = stringList(f, 'command', 'e.g. command: [/bin/sh, -c]');
  const args = stringList(f, 'args', 'e.g. args: [--base-url, $(GANTRY_CANARY_URL)]');
  const env = parseEnv(f);
  const timeoutMs = f.duration('timeout', DEFAULT_TEST_TIMEOUT_MS, MIN_TIMEOUT_MS);
  const serviceAccount = f.string('service-account');
  if (serviceAccount !== undefined && !(serviceAccount.length <= 253 && SUBDOMAIN.test(serviceAccount))) {
    f.problem('service-account', `must be a ServiceAccount name (lowercase letters, digits, - and .), got ${show(serviceAccount)}`);
  }
  if (image === undefined) return undefined;
  const spec: JobCheckSpec = { kind: 'job', image, env, timeoutMs };
  if (command !== undefined) spec.command = command;
  if (args !== undefined) spec.args = args;
  if (serviceAccount !== undefined) spec.serviceAccount = serviceAccount;
  return spec;
}

function jobImage(f: Fields): string | undefined {
  if (!f.has('image')) {
    f.problem('image', 'is required: the image to run, e.g. ghcr.io/acme/web-e2e:1.4.2');
    return undefined;
  }
  const image = f.string('image');
  if (image === undefined) return undefined;
  const ref = parseImageReference(image);
  if ('problem' in ref) {
    f.problem('image', `is not an image reference: ${ref.problem}`);
    return undefined;
  }
  return image;
}

/** A list of strings, as a container's command and args are; a lone string is refused rather than split. */
function stringList(f: Fields, key: string, example: string): string[] | undefined {
  if (!f.has(key)) return undefined;
  const v = f.value[key];
  if (!Array.isArray(v) || v.length === 0) {
    f.problem(key, `must be a non-empty list of strings, got ${show(v)}`, example);
    return undefined;
  }
  const bad = v.findIndex((item) => typeof item !== 'string');
  if (bad >= 0) {
    f.problem(`${key}[${bad}]`, `must be a string, got ${show(v[bad])}`, 'quote it, e.g. "8080"');
    return undefined;
  }
  return v as string[];
}
