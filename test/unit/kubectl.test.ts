import { describe, expect, it } from 'vitest';
import { CommandResult, CommandRunner, RunOptions } from '../../src/shared/process.js';
import { Kubectl, parseObjects, parseProblems } from '../../src/kube/kubectl.js';

class Recorder implements CommandRunner {
  calls: { args: string[]; input?: string }[] = [];
  constructor(private readonly reply: CommandResult = { exitCode: 0, stdout: '{"kind":"List","items":[]}', stderr: '' }) {}
  async run(_cmd: string, args: string[], options: RunOptions = {}): Promise<CommandResult> {
    this.calls.push({ args, input: options.input });
    return this.reply;
  }
}

const cm = (name: string) => ({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, namespace: 'ns' }, data: { a: 'b' } });

describe('Kubectl batch operations', () => {
  it('applies the whole set in one server-side apply under the gantry field manager', async () => {
    const runner = new Recorder();
    const kubectl = new Kubectl({ runner, kubeconfig: '/k' });
    await kubectl.apply([cm('a'), cm('b'), cm('c')], { dryRun: true });
    expect(runner.calls).toHaveLength(1);
    expect(runner.calls[0]!.args).toEqual(['--kubeconfig', '/k', 'apply', '--server-side', '--field-manager=gantry', '--force-conflicts', '--dry-run=server', '-f', '-', '-o', 'json']);
    expect(JSON.parse(runner.calls[0]!.input!).items.map((o: { metadata: { name: string } }) => o.metadata.name)).toEqual(['a', 'b', 'c']);
  });

  it('gets only the identity of each object, ignoring missing ones', async () => {
    const runner = new Recorder();
    await new Kubectl({ runner }).getObjects([cm('a')]);
    expect(runner.calls[0]!.args).toEqual(['get', '--ignore-not-found', '-f', '-', '-o', 'json']);
    expect(JSON.parse(runner.calls[0]!.input!).items).toEqual([{ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'a', namespace: 'ns' } }]);
  });

  it('makes no call for an empty set', async () => {
    const runner = new Recorder();
    const kubectl = new Kubectl({ runner });
    await kubectl.apply([]);
    await kubectl.deleteObjects([]);
    expect(kubectl.calls).toBe(0);
  });
});

describe('parseProblems', () => {
  it.each([
    ['an invalid field', 'Error from server (Invalid): error when applying patch:\nDeployment.apps "web" is invalid: spec.replicas: Invalid value: -1', 'Deployment.apps "web"'],
    ['an invalid object in one line', 'Error from server (Invalid): Service "web" is invalid: spec.ports[0].port: Invalid value: 0', 'Service "web"'],
    ['kubectl\'s "The … is invalid" form', 'The Service "web" is invalid: \n* spec.ports[0].port: Invalid value: 70000: must be between 1 and 65535, inclusive', 'Service "web"'],
    ['an unknown kind', 'error: resource mapping not found for name: "x" namespace: "" from "STDIN": no matches for kind "Widget" in version "v1"\nensure CRDs are installed first', 'Widget "x"'],
  ])('names the object for %s', (_name, stderr, object) => {
    const problems = parseProblems(stderr);
    expect(problems).toHaveLength(1);
    expect(problems[0]!.object).toBe(object);
  });
  it('ignores warnings', () => {
    expect(parseProblems('Warning: spec.template.spec.containers[0].image: deprecated\n')).toEqual([]);
  });
});

describe('parseObjects', () => {
  it('reads a List, a single object and concatenated documents', () => {
    expect(parseObjects('{"kind":"List","items":[{"kind":"A","apiVersion":"v1","metadata":{"name":"a"}}]}').map((o) => o.kind)).toEqual(['A']);
    expect(parseObjects('{"kind":"B","apiVersion":"v1","metadata":{"name":"b"}}').map((o) => o.kind)).toEqual(['B']);
    expect(parseObjects('{"kind":"A","apiVersion":"v1","metadata":{"name":"}{"}}\n{"kind":"B","apiVersion":"v1","metadata":{"name":"b"}}').map((o) => o.kind)).toEqual(['A', 'B']);
  });
});
