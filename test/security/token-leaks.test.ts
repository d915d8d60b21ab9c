import { connect } from 'node:net'
import t from 'tap'
import { type HubProcess, spawnHub, startHub, type TestContext } from '../helper.js'
import { keys } from './keys.js'

const SECRET = 'eyJhbGciOiJIUzI1NiJ9.c2VjcmV0LXRva2Vu.leaked-if-you-see-this'

/** A hub whose whole log is kept, with trace lines, so nothing logged escapes the check. */
function startLoggingHub (t: TestContext, args: string[]): Promise<HubProcess> {
  return startHub(t, ['--log-level', 'trace', ...args])
}

/** Sends a request as written (fetch would normalise the URL) and returns the status and body. */
function rawRequest (port: number, head: string): Promise<{ status: number, body: string }> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1')
    let text = ''
    socket.setEncoding('utf8')
    socket.on('data', (chunk: string) => { text += chunk })
    socket.on('error', reject)
    socket.on('close', () => {
      resolve({ status: Number(/^HTTP\/1\.1 (\d+)/.exec(text)?.[1]), body: text.slice(text.indexOf('\r\n\r\n') + 4) })
    })
    socket.write(`${head}\r\nHost: x\r\nConnection: close\r\n\r\n`)
  })
}

t.test('a token in a malformed or mistyped URL reaches neither the answer nor the log', async (t) => {
  const hub = await startLoggingHub(t, [])
  const cases: Array<[string, number, string]> = [
    [`GET /subscribe%ZZ?channels=a&token=${SECRET} HTTP/1.1`, 400, 'FST_ERR_BAD_URL'],
    [`GET /subscribe?channels=a?token=${SECRET} HTTP/1.1`, 400, 'SSE_HUB_BAD_CHANNELS'],
    [`GET /lastEvent?channel=a?token=${SECRET} HTTP/1.1`, 400, 'SSE_HUB_BAD_CHANNELS'],
    [`GET /subscribe?clientId=a?token=${SECRET}&channels=a HTTP/1.1`, 400, 'SSE_HUB_BAD_CLIENT_ID'],
    [`GET /no-such-route?token=${SECRET} HTTP/1.1`, 404, 'SSE_HUB_NOT_FOUND']
  ]
  for (const [head, status, code] of cases) {
    const answer = await rawRequest(hub.port, head)
    t.equal(answer.status, status, head.slice(0, 40))
    const body = JSON.parse(answer.body)
    t.match(body, { statusCode: status, code }, 'statusCode and code in the body')
    t.notMatch(answer.body, 'leaked-if-you-see-this', 'no token in the answer')
  }
  await new Promise((resolve) => setTimeout(resolve, 200))
  t.match(hub.log(), /token=\[redacted\]/, 'the requests were logged, redacted')
  t.notMatch(hub.log(), 'leaked-if-you-see-this', 'no token in the log')
})

t.test('subscribeAuth: a token hidden in another parameter is refused (401) and not logged', async (t) => {
  const hub = await startLoggingHub(t, ['--subscribe-auth', '--jwt-secret', keys.secret])
  const answer = await rawRequest(hub.port, `GET /subscribe?channels=a?token=${SECRET} HTTP/1.1`)
  t.equal(answer.status, 401)
  t.match(JSON.parse(answer.body), { statusCode: 401, code: 'SSE_HUB_NO_TOKEN' })
  await new Promise((resolve) => setTimeout(resolve, 200))
  t.notMatch(hub.log(), 'leaked-if-you-see-this', 'no token in the log')
})

t.test('a publish token with a raw " or # in the query is redacted whole in the log', async (t) => {
  for (const token of ['Op3rator"Secret-leaked-if-you-see-this', 'Op3rator#Secret-leaked-if-you-see-this', 'Op3rator;Secret"x#y-leaked-if-you-see-this']) {
    const hub = await startHub(t, [], spawnHub(['--port', '0', '--host', '127.0.0.1', '--log-level', 'trace'], { SSE_HUB_PUBLISH_TOKEN: token }))
    const answer = await rawRequest(hub.port, `GET /clients?limit=1&token=${token} HTTP/1.1`)
    t.equal(answer.status, 200, `${token.slice(0, 9)}: the token as sent is the publish token`)
    await new Promise((resolve) => setTimeout(resolve, 200))
    t.match(hub.log(), /\/clients\?limit=1&token=\[redacted\]"/, 'the request was logged, the value redacted to the end of the URL')
    t.notMatch(hub.log(), 'leaked-if-you-see-this', `${token.slice(0, 9)}: nothing of the token in the log`)
    hub.child.kill('SIGKILL')
  }
})

t.test('headers too large: a 431 with statusCode and code', async (t) => {
  const hub = await startLoggingHub(t, [])
  const answer = await rawRequest(hub.port, `GET /health HTTP/1.1\r\nX-Big: ${'b'.repeat(20000)}`)
  t.equal(answer.status, 431)
  t.match(JSON.parse(answer.body), { statusCode: 431, code: 'HPE_HEADER_OVERFLOW', error: 'Request Header Fields Too Large' })
})
