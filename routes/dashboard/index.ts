import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { Type } from '@sinclair/typebox'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { FastifyReply } from 'fastify'

/** At the root of the hub's routes (its prefix), not under `/dashboard`. */
export const autoPrefix = ''

/** The page's own files, beside this one (copied into dist/ by the build), served at `dashboard/<name>`. */
const FILES: Record<string, string> = {
  'app.js': 'text/javascript; charset=utf-8',
  'view.js': 'text/javascript; charset=utf-8',
  'style.css': 'text/css; charset=utf-8'
}

/**
 * The page may load its own scripts and style and talk to its own origin, nothing else: no
 * inline script or style, no other site, no framing, no form posted anywhere (the forms are
 * handled by the script). The favicon is an empty `data:` URL.
 */
const CONTENT_SECURITY_POLICY = [
  "default-src 'none'", "script-src 'self'", "style-src 'self'", "connect-src 'self'", 'img-src data:',
  "base-uri 'none'", "form-action 'none'", "frame-ancestors 'none'"
].join('; ')

/** Headers of the page and its files: they hold no data, but must never be sniffed, framed or cached stale. */
function pageHeaders (reply: FastifyReply, type: string): FastifyReply {
  return reply
    .type(type)
    .header('content-security-policy', CONTENT_SECURITY_POLICY)
    .header('x-content-type-options', 'nosniff')
    .header('referrer-policy', 'no-referrer')
    .header('cache-control', 'no-cache')
}

/**
 * `GET /` (under the hub's prefix, `GET /hub/`): the live dashboard, a static page with its
 * scripts and style at `dashboard/*`. It holds no data and is open to anyone; everything it shows
 * comes from guarded reads (`/stats`, `/channels`, `/clients`, `/presence`, `/firehose`) with the
 * token the operator types in, which the page asks for unless the hub is `insecure`. Its URLs are
 * relative, so under a prefix `/hub` (no slash) redirects to `hub/`, where they resolve inside it.
 */
const dashboard: FastifyPluginAsyncTypebox = async (fastify) => {
  const read = (name: string): Promise<string> => readFile(join(import.meta.dirname, name), 'utf8')
  const page = (await read('page.html')).replace('data-auth=""', `data-auth="${fastify.hubInsecure ? 'none' : 'token'}"`)
  const files = new Map(await Promise.all(Object.keys(FILES).map(async (name) => [name, await read(name)] as const)))

  // A page, not part of the API: the API documentation leaves it out.
  fastify.get('/', { schema: { hide: true } }, async (request, reply) => {
    const [path, query] = splitUrl(request.url)
    // Relative, so that it holds behind a proxy that rewrites the path: `/hub` → `hub/`.
    if (!path.endsWith('/')) return reply.redirect(`${path.slice(path.lastIndexOf('/') + 1)}/${query}`, 301)
    return pageHeaders(reply, 'text/html; charset=utf-8').send(page)
  })

  fastify.get('/dashboard/:file', {
    schema: { hide: true, params: Type.Object({ file: Type.String({ description: 'one of the page\'s files' }) }) }
  }, async (request, reply) => {
    const { file } = request.params
    const text = files.get(file)
    if (text === undefined) return reply.callNotFound()
    return pageHeaders(reply, FILES[file]).send(text)
  })
}

/** A request URL's path and its query (with its `?`, or empty). */
function splitUrl (url: string): [string, string] {
  const mark = url.indexOf('?')
  return mark < 0 ? [url, ''] : [url.slice(0, mark), url.slice(mark)]
}

export default dashboard
