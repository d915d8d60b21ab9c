import cors from '@fastify/cors'
import type { FastifyReply } from 'fastify'
import fp from 'fastify-plugin'
import { notPreflight } from '../lib/base/errors.js'

declare module 'fastify' {
  interface FastifyContextConfig {
    /** `false`: @fastify/cors leaves the route alone (read by its hook); the hub's set its headers themselves. */
    cors?: false
  }
}

export interface CorsPluginOptions {
  /** `*` or a comma-separated list of origins. */
  origins: string
}

const ALLOWED_HEADERS = ['Content-Type', 'Authorization', 'Last-Event-ID']
const EXPOSED_HEADERS = 'X-SSE-Hub-Refused, Retry-After, WWW-Authenticate'
/** A `Vary` that already covers Origin: it names it, or `*`. */
const VARIES_BY_ORIGIN = /(?:^|,)\s*(?:origin|\*)\s*(?:,|$)/i

/**
 * CORS for the hub's routes (default `*`, as in the original service). Registered inside the
 * hub's own scope, so an embedding app's routes keep their own CORS policy. With a list of
 * origins, only those get CORS headers, with credentials allowed, so that a page there can open
 * `new EventSource(url, { withCredentials: true })` with its `sse_hub_token` cookie.
 * @fastify/cors answers the preflights; the headers of every other request are set here, the
 * same ones, from values computed once (its hook builds its options anew on every request).
 */
export default fp<CorsPluginOptions>(async function corsPlugin (fastify, { origins }) {
  const list = origins.split(',').map((origin) => origin.trim()).filter((origin) => origin !== '')
  const any = list.includes('*')

  // The hub's routes (every method but the preflight's OPTIONS) get their headers from the hook below.
  fastify.addHook('onRoute', (route) => {
    const methods = Array.isArray(route.method) ? route.method : [route.method]
    if (!methods.includes('OPTIONS')) route.config = { ...route.config, cors: false }
  })

  fastify.addHook('onRequest', (request, reply, done) => {
    if (request.raw.method !== 'OPTIONS') {
      if (request.routeOptions.config.cors === false) addCorsHeaders(reply, request.headers.origin)
      return done()
    }
    // @fastify/cors answers an OPTIONS that is no preflight in plain text; this hook, which runs
    // before its own, answers it in the hub's error format.
    const { origin, 'access-control-request-method': method } = request.headers
    if (origin !== undefined && method !== undefined) return done()
    done(notPreflight())
  })

  function addCorsHeaders (reply: FastifyReply, origin: string | undefined): void {
    if (any) {
      reply.header('access-control-allow-origin', '*')
    } else {
      // The answer depends on the origin: caches keep one per origin.
      const vary = reply.getHeader('vary')
      if (vary === undefined) reply.header('vary', 'Origin')
      else if (!VARIES_BY_ORIGIN.test(String(vary))) reply.header('vary', `${String(vary)}, Origin`)
      if (origin !== undefined && list.includes(origin)) reply.header('access-control-allow-origin', origin)
      reply.header('access-control-allow-credentials', 'true')
    }
    reply.header('access-control-expose-headers', EXPOSED_HEADERS)
  }

  await fastify.register(cors, {
    origin: any ? '*' : list,
    // Cookies (sse_hub_token) cross origins only to listed origins: browsers never send them to `*`.
    credentials: !any,
    methods: ['GET', 'POST'],
    allowedHeaders: ALLOWED_HEADERS,
    exposedHeaders: EXPOSED_HEADERS
  })
}, { name: 'sse-hub-cors', fastify: '5.x' })
