import { once } from 'node:events'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { mintToken, tokenHelpText } from '../../lib/cli/token.js'
import { helpText } from '../../lib/config/config.js'
import { build, data, listeningPort, output, spawnHub, type TestContext } from '../helper.js'
import { SseClient } from '../sse-client.js'
import { bearer, keys } from './keys.js'

/** A running server: its URL, everything it printed so far, and a clean stop. */
async function startServer (t: TestContext, args: string[], env: Record<string, string> = {}) {
  const child = spawnHub(['--port', '0', '--host', '127.0.0.1', ...args], env)
  t.teardown(() => { child.kill('SIGKILL') })
  const printed = { text: '' }
  child.stdout!.on('data', (chunk) => { printed.text += chunk })
  child.stderr!.on('data', (chunk) => { printed.text += chunk })
  const port = await listeningPort(child)
  return {
    url: `http://127.0.0.1:${port}`,
    output: printed,
    async stop () {
      const exited = once(child, 'exit')
      child.kill('SIGTERM')
      await exited
    }
  }
}

const claims = (token: string): Record<string, any> => JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString())
const publishBody = (channelName: string) => JSON.stringify({ events: [{ channelName, type: 'created', payload: { id: 7 } }] })

t.test('sse-hub token mints an HS256 JWT that a running hub accepts', async (t) => {
  const env = { SSE_HUB_JWT_SECRET: keys.secret }
  const minted = await output(spawnHub(['token', '--publish', 'orders*', '--subscribe', 'orders*', '--presence', '--ttl', '1h', '--sub', 'alice'], env))
  t.equal(minted.code, 0, minted.stderr)
  t.equal(minted.stderr, '')
  const token = minted.stdout.trim()
  t.match(token, /^[\w-]+\.[\w-]+\.[\w-]+$/, 'nothing but the token on stdout')
  const payload = claims(token)
  t.same(payload.hub, { publish: ['orders*'], subscribe: ['orders*'], presence: true })
  t.equal(payload.sub, 'alice')
  t.equal(payload.exp - payload.iat, 3600)
  t.equal(JSON.parse(Buffer.from(token.split('.')[0], 'base64url').toString()).alg, 'HS256')

  const server = await startServer(t, ['--subscribe-auth'], env)
  const subscriber = await SseClient.open(`${server.url}/subscribe?channels=orders,orders:eu&token=${token}`)
  t.teardown(() => subscriber.close())
  await subscriber.waitForCount(3)
  t.equal(JSON.parse(data(subscriber.messages[0]).payload).clientId, 'alice')

  const post = (channelName: string) => fetch(`${server.url}/publish`, {
    method: 'POST', headers: { 'content-type': 'application/json', ...bearer(token) }, body: publishBody(channelName)
  })
  t.equal((await post('orders:eu')).status, 200)
  await subscriber.waitForCount(4)
  t.same(data(subscriber.messages[3]), { channelName: 'orders:eu', type: 'created', payload: { id: 7 } })
  const forbidden = await post('news')
  t.equal(forbidden.status, 403)
  t.equal((await forbidden.json()).message, 'events/0/channelName: the token does not allow publishing to "news"')
  t.equal((await fetch(`${server.url}/clients`, { headers: bearer(token) })).status, 200, 'presence')
  subscriber.close()
  await server.stop()
  t.notOk(server.output.text.includes(token), 'the hub never logged the token')
  t.match(server.output.text, /token=\[redacted\]/)
})

/** Key files, as an operator keeps them: a PEM does not go well in a flag. */
const dir = mkdtempSync(join(tmpdir(), 'sse-hub-keys-'))
const keyFile = (name: string, pem: string): string => {
  writeFileSync(join(dir, name), pem)
  return join(dir, name)
}

t.test('RS256 and ES256 with a private key the hub never sees', async (t) => {
  // In process from here: the function the command runs (spawning costs seconds, and the command's own path is tested above).
  const rsaToken = mintToken(['--publish', 'orders', '--private-key', keyFile('rsa.pem', keys.rsa.privateKey), '--jwt-public-key', keyFile('rsa.pub', keys.rsa.publicKey)],
    { SSE_HUB_JWT_ISSUER: 'ops' })
  t.equal(JSON.parse(Buffer.from(rsaToken.split('.')[0], 'base64url').toString()).alg, 'RS256')
  t.equal(claims(rsaToken).iss, 'ops', 'the hub\'s issuer, from the environment')
  const rsaHub = await build(t, { jwtPublicKey: keys.rsa.publicKey, jwtIssuer: 'ops', insecure: false })
  t.equal((await rsaHub.publish({ events: [{ channelName: 'orders', type: 't', payload: 1 }] }, bearer(rsaToken))).statusCode, 200)

  const ecToken = mintToken(['--subscribe', 'news*', '--sub', 'bob', '--ttl', '15m'], { SSE_HUB_JWT_PRIVATE_KEY: keys.ec.privateKey })
  t.equal(JSON.parse(Buffer.from(ecToken.split('.')[0], 'base64url').toString()).alg, 'ES256')
  t.equal(claims(ecToken).exp - claims(ecToken).iat, 900)
  const ecHub = await build(t, { jwtPublicKey: keys.ec.publicKey, subscribeAuth: true })
  const client = await ecHub.subscribe(`/subscribe?channels=news:eu&token=${ecToken}`)
  await client.waitForCount(2)
  t.equal(JSON.parse(data(client.messages[0]).payload).clientId, 'bob')
})

