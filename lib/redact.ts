/**
 * Keeps credentials out of the logs. Fastify logs each request's URL, and a subscriber's JWT
 * travels in its query (`?token=`), because EventSource cannot send headers. Headers (Bearer,
 * cookie) are not logged by the serializer below at all.
 */

/** The URL with the value of every `token` query parameter replaced by `[redacted]`. */
export function redactUrl (url: string): string {
  const query = url.indexOf('?')
  if (query < 0) return url
  // Each key is decoded as the query parser decodes it, so that `%74oken=` is caught too.
  const params = url.slice(query + 1).split('&').map((param) => {
    const eq = param.indexOf('=')
    const key = eq < 0 ? param : param.slice(0, eq)
    return eq >= 0 && decodeKey(key) === 'token' ? `${key}=[redacted]` : param
  })
  return `${url.slice(0, query)}?${params.join('&')}`
}

function decodeKey (key: string): string {
  try {
    return decodeURIComponent(key.replaceAll('+', ' '))
  } catch {
    return key
  }
}

/** What a request serializer sees of a Fastify request. */
interface LoggedRequest {
  method: string
  url: string
  host?: string
  ip?: string
  socket?: { remotePort?: number }
}

/**
 * The `req` log serializer of the hub's routes (and of the `sse-hub` server): Fastify's default
 * fields, with the URL redacted.
 */
export function redactedRequest (request: LoggedRequest): Record<string, unknown> {
  return {
    method: request.method,
    url: redactUrl(request.url),
    host: request.host,
    remoteAddress: request.ip,
    remotePort: request.socket?.remotePort
  }
}
