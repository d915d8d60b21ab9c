/**
 * The app the hub asks in the auth scenarios (A1, A2): its `authUrl`. A node:http server with
 * keep-alive that answers from a Map of sessions in memory, as an app with its sessions in
 * memory would: `POST /auth` reads the hub's question, looks up the `session` cookie it forwards,
 * and answers 200 with the session's clientId, the channels asked and `--ttl`; 403 once the
 * session's access was withdrawn; 401 for a session it does not know.
 * Also, for the bench: `POST /withdraw` withdraws every session's access at once (and answers
 * with the stats of that moment), `GET /stats`
 * says what it was asked (`?expiries=1`: when each session's last grant runs out), `GET /health`.
 *
 * node --import tsx bench/auth-app.ts --port 19490 --sessions 10000 --ttl 600
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import { parseArgs } from 'node:util'
import { SESSION_COOKIE, SHARED_SESSION, sessionId } from './credentials.js'
import { nowUs } from './measure.js'

interface Session {
  /** The clientId the app gives its streams; none for the shared session (the hub makes one per stream). */
  clientId?: string
  withdrawn: boolean
  /** Answers given to questions with this session. */
  calls: number
  /** When its last grant runs out: the answer's time + ttl, CLOCK_MONOTONIC µs. */
  expiresUs: number
}

/** What the app was asked, for the bench. */
export interface AppStats {
  calls: { allowed: number, refused: number, unknown: number }
  /** When the app started, CLOCK_MONOTONIC µs. */
  startUs: number
  /** Calls answered in each second since `startUs`. */
  perSecond: number[]
  /** When the access was withdrawn, µs; 0: never. */
  withdrawnUs: number
  /** The latest expiry of a grant given, µs. */
  lastExpiryUs: number
  /** Each session's last grant's expiry (0: none), by subscriber index; with `?expiries=1`. */
  expiries?: number[]
}

const { values } = parseArgs({
  options: {
    port: { type: 'string', default: '19490' },
    host: { type: 'string', default: '127.0.0.1' },
    sessions: { type: 'string', default: '10000' },
    ttl: { type: 'string', default: '600' }
  },
  strict: true
})
const ttl = Number(values.ttl)
const startUs = nowUs()
const sessions = new Map<string, Session>()
for (let i = 0; i < Number(values.sessions); i++) sessions.set(sessionId(i), { clientId: `user-${i}`, withdrawn: false, calls: 0, expiresUs: 0 })
sessions.set(SHARED_SESSION, { withdrawn: false, calls: 0, expiresUs: 0 })
const stats: AppStats = { calls: { allowed: 0, refused: 0, unknown: 0 }, startUs, perSecond: [], withdrawnUs: 0, lastExpiryUs: 0 }

/** The `session` cookie of a `Cookie` header. */
function sessionOf (cookie: unknown): string | undefined {
  if (typeof cookie !== 'string') return undefined
  for (const part of cookie.split(';')) {
    const [name, value] = part.trim().split('=', 2)
    if (name === SESSION_COOKIE) return value
  }
  return undefined
}

function send (res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body))
}

function answer (question: { channels: string[], headers: Record<string, string> }, res: ServerResponse): void {
  const now = nowUs()
  const second = Math.floor((now - startUs) / 1e6)
  stats.perSecond[second] = (stats.perSecond[second] ?? 0) + 1
  const session = sessions.get(sessionOf(question.headers.cookie) ?? '')
  if (session === undefined) {
    stats.calls.unknown++
    return send(res, 401, { message: 'no session' })
  }
  session.calls++
  if (session.withdrawn) {
    stats.calls.refused++
    return send(res, 403, { message: 'access withdrawn' })
  }
  stats.calls.allowed++
  session.expiresUs = now + ttl * 1e6
  stats.lastExpiryUs = Math.max(stats.lastExpiryUs, session.expiresUs)
  send(res, 200, { clientId: session.clientId, channels: question.channels, ttl })
}

/** Withdraws every session's access; the stats as they are at that moment. */
function withdraw (url: URL): AppStats {
  for (const session of sessions.values()) session.withdrawn = true
  stats.withdrawnUs = nowUs()
  return statsReply(url)
}

function statsReply (url: URL): AppStats {
  const perSecond = Array.from(stats.perSecond, (calls) => calls ?? 0)
  if (url.searchParams.get('expiries') !== '1') return { ...stats, perSecond }
  const expiries = Array.from({ length: Number(values.sessions) }, (_, i) => sessions.get(sessionId(i))?.expiresUs ?? 0)
  return { ...stats, perSecond, expiries }
}

const server = createServer((req: IncomingMessage, res: ServerResponse) => {
  if (req.method !== 'POST' || req.url !== '/auth') {
    const url = new URL(req.url ?? '/', 'http://app')
    if (req.method === 'GET' && url.pathname === '/health') return send(res, 200, { status: 'ok' })
    if (req.method === 'GET' && url.pathname === '/stats') return send(res, 200, statsReply(url))
    if (req.method === 'POST' && url.pathname === '/withdraw') return send(res, 200, withdraw(url))
    return send(res, 404, { message: 'not found' })
  }
  let text = ''
  req.setEncoding('utf8').on('data', (chunk: string) => { text += chunk }).on('end', () => {
    try {
      answer(JSON.parse(text), res)
    } catch {
      send(res, 400, { message: 'not a question' })
    }
  })
})
// Keep-alive well past the gaps between renewals, so that the hub's calls reuse their connections.
server.keepAliveTimeout = 30_000
server.listen(Number(values.port), values.host)
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.once(signal, () => { process.exit(0) })
}
