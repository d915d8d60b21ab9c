import { createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { ConfigError } from '../base/errors.js'

/** The JWT algorithms a shared secret verifies: the HMAC family, never an asymmetric one. */
export const HMAC_ALGORITHMS = ['HS256', 'HS384', 'HS512'] as const

/** Algorithms of a public or private key. */
export type AsymmetricAlgorithm = 'RS256' | 'RS384' | 'RS512' | 'ES256' | 'ES384' | 'ES512'

/** An EC key verifies exactly one algorithm, the one of its curve (RFC 7518 §3.4). */
const EC_ALGORITHMS: Record<string, AsymmetricAlgorithm> = {
  prime256v1: 'ES256',
  secp384r1: 'ES384',
  secp521r1: 'ES512'
}

const RSA_ALGORITHMS: readonly AsymmetricAlgorithm[] = ['RS256', 'RS384', 'RS512']

/**
 * A PEM key given as its text or as the path of a file holding it (a PEM does not fit well in a
 * command-line flag). Returns the PEM text.
 * @param label the option as the user spelled it, for the error message
 */
export function readPem (value: string, label: string): string {
  if (value.includes('-----BEGIN ')) return value
  try {
    return readFileSync(value, 'utf8')
  } catch (err) {
    throw new ConfigError(`invalid ${label}: neither a PEM key nor a readable file (${(err as NodeJS.ErrnoException).code ?? 'unreadable'})`)
  }
}

/**
 * Checks a verification key and returns its PEM text. Only RSA and EC public keys are taken: a
 * private key is refused, so that a hub never holds what can sign tokens.
 */
export function publicKeyPem (value: string, label: string): string {
  const pem = readPem(value, label)
  if (/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(pem)) {
    throw new ConfigError(`invalid ${label}: this is a private key; the hub needs only the public key (the private one stays with the token tool)`)
  }
  let key: KeyObject
  try {
    key = createPublicKey(pem)
  } catch (err) {
    throw new ConfigError(`invalid ${label}: not a PEM public key (${(err as Error).message})`)
  }
  keyAlgorithms(key, label)
  return pem
}

/** Reads a signing key (PEM text or file) for the token tool. */
export function privateKey (value: string, label: string): KeyObject {
  const pem = readPem(value, label)
  try {
    return createPrivateKey(pem)
  } catch (err) {
    throw new ConfigError(`invalid ${label}: not a PEM private key (${(err as Error).message})`)
  }
}

/**
 * The algorithms a key may be used with: RS256/384/512 for RSA, the curve's ES algorithm for EC.
 * Anything else (Ed25519, DSA, ...) is a configuration error naming the option.
 */
export function keyAlgorithms (key: KeyObject, label: string): readonly AsymmetricAlgorithm[] {
  if (key.asymmetricKeyType === 'rsa') return RSA_ALGORITHMS
  if (key.asymmetricKeyType === 'ec') {
    const algorithm = EC_ALGORITHMS[key.asymmetricKeyDetails?.namedCurve ?? '']
    if (algorithm !== undefined) return [algorithm]
    throw new ConfigError(`invalid ${label}: EC curve ${key.asymmetricKeyDetails?.namedCurve ?? 'unknown'} is not supported (P-256, P-384 or P-521)`)
  }
  throw new ConfigError(`invalid ${label}: a ${key.asymmetricKeyType ?? 'unknown'} key is not supported; use an RSA key (RS256) or an EC key (ES256)`)
}
