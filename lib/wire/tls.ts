import { createPrivateKey, X509Certificate } from 'node:crypto'
import { type FSWatcher, readFileSync, watch } from 'node:fs'
import { dirname } from 'node:path'
import { createSecureContext, type SecureContextOptions } from 'node:tls'
import { keyMismatch, notPem, unreadableTlsFile } from '../base/errors.js'
import type { Logger } from '../base/logger.js'

/** ms of quiet after a change of the files before they are read: a renewal writes or swaps two files. */
const SETTLE = 300

/** A certificate (chain) and its private key, checked to belong together. */
export interface CertificatePair {
  cert: Buffer
  key: Buffer
  /** The certificate's serial number (hex), for the logs. */
  serial: string
  /** When it expires, as the certificate says it. */
  validTo: string
}

/** Reads the two PEM files and checks them; throws a `CertificateError` naming the file at fault. */
export function readCertificate (certPath: string, keyPath: string): CertificatePair {
  const cert = readTlsFile('tlsCert', certPath)
  const key = readTlsFile('tlsKey', keyPath)
  let x509
  try {
    x509 = new X509Certificate(cert)
  } catch {
    throw notPem('tlsCert', certPath)
  }
  let privateKey
  try {
    privateKey = createPrivateKey(key)
  } catch {
    throw notPem('tlsKey', keyPath)
  }
  if (!x509.checkPrivateKey(privateKey)) throw keyMismatch(certPath, keyPath)
  // What the server will do with them: any other problem shows now, not at a client's handshake.
  createSecureContext({ cert, key })
  return { cert, key, serial: x509.serialNumber, validTo: x509.validTo }
}

function readTlsFile (option: 'tlsCert' | 'tlsKey', path: string): Buffer {
  try {
    return readFileSync(path)
  } catch (err) {
    throw unreadableTlsFile(option, path, (err as NodeJS.ErrnoException).code ?? (err as Error).message)
  }
}

/** The part of a TLS server a reload needs. */
export interface SecureServer {
  setSecureContext (options: SecureContextOptions): void
}

/**
 * Keeps a TLS server's certificate up to date with its files: `reload()` (on SIGHUP) and, once
 * `watch()` was called, any change in the files' directories (a renewal that rewrites them, or
 * replaces them by rename or by swapping a symlink) reads them again. A pair that is unreadable,
 * half-written or mismatched is refused and the certificate in use stays. A new certificate
 * serves the handshakes from then on; connections already open keep theirs.
 */
export class CertificateReloader {
  private watchers: FSWatcher[] = []
  private timer: NodeJS.Timeout | undefined

  constructor (
    private readonly server: SecureServer,
    private readonly certPath: string,
    private readonly keyPath: string,
    private current: CertificatePair,
    private readonly log: Logger
  ) {}

  /** The pair in use. */
  get certificate (): CertificatePair {
    return this.current
  }

  /** Reads the files; a new, valid pair goes into use. Throws, leaving the pair in use, when they cannot be used. @returns whether it changed */
  reload (): boolean {
    const pair = readCertificate(this.certPath, this.keyPath)
    if (pair.cert.equals(this.current.cert) && pair.key.equals(this.current.key)) return false
    this.server.setSecureContext({ cert: pair.cert, key: pair.key })
    this.current = pair
    this.log.info(`TLS certificate serial ${pair.serial} (valid until ${pair.validTo}) in use for new connections`)
    return true
  }

  /** Watches the directories of the two files (a file watched itself is lost when a renewal renames another over it). */
  watch (): void {
    for (const dir of new Set([dirname(this.certPath), dirname(this.keyPath)])) {
      const watcher = watch(dir, { persistent: false }, this.changed)
      watcher.on('error', (err) => { this.log.warn(`cannot watch ${dir} for certificate renewals (${err.message}); SIGHUP still reloads`) })
      this.watchers.push(watcher)
    }
  }

  private readonly changed = (): void => {
    clearTimeout(this.timer)
    this.timer = setTimeout(this.settled, SETTLE).unref()
  }

  private readonly settled = (): void => {
    try {
      this.reload()
    } catch (err) {
      this.log.warn(`the TLS files changed but cannot be used (${(err as Error).message}); the certificate in use stays`)
    }
  }

  close (): void {
    clearTimeout(this.timer)
    for (const watcher of this.watchers) watcher.close()
    this.watchers = []
  }
}
