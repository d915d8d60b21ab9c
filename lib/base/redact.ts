/**
 * Keeps credentials out of the logs. Fastify logs each request's URL, and a subscriber's JWT
 * travels in its query (`?token=`), because EventSource cannot send headers. Headers (Bearer,
 * cookie) are not logged by the serializer below at all.
 */

/**
 * `token=<value>` after `?`, `&` or `;`, the separators spelled out or percent-encoded, and the
 * key's letters percent-encoded or not (`%74oken=`): wherever it stands, in the path, the query
 * or inside another parameter's value (`?channels=a?token=...`), the value is a credential. It
 * runs to the next `&`, as the query parser reads it: a raw `"`, `#` or `;` is part of the token.
 */
const TOKEN_PARAM = /((?:[?&;]|%3f|%26|%3b)(?:t|%74)(?:o|%6f)(?:k|%6b)(?:e|%65)(?:n|%6e)(?:=|%3d))[^&]*/gi

/** The text with the value of every `token` parameter in it replaced by `[redacted]`. */
export function redactUrl (url: string): string {
  return url.replace(TOKEN_PARAM, '$1[redacted]')
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
