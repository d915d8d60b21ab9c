import cors from '@fastify/cors'
import fp from 'fastify-plugin'
import { notPreflight } from '../lib/base/errors.js'

export interface CorsPluginOptions {
  /** `*` or a comma-separated list of origins. */
  origins: string
}

/**
 * CORS for the hub's routes (default `*`, as in the original service). Registered inside the
 * hub's own scope, so an embedding app's routes keep their own CORS policy. With a list of
 * origins, only those get CORS headers, with credentials allowed, so that a page there can open
 * `new EventSource(url, { withCredentials: true })` with its `sse_hub_token` cookie.
 */
export default fp<CorsPluginOptions>(async function corsPlugin (fastify, { origins }) {
  // @fastify/cors answers an OPTIONS that is no preflight in plain text; this hook, which runs
  // before its own, answers it in the hub's error format.
  fastify.addHook('onRequest', (request, _reply, done) => {
    if (request.raw.method !== 'OPTIONS') return done()
    const { origin, 'access-control-request-method': method } = request.headers
    if (origin !== undefined && method !== undefined) return done()
    done(notPreflight())
  })
  const list = origins.split(',').map((origin) => origin.trim()).filter((origin) => origin !== '')
  await fastify.register(cors, {
    origin: list.includes('*') ? '*' : list,
    // Cookies (sse_hub_token) cross origins only to listed origins: browsers never send them to `*`.
    credentials: !list.includes('*'),
    // Lists written as the header values: @fastify/cors joins an array again on every request.
    methods: 'GET, POST, DELETE',
    allowedHeaders: 'Content-Type, Authorization, Last-Event-ID, Idempotency-Key',
    exposedHeaders: 'X-SSE-Hub-Refused, Retry-After, WWW-Authenticate, Idempotent-Replayed'
  })
}, { name: 'sse-hub-cors', fastify: '5.x' })
