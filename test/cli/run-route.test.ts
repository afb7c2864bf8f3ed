import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { plainRun } from '../../cli/run-route.ts';

test('plain `run` arguments come out as the parser hands them to the command', () => {
  assert.equal(plainRun(['run', 'push', '--auto']), { auto: true, task: ['push'] });
  assert.equal(plainRun(['run', 'pull', 'push', '-q', '--json', '--timings', '--dry-run']), { quiet: true, json: true, timings: true, dryRun: true, task: ['pull', 'push'] });
  assert.equal(plainRun(['run', '--state', 's', 'push', '--remote=file:///r', '--config', 'c.json']), { state: 's', remote: 'file:///r', config: 'c.json', task: ['push'] });
});

test('anything the parser must judge or word goes to it', () => {
  for (const args of [
    ['status'],
    ['run'],
    ['run', '--auto'],
    ['run', 'push', '--help'],
    ['run', 'push', '-h'],
    ['run', 'push', '--version'],
    ['run', 'push', '--auot'],
    ['run', 'push', '--auto', '--auto'],
    ['run', 'push', '--auto=true'],
    ['run', 'push', '--no-auto'],
    ['run', 'push', '--dryRun'],
    ['run', 'push', '--state'],
    ['run', 'push', '--state', '--auto'],
    ['run', 'push', '--state='],
    ['run', 'push', '--state', 'a', '--state', 'b'],
    ['run', 'push', '--'],
    ['run', 'push', '-qa'],
    ['run', '12'],
    ['run', 'push.x/y'],
  ]) {
    assert.is(plainRun(args), undefined, JSON.stringify(args));
  }
});

test.run();
