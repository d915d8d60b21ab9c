import t from 'tap'
import { waitUntil } from '../helper.js'
import { browserContext, clientHub, haveChromium, openTab, PREFIX, TIMEOUT } from './browser.js'

// The client's SSE reader against a body written by hand, in awkward chunks: a BOM, CRLF split
// between two chunks, CR alone, LF, several data lines, comments, retry, an id that persists, and an
// event cut off by the end of the stream.

const CHUNKS = [
  '\uFEFFretry: 250\r\n: a comment\r\nid: 1\r\nevent: multi\r\ndata: line one\r',
  '\ndata: line two\r\ndata\r\n\r\n',
  'id: 2\revent: cr\rdata: {"a":1}\r\r',
  'id: 3\nevent: lf\ndata:no space\n\n',
  'data: no type\n\n',
  'id: 4\nevent: partial\ndata: never dispatched'
]

t.test('the reader parses the SSE body as the spec says, then reconnects after retry: with its last id', async (t) => {
  if (!haveChromium(t)) return
  const requests: Array<string | undefined> = []
  const hub = await clientHub(t, {}, {
    tls: false,
    extra: (app) => app.get('/crafted', async (request, reply) => {
      requests.push(request.headers['last-event-id'] as string | undefined)
      reply.hijack()
      reply.raw.writeHead(200, { 'content-type': 'text/event-stream' })
      if (requests.length > 1) return reply.raw.write(': second\n\n')
      for (const chunk of CHUNKS) {
        reply.raw.write(chunk)
        await new Promise((resolve) => setTimeout(resolve, 20))
      }
      reply.raw.end()
    })
  })
  const { context } = await browserContext(t)
  const { page, problems } = await openTab(context, hub)
  await page.evaluate(async (prefix) => {
    const w = window as any
    const { openStream } = await import(`${prefix}/client-stream.js`)
    w.events = []
    w.stream = openStream({ url: () => '/crafted', onEvent: (...event: unknown[]) => w.events.push(event), onStatus: () => {} })
  }, PREFIX)
  await waitUntil(() => requests.length === 2, TIMEOUT, 'the reconnect')
  t.same(await page.evaluate(() => (window as any).events), [
    ['multi', 'line one\nline two\n', '1'],
    ['cr', '{"a":1}', '2'],
    ['lf', 'no space', '3'],
    ['message', 'no type', '3']
  ], 'four events; the cut one is never dispatched')
  t.same(requests, [undefined, '3'], 'the reconnect sends the id of the last complete event')
  await page.evaluate(() => (window as any).stream.close())
  t.same(problems, [])
})
