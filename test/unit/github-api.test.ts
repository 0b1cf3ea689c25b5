// The recording GitHub server the tests use: it must catch a malformed call the way GitHub
// would (GitHub's own OpenAPI description decides), and play back state realistically.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { githubClient } from '../../src/report/github.js';
import { MemoryReporter } from '../../src/report/reporter.js';
import { FakeGitHub } from '../support/github-api.js';

const SHA = 'a'.repeat(40);
let gh: FakeGitHub;
beforeAll(async () => {
  gh = await FakeGitHub.start();
});
afterAll(() => gh.stop());

/** A raw call, for the malformed requests Octokit's types would not let through. */
async function call(method: string, path: string, body?: unknown): Promise<{ status: number; json: unknown }> {
  const res = await fetch(`${gh.url}${path}`, {
    method, headers: { authorization: 'token t', 'user-agent': 'test', ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  return { status: res.status, json: text ? JSON.parse(text) : undefined };
}

const last = (): FakeGitHub['requests'][number] => gh.requests.at(-1)!;

describe('FakeGitHub validates each request against GitHub\'s OpenAPI description', () => {
  it('catches a wrong enum value in a deployment status, and answers 422 as GitHub does', async () => {
    const created = await call('POST', '/repos/acme/web/deployments', { ref: SHA, environment: 'staging', auto_merge: false, required_contexts: [] });
    expect(created.status).toBe(201);
    const { id } = created.json as { id: number };
    const bad = await call('POST', `/repos/acme/web/deployments/${id}/statuses`, { state: 'in-progress' });
    expect(bad.status).toBe(422);
    expect(last().operation).toBe('repos/create-deployment-status');
    expect(last().problems).toEqual([expect.stringMatching(/^body\/state must be equal to one of the allowed values: .*in_progress/)]);
    expect(gh.invalid()).toContain(last());
  });

  it.each([
    ['a missing required field', 'POST', '/repos/acme/web/deployments', { environment: 'staging' }, /body must have required property 'ref'/],
    ['a field of the wrong type', 'POST', '/repos/acme/web/deployments', { ref: SHA, auto_merge: 'no' }, /body\/auto_merge must be boolean/],
    ['a field the operation does not have', 'POST', '/repos/acme/web/issues/1/comments', { body: 'x', text: 'y' }, /body\/text is not a field of issues\/create-comment/],
    ['a route GitHub does not have', 'GET', '/repos/acme/web/deploymentz', undefined, /no such route/],
    ['a method the route does not take', 'PUT', '/repos/acme/web/deployments', { ref: SHA }, /no such operation \(only GET, POST on this path\)/],
    ['a path parameter of the wrong type', 'GET', '/repos/acme/web/deployments/latest', undefined, /path parameter deployment_id must be integer/],
    ['a query parameter the operation does not take', 'GET', '/repos/acme/web/deployments?state=success', undefined, /query parameter state is not one of repos\/list-deployments's/],
  ])('catches %s', async (_name, method, path, body, problem) => {
    await call(method, path, body);
    expect(last().problems).toEqual(expect.arrayContaining([expect.stringMatching(problem)]));
  });

  it('records nothing wrong about well-formed calls made through Octokit', async () => {
    const octokit = githubClient('t', new MemoryReporter(), gh.url);
    const before = gh.requests.length;
    const { data: d } = await octokit.rest.repos.createDeployment({ owner: 'acme', repo: 'api', ref: SHA, environment: 'qa', auto_merge: false, required_contexts: [], payload: { a: 1 } });
    const id = (d as { id: number }).id;
    await octokit.rest.repos.createDeploymentStatus({ owner: 'acme', repo: 'api', deployment_id: id, state: 'in_progress', log_url: 'https://github.com/acme/api/actions/runs/1' });
    await octokit.rest.repos.listDeployments({ owner: 'acme', repo: 'api', sha: SHA, environment: 'qa', per_page: 5 });
    await octokit.rest.repos.listDeploymentStatuses({ owner: 'acme', repo: 'api', deployment_id: id, per_page: 1 });
    expect(gh.requests.slice(before).map((r) => [r.operation, r.status, r.problems])).toEqual([
      ['repos/create-deployment', 201, []],
      ['repos/create-deployment-status', 201, []],
      ['repos/list-deployments', 200, []],
      ['repos/list-deployment-statuses', 200, []],
    ]);
  });

  it('refuses a request without a token', async () => {
    const res = await fetch(`${gh.url}/repos/acme/web/deployments`, { headers: { 'user-agent': 'test' } });
    expect(res.status).toBe(401);
    expect(last().problems).toEqual(['no Authorization header']);
  });
});

describe('FakeGitHub keeps state as GitHub does', () => {
  it('creates, lists page by page, edits and deletes issue comments', async () => {
    const octokit = githubClient('t', new MemoryReporter(), gh.url);
    for (let i = 0; i < 3; i++) await call('POST', '/repos/acme/pages/issues/7/comments', { body: `comment ${i}` });
    const all = await octokit.paginate(octokit.rest.issues.listComments, { owner: 'acme', repo: 'pages', issue_number: 7, per_page: 2 });
    expect(all.map((c) => c.body)).toEqual(['comment 0', 'comment 1', 'comment 2']);
    expect(all[0]!.user?.login).toBe('github-actions[bot]');
    await octokit.rest.issues.updateComment({ owner: 'acme', repo: 'pages', comment_id: all[1]!.id, body: 'edited' });
    await octokit.rest.issues.deleteComment({ owner: 'acme', repo: 'pages', comment_id: all[0]!.id });
    expect(gh.comments('acme', 'pages', 7).map((c) => c.body)).toEqual(['edited', 'comment 2']);
    expect(gh.invalid()).not.toContainEqual(expect.objectContaining({ path: expect.stringContaining('/acme/pages/') }));
  });

  it('filters deployments by sha and environment, newest first, and marks superseded non-production ones inactive', async () => {
    const old = gh.seedDeployment('acme', 'shop', { environment: 'staging', sha: 'b'.repeat(40), state: 'success' });
    const prod = gh.seedDeployment('acme', 'shop', { environment: 'production', sha: 'b'.repeat(40), state: 'success' });
    const next = await call('POST', '/repos/acme/shop/deployments', { ref: SHA, environment: 'staging', auto_merge: false, required_contexts: [] });
    const id = (next.json as { id: number }).id;
    await call('POST', `/repos/acme/shop/deployments/${id}/statuses`, { state: 'success', environment_url: 'https://staging.example' });
    const listed = await call('GET', `/repos/acme/shop/deployments?environment=staging`);
    expect((listed.json as Array<{ id: number }>).map((d) => d.id)).toEqual([id, old]);
    const bySha = await call('GET', `/repos/acme/shop/deployments?sha=${SHA}`);
    expect((bySha.json as Array<{ id: number }>).map((d) => d.id)).toEqual([id]);
    const deployments = gh.deployments('acme', 'shop');
    expect(deployments.find((d) => d.id === old)!.statuses.map((s) => s.state)).toEqual(['success', 'inactive']);
    // GitHub leaves production deployments active: inactivating those is the client's job.
    expect(deployments.find((d) => d.id === prod)!.statuses.map((s) => s.state)).toEqual(['success']);
    expect(deployments.find((d) => d.id === id)!.statuses).toEqual([expect.objectContaining({ state: 'success', environment_url: 'https://staging.example' })]);
  });

  it('answers a secondary rate limit with retry-after, and Octokit sends the request again', async () => {
    const reporter = new MemoryReporter();
    const octokit = githubClient('t', reporter, gh.url);
    gh.rateLimitNext('GET', /\/repos\/acme\/limited\/deployments$/, 1);
    const { data } = await octokit.rest.repos.listDeployments({ owner: 'acme', repo: 'limited' });
    expect(data).toEqual([]);
    expect(gh.requests.filter((r) => r.path === '/repos/acme/limited/deployments').map((r) => r.status)).toEqual([403, 200]);
    expect(reporter.warnings.map((w) => w.message)).toEqual([expect.stringMatching(/secondary rate limit .*retrying after 1 s/)]);
  });
});
