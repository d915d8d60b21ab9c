import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { helpText } from '../lib/config/config.js'
import { listeningPort, output, spawnHub, startHub } from './helper.js'

// What a new user of the `sse-hub` command met: its errors, --help, and the nginx file it ships.
t.test('a port in use is all a start without a token prints: no generated token before the error', async (t) => {
  const first = spawnHub(['--port', '0', '--host', '127.0.0.1', '--insecure'])
  t.teardown(() => { first.kill('SIGKILL') })
  const port = await listeningPort(first)
  const result = await output(spawnHub(['--port', String(port), '--host', '127.0.0.1']))
  t.equal(result.code, 1)
  t.equal(result.stdout, '', 'nothing logged, no token shown')
  t.equal(result.stderr.trim(), `sse-hub: port ${port} on 127.0.0.1 is already in use; choose another with --port or PORT`)
})

t.test('--dashboard=false starts the hub without its page', async (t) => {
  const { url } = await startHub(t, ['--dashboard=false'])
  t.equal((await fetch(`${url}/`)).status, 404)
  t.equal((await fetch(`${url}/health`)).status, 200)
})

t.test('errors a new user meets name the flag as typed, the range, and never a secret', async (t) => {
  const cases: Array<[string[], RegExp]> = [
    [['--publish-token', 'Sh0rtSecret'], /^sse-hub: invalid --publish-token: Expected string length greater or equal to 16, got 11 characters \(not shown: the value is secret\)$/],
    [['--history-size', '-1'], /^sse-hub: invalid --history-size: Expected integer to be greater or equal to 0, got "-1"$/],
    [['--subscribe-auth'], /^sse-hub: invalid --subscribe-auth: it needs --jwt-secret, --jwt-public-key or --jwks-url to verify subscriber tokens$/],
    [['--dashboard=maybe'], /^sse-hub: invalid --dashboard: must be true or false \(or 1 or 0\), got "maybe"$/]
  ]
  const results = await Promise.all(cases.map(([args]) => output(spawnHub(['--port', '0', ...args]))))
  for (const [i, [args, message]] of cases.entries()) {
    t.equal(results[i].code, 1, args.join(' '))
    t.match(results[i].stderr.trim(), message, args.join(' '))
    t.notMatch(results[i].stderr, 'Sh0rtSecret')
  }
})

t.test('--help gives one default per option', async (t) => {
  const result = await output(spawnHub(['--help']))
  t.equal(result.code, 0)
  const doubled = result.stdout.split('\n').filter((line) => line.split('(default: ').length > 2)
  t.same(doubled, [])
  t.match(result.stdout, /--dashboard=false/, 'says how to turn a boolean off')
})

t.test('deploy/nginx/sse-hub.conf names only options sse-hub has, and how to trust its X-Forwarded-For', async (t) => {
  const conf = readFileSync(join(import.meta.dirname, '..', 'deploy', 'nginx', 'sse-hub.conf'), 'utf8')
  const comments = conf.split('\n').filter((line) => line.trim().startsWith('#')).join('\n')
  const help = helpText()
  for (const name of comments.match(/--[a-z][a-z-]+|SSE_HUB_[A-Z_]+/g) ?? []) t.match(help, name, `${name} is an option of sse-hub`)
  t.match(comments, /--trust-proxy \(SSE_HUB_TRUST_PROXY\)/)
  t.notMatch(comments, /no trustProxy option/)
})
