// A recording stand-in for GitHub's REST API that tests point GITHUB_API_URL at. Every
// request is matched to an operation of GitHub's published OpenAPI description
// (@octokit/openapi) and its path, query and JSON body are validated against it, so a
// malformed call shows up in `invalid()` instead of passing silently. It keeps the state
// Gantry touches (issue comments, deployments and their statuses, check runs) and
// answers the way GitHub does, including auto-inactivation and secondary rate limits.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createRequire } from 'node:module';
import Ajv, { type ErrorObject, type ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';

export interface RecordedRequest {
  method: string;
  path: string;
  query: Record<string, string>;
  headers: Record<string, string | undefined>;
  body: unknown;
  /** the OpenAPI operation matched, e.g. 'issues/create-comment' */
  operation?: string;
  /** problems of the request against GitHub's OpenAPI description: unknown route, body not matching the schema */
  problems: string[];
  /** The status the fake answered with. */
  status: number;
}

export interface FakeComment {
  id: number;
  body: string;
  user: { login: string };
  created_at: string;
  updated_at: string;
}

export interface FakeDeploymentStatus {
  id: number;
  state: string;
  environment_url?: string;
  log_url?: string;
  description?: string;
  creator: { login: string };
}

export interface FakeDeployment {
  id: number;
  environment: string;
  sha: string;
  ref: string;
  task: string;
  description: string | null;
  payload: unknown;
  transient_environment: boolean;
  production_environment: boolean;
  creator: { login: string };
  created_at: string;
  /** Oldest first, as they were posted (the API lists them newest first). */
  statuses: FakeDeploymentStatus[];
}

export interface FakeCheckRun {
  id: number;
  name: string;
  head_sha: string;
  status: string;
  conclusion: string | null;
  output: { title?: string; summary?: string; text?: string; annotations?: unknown[] } | null;
  details_url?: string;
}

export interface FakeGitHubOptions {
  /** When set, any other token is answered 401 Bad credentials. */
  token?: string;
  /** Who the token acts as; GITHUB_TOKEN acts as github-actions[bot]. */
  login?: string;
}

// ---------------------------------------------------------------------------------------
// GitHub's OpenAPI description, loaded once per process (13 MB of JSON, ~150 ms) and
// compiled lazily: one operation's validators the first time a request hits it.

interface OpenApiParameter {
  name: string;
  in: 'path' | 'query' | 'header' | 'cookie';
  required?: boolean;
  schema?: JsonSchema;
}
type JsonSchema = Record<string, unknown>;
interface OpenApiOperation {
  operationId: string;
  parameters?: Array<OpenApiParameter | { $ref: string }>;
  requestBody?: { required?: boolean; content?: Record<string, { schema?: JsonSchema }> };
}
interface OpenApiDescription {
  paths: Record<string, Record<string, unknown>>;
  components: { parameters: Record<string, OpenApiParameter>; schemas: Record<string, JsonSchema> };
}

interface Route {
  method: string;
  template: string;
  pattern: RegExp;
  names: string[];
  literals: number;
  operation: OpenApiOperation;
}

interface CompiledOperation {
  params: ValidateFunction;
  query: Set<string>;
  body?: ValidateFunction;
  bodyRequired: boolean;
  bodyProperties?: Set<string>;
}

const COMPONENTS_ID = 'https://api.github.com/openapi.json';
const METHODS = ['get', 'put', 'post', 'patch', 'delete', 'head'];

class OpenApi {
  private static instance: OpenApi | undefined;
  static get(): OpenApi {
    return (OpenApi.instance ??= new OpenApi());
  }

  private readonly routes: Route[] = [];
  private readonly description: OpenApiDescription;
  private readonly bodies: Ajv;
  private readonly params: Ajv;
  private readonly compiled = new Map<string, CompiledOperation>();

  private constructor() {
    const file = createRequire(import.meta.url).resolve('@octokit/openapi/generated/api.github.com.json');
    this.description = JSON.parse(readFileSync(file, 'utf8')) as OpenApiDescription;
    for (const [template, item] of Object.entries(this.description.paths)) {
      const names: string[] = [];
      const source = template.split('/').map((segment) => segment.replace(/\{([^}]+)\}|[^{]+/g, (part, name: string | undefined) => {
        if (name === undefined) return part.replace(/[.*+?^$()|[\]\\]/g, '\\$&');
        names.push(name);
        return '([^/]+)';
      })).join('/');
      const literals = template.split('/').filter((s) => s && !s.includes('{')).length;
      for (const method of METHODS) {
        const operation = item[method] as OpenApiOperation | undefined;
        if (operation) this.routes.push({ method: method.toUpperCase(), template, pattern: new RegExp(`^${source}$`), names, literals, operation });
      }
    }
    // A literal segment beats a parameter: /repos/{o}/{r}/issues/comments before
    // /repos/{o}/{r}/issues/{issue_number}, as GitHub routes them.
    this.routes.sort((a, b) => b.literals - a.literals);
    // OpenAPI 3.0 schemas carry keywords Ajv does not know (example, discriminator,
    // x-github…); they say nothing about validity, so strict mode is off.
    const options = { strict: false, allErrors: true, logger: false as const };
    this.bodies = new Ajv(options);
    this.params = new Ajv({ ...options, coerceTypes: true });
    for (const ajv of [this.bodies, this.params]) {
      addFormats(ajv);
      ajv.addSchema({ $id: COMPONENTS_ID, components: this.description.components });
    }
  }

  match(method: string, path: string): { route: Route; params: Record<string, string> } | { allowed: string[] } {
    const allowed: string[] = [];
    for (const route of this.routes) {
      const m = route.pattern.exec(path);
      if (!m) continue;
      if (route.method !== method) {
        allowed.push(route.method);
        continue;
      }
      const params: Record<string, string> = {};
      route.names.forEach((name, i) => (params[name] = decodeURIComponent(m[i + 1]!)));
      return { route, params };
    }
    return { allowed };
  }

  compile(route: Route): CompiledOperation {
    const key = `${route.method} ${route.template}`;
    let compiled = this.compiled.get(key);
    if (compiled) return compiled;
    const parameters = (route.operation.parameters ?? []).map((p) => ('$ref' in p ? this.parameter(p.$ref) : p));
    const properties: Record<string, JsonSchema> = {};
    const required: string[] = [];
    for (const p of parameters.filter((p) => p.in === 'path' || p.in === 'query')) {
      properties[`${p.in}:${p.name}`] = rebase(p.schema ?? {});
      if (p.required) required.push(`${p.in}:${p.name}`);
    }
    const content = route.operation.requestBody?.content;
    const bodySchema = content?.['application/json']?.schema;
    compiled = {
      params: this.params.compile({ type: 'object', properties, required }),
      query: new Set(parameters.filter((p) => p.in === 'query').map((p) => p.name)),
      bodyRequired: route.operation.requestBody?.required === true,
      ...(bodySchema ? { body: this.bodies.compile(rebase(bodySchema)), bodyProperties: declaredProperties(bodySchema) } : {}),
    };
    this.compiled.set(key, compiled);
    return compiled;
  }

  private parameter(ref: string): OpenApiParameter {
    const name = ref.replace('#/components/parameters/', '');
    const p = this.description.components.parameters[name];
    if (!p) throw new Error(`OpenAPI description: unresolved parameter ${ref}`);
    return p;
  }
}

/** Points the inline schema's local $refs at the registered components document. */
function rebase(schema: JsonSchema): JsonSchema {
  return JSON.parse(JSON.stringify(schema).replaceAll('"$ref":"#/', `"$ref":"${COMPONENTS_ID}#/`)) as JsonSchema;
}

/** The top-level fields a body may have, when the schema lists them and allows no others by default. */
function declaredProperties(schema: JsonSchema): Set<string> | undefined {
  if (schema.type !== 'object' || typeof schema.properties !== 'object' || schema.additionalProperties !== undefined) return undefined;
  return new Set(Object.keys(schema.properties as object));
}

function describeErrors(where: string, errors: ErrorObject[] | null | undefined): string[] {
  return (errors ?? []).map((e) => {
    const at = `${where}${e.instancePath}`;
    const allowed = (e.params as { allowedValues?: unknown[] }).allowedValues;
    return `${at} ${e.message ?? 'is invalid'}${allowed ? `: ${allowed.map(String).join(', ')}` : ''}`;
  });
}

// ---------------------------------------------------------------------------------------

interface Reply {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
}

interface Context {
  method: string;
  params: Record<string, string>;
  query: Record<string, string>;
  body: Record<string, unknown>;
  login: string;
  url: URL;
}

type Handler = (ctx: Context) => Reply;

const now = (): string => new Date().toISOString().replace(/\.\d+Z$/, 'Z');
const notFound = (): Reply => ({ status: 404, body: { message: 'Not Found', documentation_url: 'https://docs.github.com/rest', status: '404' } });

export class FakeGitHub {
  readonly requests: RecordedRequest[] = [];
  private readonly comments_ = new Map<string, FakeComment[]>();
  private readonly deployments_ = new Map<string, FakeDeployment[]>();
  private readonly checkRuns_ = new Map<string, FakeCheckRun[]>();
  private readonly limits: Array<{ method: string; path: RegExp; times: number }> = [];
  private nextId = 1000;
  private readonly handlers: Record<string, Handler>;

  private constructor(private readonly server: Server, readonly url: string, private readonly options: FakeGitHubOptions) {
    this.handlers = this.makeHandlers();
  }

  static async start(options: FakeGitHubOptions = {}): Promise<FakeGitHub> {
    OpenApi.get();
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    const fake = new FakeGitHub(server, `http://127.0.0.1:${port}`, options);
    server.on('request', (req, res) => void fake.serve(req, res));
    return fake;
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  /** requests with problems; tests assert this is [] */
  invalid(): RecordedRequest[] {
    return this.requests.filter((r) => r.problems.length > 0);
  }

  /** The requests that matched an operation, e.g. `calls('repos/create-deployment-status')`. */
  calls(operation: string): RecordedRequest[] {
    return this.requests.filter((r) => r.operation === operation);
  }

  comments(owner: string, repo: string, issue: number): FakeComment[] {
    return this.comments_.get(`${owner}/${repo}#${issue}`.toLowerCase()) ?? [];
  }

  deployments(owner: string, repo: string): FakeDeployment[] {
    return this.deployments_.get(`${owner}/${repo}`.toLowerCase()) ?? [];
  }

  checkRuns(owner: string, repo: string): FakeCheckRun[] {
    return this.checkRuns_.get(`${owner}/${repo}`.toLowerCase()) ?? [];
  }

  /** seed a deployment as GitHub's own `environment:` job would have created it (creator github-actions[bot]) */
  seedDeployment(owner: string, repo: string, d: { environment: string; sha: string; ref?: string; creator?: string; state?: string; production?: boolean }): number {
    const deployment = this.addDeployment(owner, repo, {
      environment: d.environment, sha: d.sha, ref: d.ref ?? d.sha, task: 'deploy', description: null, payload: {},
      transient_environment: false, production_environment: d.production ?? d.environment === 'production',
      creator: { login: d.creator ?? 'github-actions[bot]' },
    });
    if (d.state) deployment.statuses.push({ id: this.id(), state: d.state, creator: deployment.creator });
    return deployment.id;
  }

  /** Seeds an issue or PR comment, e.g. one left by an earlier run or by a person. */
  seedComment(owner: string, repo: string, issue: number, body: string, login = 'github-actions[bot]'): number {
    return this.addComment(owner, repo, issue, body, login).id;
  }

  /** make the next N requests matching method+path regexp answer 403 secondary rate limit (with retry-after: 1) to test retries */
  rateLimitNext(method: string, path: RegExp, times: number): void {
    this.limits.push({ method: method.toUpperCase(), path, times });
  }

  // -------------------------------------------------------------------------------------

  private async serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const url = new URL(req.url ?? '/', this.url);
    const method = (req.method ?? 'GET').toUpperCase();
    const headers: Record<string, string | undefined> = {};
    for (const [k, v] of Object.entries(req.headers)) headers[k] = Array.isArray(v) ? v.join(', ') : v;
    const record: RecordedRequest = {
      method, path: url.pathname, query: Object.fromEntries(url.searchParams), headers, body: undefined, problems: [], status: 0,
    };
    this.requests.push(record);
    const reply = this.handle(record, Buffer.concat(chunks).toString('utf8'), url);
    record.status = reply.status;
    const text = reply.body === undefined ? '' : JSON.stringify(reply.body);
    res.writeHead(reply.status, {
      ...(text ? { 'content-type': 'application/json; charset=utf-8' } : {}),
      'x-github-media-type': 'github.v3; format=json',
      'x-ratelimit-limit': '5000', 'x-ratelimit-remaining': '4999', 'x-ratelimit-resource': 'core',
      ...reply.headers,
    });
    res.end(text);
  }

  private handle(record: RecordedRequest, raw: string, url: URL): Reply {
    const { method, path, problems } = record;
    if (raw) {
      if (!/^application\/(vnd\.github[^;]*\+)?json/.test(record.headers['content-type'] ?? '')) problems.push(`body sent as ${record.headers['content-type'] ?? 'no content-type'}, not application/json`);
      try {
        record.body = JSON.parse(raw);
      } catch {
        problems.push('body is not JSON');
        record.body = raw;
      }
    }
    if (!record.headers['user-agent']) problems.push('no User-Agent header: GitHub refuses such requests');

    const matched = OpenApi.get().match(method, path);
    if (!('route' in matched)) {
      problems.push(matched.allowed.length
        ? `${method} ${path}: GitHub has no such operation (only ${[...new Set(matched.allowed)].join(', ')} on this path)`
        : `${method} ${path}: no such route in GitHub's REST API`);
      return notFound();
    }
    const { route, params } = matched;
    record.operation = route.operation.operationId;
    const op = OpenApi.get().compile(route);
    const values: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(params)) values[`path:${k}`] = v;
    for (const [k, v] of Object.entries(record.query)) {
      if (op.query.has(k)) values[`query:${k}`] = v;
      else problems.push(`query parameter ${k} is not one of ${route.operation.operationId}'s`);
    }
    if (!op.params(values)) problems.push(...describeErrors('', op.params.errors).map((p) => p.replace(/^\/(path|query):/, '$1 parameter ')));
    if (record.body === undefined) {
      if (op.bodyRequired) problems.push(`${route.operation.operationId} requires a JSON body`);
    } else if (op.body && !op.body(record.body)) {
      problems.push(...describeErrors('body', op.body.errors));
    } else if (op.bodyProperties && typeof record.body === 'object' && record.body !== null) {
      for (const k of Object.keys(record.body)) if (!op.bodyProperties.has(k)) problems.push(`body/${k} is not a field of ${route.operation.operationId}; GitHub ignores it`);
    }

    const auth = record.headers.authorization;
    if (!auth) {
      problems.push('no Authorization header');
      return { status: 401, body: { message: 'Requires authentication', documentation_url: 'https://docs.github.com/rest' } };
    }
    const token = auth.replace(/^(token|bearer)\s+/i, '');
    if (this.options.token !== undefined && token !== this.options.token) {
      return { status: 401, body: { message: 'Bad credentials', documentation_url: 'https://docs.github.com/rest' } };
    }

    const limit = this.limits.find((l) => l.times > 0 && l.method === method && l.path.test(path));
    if (limit) {
      limit.times--;
      return {
        status: 403, headers: { 'retry-after': '1' },
        body: { message: 'You have exceeded a secondary rate limit. Please wait a few minutes before you try again.', documentation_url: 'https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits' },
      };
    }
    // A request GitHub would reject for its shape gets GitHub's 422, not a made-up success.
    if (problems.some((p) => p.startsWith('body'))) {
      return { status: 422, body: { message: 'Invalid request.', errors: problems, documentation_url: 'https://docs.github.com/rest', status: '422' } };
    }
    const handler = this.handlers[route.operation.operationId];
    if (!handler) {
      problems.push(`${route.operation.operationId} is a real operation that FakeGitHub does not play yet: add it to test/support/github-api.ts`);
      return { status: 501, body: { message: `FakeGitHub does not implement ${route.operation.operationId}` } };
    }
    return handler({
      method, params, query: record.query, url, login: this.options.login ?? 'github-actions[bot]',
      body: typeof record.body === 'object' && record.body !== null ? (record.body as Record<string, unknown>) : {},
    });
  }

  private id(): number {
    return this.nextId++;
  }

  private repoKey(ctx: Context): string {
    return `${ctx.params.owner}/${ctx.params.repo}`.toLowerCase();
  }

  private user(login: string): Record<string, unknown> {
    const bot = login.endsWith('[bot]');
    return {
      login, id: bot ? 41898282 : 1, node_id: 'MDQ6VXNlcjE=', type: bot ? 'Bot' : 'User', site_admin: false,
      avatar_url: 'https://avatars.githubusercontent.com/u/1', url: `${this.url}/users/${encodeURIComponent(login)}`,
      html_url: `https://github.com/${login.replace('[bot]', '')}`,
    };
  }

  private addComment(owner: string, repo: string, issue: number, body: string, login: string): FakeComment {
    const key = `${owner}/${repo}#${issue}`.toLowerCase();
    const list = this.comments_.get(key) ?? [];
    this.comments_.set(key, list);
    const comment = { id: this.id(), body, user: { login }, created_at: now(), updated_at: now() };
    list.push(comment);
    return comment;
  }

  private findComment(ctx: Context): { comment: FakeComment; list: FakeComment[]; issue: number } | undefined {
    const prefix = `${this.repoKey(ctx)}#`;
    const id = Number(ctx.params.comment_id);
    for (const [key, list] of this.comments_) {
      if (!key.startsWith(prefix)) continue;
      const comment = list.find((c) => c.id === id);
      if (comment) return { comment, list, issue: Number(key.slice(prefix.length)) };
    }
    return undefined;
  }

  private commentJson(ctx: Context, c: FakeComment, issue: number): Record<string, unknown> {
    const repo = `${ctx.params.owner}/${ctx.params.repo}`;
    return {
      id: c.id, node_id: `IC_${c.id}`, body: c.body, user: this.user(c.user.login),
      url: `${this.url}/repos/${repo}/issues/comments/${c.id}`,
      html_url: `https://github.com/${repo}/issues/${issue}#issuecomment-${c.id}`,
      issue_url: `${this.url}/repos/${repo}/issues/${issue}`,
      created_at: c.created_at, updated_at: c.updated_at, author_association: 'NONE', reactions: { total_count: 0 },
    };
  }

  private addDeployment(owner: string, repo: string, d: Omit<FakeDeployment, 'id' | 'created_at' | 'statuses'>): FakeDeployment {
    const key = `${owner}/${repo}`.toLowerCase();
    const list = this.deployments_.get(key) ?? [];
    this.deployments_.set(key, list);
    const deployment: FakeDeployment = { ...d, id: this.id(), created_at: now(), statuses: [] };
    list.push(deployment);
    return deployment;
  }

  private deploymentJson(ctx: Context, d: FakeDeployment): Record<string, unknown> {
    const repo = `${this.url}/repos/${ctx.params.owner}/${ctx.params.repo}`;
    return {
      id: d.id, node_id: `DE_${d.id}`, url: `${repo}/deployments/${d.id}`, sha: d.sha, ref: d.ref, task: d.task, payload: d.payload,
      original_environment: d.environment, environment: d.environment, description: d.description, creator: this.user(d.creator.login),
      created_at: d.created_at, updated_at: d.statuses.length ? now() : d.created_at,
      statuses_url: `${repo}/deployments/${d.id}/statuses`, repository_url: repo,
      transient_environment: d.transient_environment, production_environment: d.production_environment,
    };
  }

  private statusJson(ctx: Context, d: FakeDeployment, s: FakeDeploymentStatus): Record<string, unknown> {
    const repo = `${this.url}/repos/${ctx.params.owner}/${ctx.params.repo}`;
    return {
      id: s.id, node_id: `DES_${s.id}`, url: `${repo}/deployments/${d.id}/statuses/${s.id}`, state: s.state, creator: this.user(s.creator.login),
      description: s.description ?? '', environment: d.environment, target_url: s.log_url ?? '', log_url: s.log_url ?? '',
      environment_url: s.environment_url ?? '', created_at: now(), updated_at: now(),
      deployment_url: `${repo}/deployments/${d.id}`, repository_url: repo,
    };
  }

  private findDeployment(ctx: Context): FakeDeployment | undefined {
    return this.deployments_.get(this.repoKey(ctx))?.find((d) => d.id === Number(ctx.params.deployment_id));
  }

  private checkRunJson(ctx: Context, c: FakeCheckRun): Record<string, unknown> {
    const repo = `${ctx.params.owner}/${ctx.params.repo}`;
    return {
      id: c.id, node_id: `CR_${c.id}`, name: c.name, head_sha: c.head_sha, status: c.status, conclusion: c.conclusion,
      url: `${this.url}/repos/${repo}/check-runs/${c.id}`, html_url: `https://github.com/${repo}/runs/${c.id}`,
      details_url: c.details_url ?? null, external_id: '', started_at: now(), completed_at: c.status === 'completed' ? now() : null,
      output: { title: c.output?.title ?? null, summary: c.output?.summary ?? null, text: c.output?.text ?? null, annotations_count: c.output?.annotations?.length ?? 0 },
      app: { id: 15368, slug: 'github-actions', name: 'GitHub Actions' }, pull_requests: [],
    };
  }

  /** A page of `items` with GitHub's Link header (per_page 30 by default, 100 at most). */
  private page(ctx: Context, items: unknown[]): Reply {
    const perPage = Math.min(Number(ctx.query.per_page ?? 30) || 30, 100);
    const page = Math.max(Number(ctx.query.page ?? 1) || 1, 1);
    const last = Math.max(Math.ceil(items.length / perPage), 1);
    const link = (n: number, rel: string): string => {
      const u = new URL(ctx.url);
      u.searchParams.set('per_page', String(perPage));
      u.searchParams.set('page', String(n));
      return `<${u.toString()}>; rel="${rel}"`;
    };
    const links = [...(page < last ? [link(page + 1, 'next'), link(last, 'last')] : []), ...(page > 1 ? [link(1, 'first'), link(page - 1, 'prev')] : [])];
    return { status: 200, body: items.slice((page - 1) * perPage, page * perPage), ...(links.length ? { headers: { link: links.join(', ') } } : {}) };
  }

  private makeHandlers(): Record<string, Handler> {
    return {
      'issues/create-comment': (ctx) => {
        const issue = Number(ctx.params.issue_number);
        const c = this.addComment(ctx.params.owner!, ctx.params.repo!, issue, String(ctx.body.body), ctx.login);
        return { status: 201, body: this.commentJson(ctx, c, issue), headers: { location: `${this.url}/repos/${ctx.params.owner}/${ctx.params.repo}/issues/comments/${c.id}` } };
      },
      'issues/list-comments': (ctx) => {
        const issue = Number(ctx.params.issue_number);
        const since = ctx.query.since ? Date.parse(ctx.query.since) : 0;
        const list = this.comments(ctx.params.owner!, ctx.params.repo!, issue).filter((c) => Date.parse(c.updated_at) >= since);
        return this.page(ctx, list.map((c) => this.commentJson(ctx, c, issue)));
      },
      'issues/get-comment': (ctx) => {
        const found = this.findComment(ctx);
        return found ? { status: 200, body: this.commentJson(ctx, found.comment, found.issue) } : notFound();
      },
      'issues/update-comment': (ctx) => {
        const found = this.findComment(ctx);
        if (!found) return notFound();
        found.comment.body = String(ctx.body.body);
        found.comment.updated_at = now();
        return { status: 200, body: this.commentJson(ctx, found.comment, found.issue) };
      },
      'issues/delete-comment': (ctx) => {
        const found = this.findComment(ctx);
        if (!found) return notFound();
        found.list.splice(found.list.indexOf(found.comment), 1);
        return { status: 204 };
      },

      'repos/create-deployment': (ctx) => {
        const ref = String(ctx.body.ref);
        const environment = typeof ctx.body.environment === 'string' ? ctx.body.environment : 'production';
        const d = this.addDeployment(ctx.params.owner!, ctx.params.repo!, {
          environment, ref,
          // A full commit SHA is deployed as is; a branch or tag resolves to a stable made-up commit.
          sha: /^[0-9a-f]{40}$/.test(ref) ? ref : createHash('sha1').update(ref).digest('hex'),
          task: typeof ctx.body.task === 'string' ? ctx.body.task : 'deploy',
          description: typeof ctx.body.description === 'string' ? ctx.body.description : null,
          payload: ctx.body.payload ?? {},
          transient_environment: ctx.body.transient_environment === true,
          production_environment: typeof ctx.body.production_environment === 'boolean' ? ctx.body.production_environment : environment === 'production',
          creator: { login: ctx.login },
        });
        return { status: 201, body: this.deploymentJson(ctx, d) };
      },
      'repos/list-deployments': (ctx) => {
        const q = ctx.query;
        const list = (this.deployments_.get(this.repoKey(ctx)) ?? [])
          .filter((d) => (!q.sha || d.sha === q.sha) && (!q.ref || d.ref === q.ref) && (!q.task || d.task === q.task) && (!q.environment || d.environment === q.environment))
          .slice().reverse();
        return this.page(ctx, list.map((d) => this.deploymentJson(ctx, d)));
      },
      'repos/get-deployment': (ctx) => {
        const d = this.findDeployment(ctx);
        return d ? { status: 200, body: this.deploymentJson(ctx, d) } : notFound();
      },
      'repos/delete-deployment': (ctx) => {
        const d = this.findDeployment(ctx);
        if (!d) return notFound();
        if (d.statuses.at(-1)?.state === 'success') {
          return { status: 422, body: { message: 'We cannot delete an active deployment unless it is the only deployment in a given environment.' } };
        }
        const list = this.deployments_.get(this.repoKey(ctx))!;
        list.splice(list.indexOf(d), 1);
        return { status: 204 };
      },
      'repos/create-deployment-status': (ctx) => {
        const d = this.findDeployment(ctx);
        if (!d) return notFound();
        const b = ctx.body;
        const s: FakeDeploymentStatus = {
          id: this.id(), state: String(b.state), creator: { login: ctx.login },
          ...(typeof b.environment_url === 'string' ? { environment_url: b.environment_url } : {}),
          ...(typeof (b.log_url ?? b.target_url) === 'string' ? { log_url: String(b.log_url ?? b.target_url) } : {}),
          ...(typeof b.description === 'string' ? { description: b.description } : {}),
        };
        if (s.description !== undefined && s.description.length > 140) {
          return { status: 422, body: { message: 'Validation Failed', errors: [{ resource: 'DeploymentStatus', code: 'custom', field: 'description', message: 'description is too long (maximum is 140 characters)' }] } };
        }
        d.statuses.push(s);
        // GitHub's auto_inactive: earlier successful deployments of the same environment go
        // inactive, but only non-transient, non-production ones.
        if (s.state === 'success' && b.auto_inactive !== false) {
          for (const other of this.deployments_.get(this.repoKey(ctx)) ?? []) {
            if (other.id < d.id && other.environment === d.environment && !other.transient_environment && !other.production_environment && other.statuses.at(-1)?.state === 'success') {
              other.statuses.push({ id: this.id(), state: 'inactive', creator: { login: ctx.login } });
            }
          }
        }
        return { status: 201, body: this.statusJson(ctx, d, s) };
      },
      'repos/list-deployment-statuses': (ctx) => {
        const d = this.findDeployment(ctx);
        return d ? this.page(ctx, d.statuses.slice().reverse().map((s) => this.statusJson(ctx, d, s))) : notFound();
      },
      'repos/get-deployment-status': (ctx) => {
        const d = this.findDeployment(ctx);
        const s = d?.statuses.find((x) => x.id === Number(ctx.params.status_id));
        return d && s ? { status: 200, body: this.statusJson(ctx, d, s) } : notFound();
      },

      'checks/create': (ctx) => {
        const key = this.repoKey(ctx);
        const list = this.checkRuns_.get(key) ?? [];
        this.checkRuns_.set(key, list);
        const b = ctx.body;
        const run: FakeCheckRun = {
          id: this.id(), name: String(b.name), head_sha: String(b.head_sha),
          status: typeof b.status === 'string' ? b.status : b.conclusion ? 'completed' : 'queued',
          conclusion: typeof b.conclusion === 'string' ? b.conclusion : null,
          output: (b.output as FakeCheckRun['output']) ?? null,
          ...(typeof b.details_url === 'string' ? { details_url: b.details_url } : {}),
        };
        list.push(run);
        return { status: 201, body: this.checkRunJson(ctx, run) };
      },
      'checks/update': (ctx) => {
        const run = this.checkRuns_.get(this.repoKey(ctx))?.find((c) => c.id === Number(ctx.params.check_run_id));
        if (!run) return notFound();
        const b = ctx.body;
        if (typeof b.name === 'string') run.name = b.name;
        if (typeof b.status === 'string') run.status = b.status;
        if (typeof b.conclusion === 'string') Object.assign(run, { conclusion: b.conclusion, status: 'completed' });
        if (b.output) run.output = b.output as FakeCheckRun['output'];
        if (typeof b.details_url === 'string') run.details_url = b.details_url;
        return { status: 200, body: this.checkRunJson(ctx, run) };
      },
      'checks/get': (ctx) => {
        const run = this.checkRuns_.get(this.repoKey(ctx))?.find((c) => c.id === Number(ctx.params.check_run_id));
        return run ? { status: 200, body: this.checkRunJson(ctx, run) } : notFound();
      },
    };
  }
}
