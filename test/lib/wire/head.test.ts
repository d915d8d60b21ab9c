import { createServer, type IncomingMessage, type OutgoingHttpHeaders } from 'node:http'
import { connect } from 'node:net'
import t from 'tap'
import { chunkedHead, chunkedHeadFits } from '../../../lib/wire/head.js'
import { SSE_HEADERS } from '../../../lib/wire/sse.js'
import type { TestContext } from '../../helper.js'

/** The head Node's own `writeHead(200, headers)` sends for a GET over HTTP/1.1, its `Date` line as `Date: X`. */
async function nodeHead (t: TestContext, headers: OutgoingHttpHeaders): Promise<string> {
  const server = createServer((_req, res) => {
    res.writeHead(200, headers)
    res.flushHeaders()
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => { server.closeAllConnections(); server.close() })
  const { port } = server.address() as { port: number }
  return await new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1')
    let text = ''
    socket.setEncoding('latin1')
    socket.on('error', reject)
    socket.on('data', (chunk: string) => {
      text += chunk
      const end = text.indexOf('\r\n\r\n')
      if (end < 0) return
      socket.destroy()
      resolve(withoutDate(text.slice(0, end + 4)))
    })
    socket.write('GET /subscribe HTTP/1.1\r\nHost: x\r\n\r\n')
  })
}

/** The head as its bytes go on the wire (a socket writes a string as UTF-8), read one character per byte. */
function wire (head: string): string {
  return withoutDate(Buffer.from(head).toString('latin1'))
}

function withoutDate (head: string): string {
  return head.replace(/\r\nDate: [^\r]+\r\n/, '\r\nDate: X\r\n')
}

const CASES: Array<[string, OutgoingHttpHeaders]> = [
  ['a stream\'s headers with CORS', { 'access-control-allow-origin': '*', 'access-control-expose-headers': 'X-SSE-Hub-Refused, Retry-After', ...SSE_HEADERS }],
  ['a list of origins: credentials and Vary', { 'access-control-allow-origin': 'https://app.test', 'access-control-allow-credentials': 'true', vary: 'Origin', ...SSE_HEADERS }],
  ['an app\'s header given twice, a number, Latin-1 text', { 'x-trace': ['a', 'b'], 'x-count': 3, 'x-name': 'caf\u00e9', ...SSE_HEADERS }]
]

t.test('the head is byte for byte what Node writes for the same headers', async (t) => {
  for (const [what, headers] of CASES) {
    t.equal(wire(chunkedHead(headers)), await nodeHead(t, headers), what)
    // Again: the lines are remembered as checked now.
    t.equal(wire(chunkedHead(headers)), await nodeHead(t, headers), `${what}, a second time`)
  }
  t.match(chunkedHead(SSE_HEADERS), /\r\nDate: [A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} GMT\r\n/)
})

t.test('a kept head is never given for other headers or in a later second', async (t) => {
  const dateOf = (head: string): string => /\r\nDate: ([^\r]+)\r\n/.exec(head)?.[1] ?? ''
  const list = ['a', 'b']
  const first = chunkedHead({ 'x-app': '1', 'x-list': list, ...SSE_HEADERS })
  t.equal(chunkedHead({ 'x-app': '1', 'x-list': list, ...SSE_HEADERS }), first, 'the same names and values: the same head')
  t.match(chunkedHead({ 'x-app': '2', 'x-list': list, ...SSE_HEADERS }), /\r\nx-app: 2\r\n/, 'a value changed')
  t.match(chunkedHead({ 'x-app': '1', 'x-list': ['a', 'c'], ...SSE_HEADERS }), /\r\nx-list: c\r\n/, 'a list of other values')
  t.notMatch(chunkedHead({ 'x-app': '1', ...SSE_HEADERS }), /x-list/, 'a header fewer')
  t.match(chunkedHead({ ...SSE_HEADERS, 'x-app': '1' }), /\r\nconnection: close\r\nx-app: 1\r\n/, 'the same headers in another order')
  t.throws(() => chunkedHead({ 'x-app': '1\n', ...SSE_HEADERS }), { code: 'ERR_INVALID_CHAR' }, 'still checked after a head was kept')
  // The next second: the same headers get a new Date.
  await new Promise((resolve) => setTimeout(resolve, 1000 - Date.now() % 1000 + 5))
  const later = chunkedHead({ 'x-app': '1', 'x-list': list, ...SSE_HEADERS })
  t.not(dateOf(later), dateOf(first), 'Date follows the clock')
  t.equal(later.replace(dateOf(later), ''), first.replace(dateOf(first), ''), 'the rest of the head is the same')
})

t.test('a header Node refuses is refused with Node\'s error', async (t) => {
  t.throws(() => chunkedHead({ ...SSE_HEADERS, 'x-bad': 'a\r\nSet-Cookie: b' }), { code: 'ERR_INVALID_CHAR' })
  t.throws(() => chunkedHead({ ...SSE_HEADERS, 'bad name': 'a' }), { code: 'ERR_INVALID_HTTP_TOKEN' })
  t.throws(() => chunkedHead({ ...SSE_HEADERS, 'x-list': ['ok', 'not\nok'] }), { code: 'ERR_INVALID_CHAR' })
})

t.test('only a GET over HTTP/1.1 without a framing header gets the head from here', async (t) => {
  const request = (method: string, minor: number): IncomingMessage => ({ method, httpVersionMajor: 1, httpVersionMinor: minor }) as IncomingMessage
  t.ok(chunkedHeadFits(request('GET', 1), SSE_HEADERS))
  t.notOk(chunkedHeadFits(request('GET', 0), SSE_HEADERS), 'HTTP/1.0 has no chunks')
  t.notOk(chunkedHeadFits(request('HEAD', 1), SSE_HEADERS), 'a HEAD has no body')
  t.notOk(chunkedHeadFits(request('GET', 1), { ...SSE_HEADERS, 'content-length': '10' }))
  t.notOk(chunkedHeadFits(request('GET', 1), { ...SSE_HEADERS, 'transfer-encoding': 'gzip' }))
})