t.test('sse-hub token refuses what would not work, naming the flag', async (t) => {
  const secret = { SSE_HUB_JWT_SECRET: keys.secret }
  const cases: Array<[string[], Record<string, string>, RegExp]> = [
    [['--publish', 'a'], {}, /^no key to sign with: give --private-key <file> \(or SSE_HUB_JWT_PRIVATE_KEY\)/],
    [['--ttl', '1h'], secret, /^nothing to grant: give --publish, --subscribe and\/or --presence$/],
    [['--publish', 'a b'], secret, /^invalid --publish: "a b" is not a channel name/],
    [['--subscribe', 'ok,or*ders'], secret, /^invalid --subscribe: "or\*ders" is not/],
    [['--publish', 'a', '--ttl', '1w'], secret, /^invalid --ttl: "1w" is not a positive number with s, m, h or d$/],
    [['--publish', 'a', '--ttl', '0'], secret, /^invalid --ttl/],
    [['--publish', 'a', '--sub', 'not valid'], secret, /^invalid --sub: "not valid" is not a valid clientId/],
    [['--publish', 'a', '--jwt-secret', 'short'], {}, /^invalid --jwt-secret: Expected string length greater or equal to 32/],
    [['--publish', 'a', '--private-key', keyFile('other-rsa.pem', keys.otherRsa.privateKey)], { SSE_HUB_JWT_PUBLIC_KEY: keys.rsa.publicKey },
      /^invalid --private-key: it is not the private key of the hub's jwtPublicKey/],
    [['--publish', 'a'], { SSE_HUB_JWT_PRIVATE_KEY: keys.rsa.publicKey }, /^invalid SSE_HUB_JWT_PRIVATE_KEY: not a PEM private key/],
    [['--publish', 'a', '--private-key', keyFile('ed25519.pem', keys.ed25519.privateKey)], {}, /^invalid --private-key: a ed25519 key is not supported/],
    [['--publish', 'a', '--private-key', join(dir, 'missing.pem')], {}, /^invalid --private-key: neither a PEM key nor a readable file \(ENOENT\)/],
    [['--publish', 'a', '--port', '1'], secret, /Unknown option '--port'/]
  ]
  for (const [args, env, message] of cases) t.throws(() => mintToken(args, env), { code: 'SSE_HUB_BAD_CONFIG', message }, args.join(' '))

  const failed = await output(spawnHub(['token', '--publish', 'a']))
  t.equal(failed.code, 1, 'the command exits 1')
  t.equal(failed.stdout, '', 'and prints no token')
  t.match(failed.stderr, /^sse-hub token: no key to sign with/)
  t.match(tokenHelpText(), /--publish <patterns>[\s\S]*--private-key <file>/)
  t.match(tokenHelpText(), /--presence [\s\S]*not what is published: with subscribeAuth, \/firehose also needs\s+--subscribe '\*'/, 'it says what presence does not read')
  t.match(helpText(), /sse-hub token \[token options\]/, 'sse-hub --help mentions it')
})

t.test('the sse-hub server prints its generated token once, and never again', async (t) => {
  const server = await startServer(t, [])
  const token = /shown only now: ([\w-]+)/.exec(server.output.text)?.[1] ?? ''
  t.equal(token.length, 43)
  const post = (headers: Record<string, string>) => fetch(`${server.url}/publish`, {
    method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: publishBody('a')
  })
  t.equal((await post({})).status, 401)
  t.equal((await post(bearer(token))).status, 200)
  t.equal((await fetch(`${server.url}/clients?token=${token}`)).status, 200)
  t.equal((await fetch(`${server.url}/nowhere?token=${token}`)).status, 404)
  await server.stop()
  t.equal(server.output.text.split(token).length - 1, 1, 'in the output once, at start')
})
