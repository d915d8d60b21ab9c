import { createHash } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'

/** At the root of the hub's routes (its prefix): `<prefix>/client.js`, whose imports sit beside it. */
export const autoPrefix = ''

/** The browser client's modules, in client/ at the package's root (dist/client/ once built). */
const CLIENT_FILES = ['client.js', 'client-stream.js', 'client-share.js'] as const

/** The client's folder: two levels up from this file, in the sources as in dist/. */
const CLIENT_DIR = join(import.meta.dirname, '..', '..', 'client')

/**
 * `GET <prefix>/client.js` and the two modules it imports: the hub's browser client, as the
 * package exports it (`fastify-sse-hub/client`), so a page imports it from the hub without a
 * bundler. Open to anyone (code, no data), with the hub's CORS headers like its other routes.
 * Always revalidated (an ETag makes that a 304): the three modules must come from one version.
 */
const client: FastifyPluginAsyncTypebox = async (fastify) => {
  for (const name of CLIENT_FILES) {
    const text = await readFile(join(CLIENT_DIR, name), 'utf8')
    const etag = `"${createHash('sha256').update(text).digest('base64url').slice(0, 27)}"`
    // Code, not part of the API: the API documentation leaves it out.
    fastify.get(`/${name}`, { schema: { hide: true } }, async (request, reply) => {
      reply
        .type('text/javascript; charset=utf-8')
        .header('cache-control', 'public, no-cache')
        .header('etag', etag)
        .header('x-content-type-options', 'nosniff')
      if (matches(request.headers['if-none-match'], etag)) return reply.code(304).send()
      return reply.send(text)
    })
  }
}

/** Whether an `If-None-Match` header names `etag` (or is `*`). */
function matches (header: string | undefined, etag: string): boolean {
  if (header === undefined) return false
  return header.split(',').some((tag) => {
    const value = tag.trim()
    return value === '*' || value === etag || value === `W/${etag}`
  })
}

export default client
