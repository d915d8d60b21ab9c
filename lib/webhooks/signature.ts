import { createHmac, timingSafeEqual } from 'node:crypto'

/** The `X-SSE-Hub-Signature` of a webhook body sent at `time` (unix seconds): `t=<time>,v1=<hex HMAC-SHA256 of "<time>.<body>">`. */
export function webhookSignature (secret: string, time: number, body: string): string {
  return `t=${time},v1=${createHmac('sha256', secret).update(`${time}.${body}`).digest('hex')}`
}

/**
 * For a receiver: true when `header` is the signature of `body` with `secret`, made at most
 * `tolerance` seconds from now (a replayed old request fails). Compares in constant time.
 */
export function verifyWebhookSignature (secret: string, header: string | undefined, body: string, tolerance = 300): boolean {
  const match = /^t=(\d+),v1=([0-9a-f]{64})$/.exec(header ?? '')
  if (match === null) return false
  const time = Number(match[1])
  if (Math.abs(Date.now() / 1000 - time) > tolerance) return false
  const expected = Buffer.from(webhookSignature(secret, time, body).slice(match[1].length + 6), 'hex')
  return timingSafeEqual(expected, Buffer.from(match[2], 'hex'))
}
