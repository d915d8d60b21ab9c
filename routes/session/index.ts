import { Type } from '@sinclair/typebox'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { FastifyRequest } from 'fastify'
import { bearerToken, TOKEN_COOKIE } from '../../lib/auth/auth.js'
import { errorResponses } from '../../lib/core/schemas.js'

/**
 * `POST /session` and `DELETE /session`: a browser's subscriber token as an HttpOnly cookie, so
 * that a plain `EventSource(url, { withCredentials: true })` carries it and no `?token=` puts it in
 * a URL, where proxies and browser histories keep it. The cookie's path is the hub's prefix and it
 * lasts no longer than the token; over TLS it is `Secure; SameSite=None`, so that a page of another
 * site that CORS lets in (a listed origin) sends it too; over plain HTTP browsers refuse
 * `SameSite=None`, and `Lax` sends it from pages of the same site (any port).
 */
const session: FastifyPluginAsyncTypebox = async (fastify) => {
  // This module is mounted at `<prefix>/session`: the cookie goes to every route of the hub.
  const path = fastify.prefix.slice(0, -'/session'.length) || '/'

  const cookie = (request: FastifyRequest, value: string, maxAge: number | undefined): string => {
    const attributes = [`${TOKEN_COOKIE}=${value}`, `Path=${path}`, 'HttpOnly']
    if (maxAge !== undefined) attributes.push(`Max-Age=${maxAge}`)
    attributes.push(...request.protocol === 'https' ? ['Secure', 'SameSite=None'] : ['SameSite=Lax'])
    return attributes.join('; ')
  }

  fastify.post('/', {
    config: { access: 'session' },
    schema: {
      operationId: 'postSession',
      summary: 'Keep a subscriber JWT (Authorization: Bearer) as the HttpOnly cookie sse_hub_token',
      response: {
        204: Type.Null({ description: 'the cookie is set: Set-Cookie sse_hub_token, HttpOnly, path the hub\'s prefix, Max-Age the token\'s remaining lifetime (a session cookie for a token without exp); Secure and SameSite=None over TLS, SameSite=Lax over plain HTTP' }),
        ...errorResponses({
          401: 'no Bearer token, the static publish token, or an invalid or expired JWT; with WWW-Authenticate'
        })
      }
    }
  }, async (request, reply) => {
    // The access check verified this very token.
    const token = bearerToken(request.headers.authorization) as string
    const expiresAt = request.hubTokenExpiresAt
    const maxAge = expiresAt === undefined ? undefined : Math.max(0, Math.floor((expiresAt - Date.now()) / 1000))
    return reply.code(204).header('cache-control', 'no-store').header('set-cookie', cookie(request, token, maxAge)).send(null)
  })

  fastify.delete('/', {
    schema: {
      operationId: 'deleteSession',
      tags: ['subscribers'],
      summary: 'Clear the cookie sse_hub_token',
      response: {
        204: Type.Null({ description: 'the cookie is cleared (Max-Age=0), whether or not one was set' })
      }
    }
  }, async (request, reply) => {
    return reply.code(204).header('cache-control', 'no-store').header('set-cookie', cookie(request, '', 0)).send(null)
  })
}

export default session
