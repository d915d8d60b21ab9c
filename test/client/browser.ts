import { existsSync } from 'node:fs'
import Fastify, { type FastifyInstance } from 'fastify'
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core'
import sseHub, { type SseHubOptions } from '../../app.js'
import type { TestContext } from '../helper.js'
import { testCertificate } from '../tls.js'

// The browser client's tests: a hub with a test page on its own origin, and Chromium with tabs.

export const CHROMIUM = '/usr/bin/chromium'
export const TIMEOUT = 20_000
export const PREFIX = '/events'

/** The test page: it only imports the client from the hub and hands it to the test. Not part of the product. */
const PAGE = `<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>client test</title></head><body>
<script>
  // ?nostream: a browser whose fetch cannot stream a body, so the client falls back to EventSource.
  if (location.search === '?nostream') delete window.ReadableStream
</script>
<script type="module">
  import * as client from '${PREFIX}/client.js'
  window.hubClient = client
</script>
</body></html>`

export interface ClientHub {
  app: FastifyInstance
  /** The hub's origin, https://127.0.0.1:<port> (or http: without TLS). */
  origin: string
  /** The hub's base URL, with its prefix. */
  url: string
}

/**
 * The hub plugin under `/events` on an embedded Fastify, over HTTPS with HTTP/2 (and HTTP/1.1
 * for clients without ALPN) unless `tls` is false, with the test page at `/page`. `extra` adds
 * the test's own routes (e.g. a token maker). Closed at teardown.
 */
export async function clientHub (t: TestContext, options: SseHubOptions = {}, { tls = true, extra }: { tls?: boolean, extra?: (app: FastifyInstance) => void } = {}): Promise<ClientHub> {
  let app: FastifyInstance
  if (tls) {
    const { key, cert } = testCertificate(t)
    app = Fastify({ http2: true, https: { allowHTTP1: true, key, cert } }) as unknown as FastifyInstance
  } else {
    app = Fastify()
  }
  await app.register(sseHub, { insecure: true, prefix: PREFIX, ...options })
  app.get('/page', async (_request, reply) => reply.type('text/html; charset=utf-8').send(PAGE))
  app.get('/favicon.ico', async (_request, reply) => reply.code(204).send())
  extra?.(app)
  await app.listen({ port: 0, host: '127.0.0.1' })
  t.teardown(() => app.close())
  const { port } = app.server.address() as { port: number }
  const origin = `${tls ? 'https' : 'http'}://127.0.0.1:${port}`
  return { app, origin, url: `${origin}${PREFIX}` }
}

/**
 * Chromium with a fresh profile (playwright makes one per launch) and one context whose pages are
 * the tabs of one browser: they share Web Locks and BroadcastChannel. Closed at teardown:
 * register it after the hub.
 */
export async function browserContext (t: TestContext, args: string[] = []): Promise<{ browser: Browser, context: BrowserContext }> {
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
      '--disable-background-timer-throttling', '--disable-renderer-backgrounding',
      '--disable-backgrounding-occluded-windows', ...args
    ]
  })
  const context = await browser.newContext({ ignoreHTTPSErrors: true })
  t.teardown(() => browser.close())
  return { browser, context }
}

export interface Tab {
  page: Page
  /** Console errors and page errors of the tab. */
  problems: string[]
}

/** Opens the test page (`?nostream`: without streaming fetch) in a new tab and waits for the client module. */
export async function openTab (context: BrowserContext, hub: ClientHub, query = ''): Promise<Tab> {
  const page = await context.newPage()
  page.setDefaultTimeout(TIMEOUT)
  const problems: string[] = []
  page.on('console', (message) => { if (message.type() === 'error') problems.push(`console.error: ${message.text()}`) })
  page.on('pageerror', (error) => problems.push(`page error: ${error.message}`))
  await page.goto(`${hub.origin}/page${query}`)
  await page.waitForFunction(() => (window as any).hubClient !== undefined)
  return { page, problems }
}

export interface ConnectArgs {
  channels: string | string[]
  clientId?: string
  share?: boolean
  /** A fixed token. */
  token?: string
  /** A path of the hub's origin that answers a fresh token, fetched before each connect. */
  tokenFrom?: string
}

/**
 * Connects the tab's client (`window.client`) and records, in `window.got`, every event as
 * `[channel, type, id, payload]`, in `window.statuses` every status, in `window.snapshots` every
 * `lastEvent` as `[channel, last]`.
 */
export async function connectTab (tab: Tab, hub: ClientHub, args: ConnectArgs): Promise<void> {
  await tab.page.evaluate(({ url, args }) => {
    const w = window as any
    w.got = []
    w.statuses = []
    w.snapshots = []
    const token = args.tokenFrom === undefined ? args.token : async () => (await fetch(args.tokenFrom as string, { cache: 'no-store' })).text()
    w.client = w.hubClient.connect({ url, channels: args.channels, clientId: args.clientId, share: args.share, token })
    w.client.onStatus((status: unknown) => w.statuses.push(status))
    w.client.on('*', (payload: unknown, meta: any) => w.got.push([meta.channel, meta.type, meta.id, payload]))
    w.client.on('lastEvent', (last: unknown, meta: any) => w.snapshots.push([meta.channel, last]))
  }, { url: hub.url, args })
}

/** Resolves once the tab's client is open (or rejects after TIMEOUT with its statuses). */
export async function opened (tab: Tab): Promise<void> {
  await tab.page.waitForFunction(() => (window as any).client.status.state === 'open')
}

/** The events the tab's client received, as `[channel, type, id, payload]`. */
export function received (tab: Tab): Promise<Array<[string, string, string, unknown]>> {
  return tab.page.evaluate(() => (window as any).got)
}

/** Fails the test when Chromium is not installed; true when it is. */
export function haveChromium (t: { fail (message: string): void }): boolean {
  if (existsSync(CHROMIUM)) return true
  t.fail(`${CHROMIUM} not found: the browser tests need Debian's chromium package (apt-get install chromium)`)
  return false
}
