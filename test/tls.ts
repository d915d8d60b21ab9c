import { execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

/** A self-signed certificate for `localhost` and `127.0.0.1`, as PEM files in a temporary directory. */
export interface TestCertificate {
  /** The directory holding `cert.pem` and `key.pem`. */
  dir: string
  certPath: string
  keyPath: string
  cert: string
  key: string
  /** Replaces the files with a new certificate (another serial and key), as a renewal would; returns its PEM. */
  renew (): string
  /** Removes the directory. */
  remove (): void
}

/**
 * Makes a certificate with `openssl` (an ECDSA P-256 key, valid for two days, for `localhost`,
 * `127.0.0.1` and `::1`). Clients trust it by taking `cert` as their CA, or, for Chromium, by
 * ignoring certificate errors.
 */
export function testCertificate (t?: { teardown (fn: () => unknown): void }): TestCertificate {
  const dir = mkdtempSync(join(tmpdir(), 'sse-hub-tls-'))
  const certPath = join(dir, 'cert.pem')
  const keyPath = join(dir, 'key.pem')
  const make = (): void => {
    execFileSync('openssl', [
      'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
      '-keyout', keyPath, '-out', certPath, '-days', '2', '-subj', '/CN=localhost',
      '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1'
    ], { stdio: ['ignore', 'ignore', 'pipe'] })
  }
  make()
  const certificate: TestCertificate = {
    dir,
    certPath,
    keyPath,
    cert: readFileSync(certPath, 'utf8'),
    key: readFileSync(keyPath, 'utf8'),
    renew () {
      make()
      certificate.cert = readFileSync(certPath, 'utf8')
      certificate.key = readFileSync(keyPath, 'utf8')
      return certificate.cert
    },
    remove () { rmSync(dir, { recursive: true, force: true }) }
  }
  t?.teardown(() => certificate.remove())
  return certificate
}
