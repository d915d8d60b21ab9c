import { createHmac, generateKeyPairSync, randomBytes, sign } from 'node:crypto'
import { createSigner } from 'fast-jwt'

/** A PEM key pair. */
export interface KeyPair {
  publicKey: string
  privateKey: string
}

const rsaPair = (): KeyPair => generateKeyPairSync('rsa', {
  modulusLength: 2048, publicKeyEncoding: { type: 'spki', format: 'pem' }, privateKeyEncoding: { type: 'pkcs8', format: 'pem' }
})
const ecPair = (namedCurve: string): KeyPair => generateKeyPairSync('ec', {
  namedCurve, publicKeyEncoding: { type: 'spki', format: 'pem' }, privateKeyEncoding: { type: 'pkcs8', format: 'pem' }
})

/** Real key material, made for this test run. */
export const keys = {
  secret: randomBytes(32).toString('hex'),
  otherSecret: randomBytes(32).toString('hex'),
  rsa: rsaPair(),
  otherRsa: rsaPair(),
  ec: ecPair('P-256'),
  otherEc: ecPair('P-256'),
  ec384: ecPair('P-384'),
  ed25519: generateKeyPairSync('ed25519', { publicKeyEncoding: { type: 'spki', format: 'pem' }, privateKeyEncoding: { type: 'pkcs8', format: 'pem' } }) as KeyPair
}

type Algorithm = 'HS256' | 'HS384' | 'RS256' | 'PS256' | 'ES256' | 'ES384'

/** A JWT signed by fast-jwt. `payload` may carry `exp`/`nbf` (seconds) to make it expired or not yet valid. */
export function mint (key: string, payload: Record<string, unknown>, algorithm?: Algorithm): string {
  return createSigner({ key, algorithm })(payload)
}

const b64 = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64url')

/**
 * A JWT built by hand, for what no honest signer makes: `alg: none`, an HMAC over the RSA public
 * key (the algorithm-confusion attack), a header that lies.
 */
export function forge (header: Record<string, unknown>, payload: Record<string, unknown>, signer?: (input: string) => Buffer): string {
  const input = `${b64(header)}.${b64(payload)}`
  return `${input}.${signer === undefined ? '' : signer(input).toString('base64url')}`
}

/** HMAC-SHA256 with any key, e.g. a public key's PEM text. */
export function hmac (key: string): (input: string) => Buffer {
  return (input) => createHmac('sha256', key).update(input).digest()
}

/** RS256 with a private key. */
export function rs256 (privateKey: string): (input: string) => Buffer {
  return (input) => sign('sha256', Buffer.from(input), privateKey)
}

/** The token with its payload replaced and its signature kept. */
export function tamper (token: string, payload: Record<string, unknown>): string {
  const [header, , signature] = token.split('.')
  return `${header}.${b64(payload)}.${signature}`
}

/** Seconds since the epoch, as `exp` and `nbf` count. */
export function now (): number {
  return Math.floor(Date.now() / 1000)
}

/** `Authorization: Bearer <token>` */
export function bearer (token: string): { authorization: string } {
  return { authorization: `Bearer ${token}` }
}
