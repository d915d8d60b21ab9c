/**
 * TLS for the servers under test: a self-signed certificate made with openssl into the run's
 * work dir, and the client side of it (the publisher, the HTTP/1.1 subscribers over TLS and the
 * readiness probe), which trusts that certificate alone.
 */
import { execFileSync } from 'node:child_process'
import { existsSync, mkdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { connect as connectTcp } from 'node:net'
import { connect, type TLSSocket } from 'node:tls'

/** A certificate for 127.0.0.1 and localhost, as PEM files, with the PEM of the certificate (the clients' CA). */
export interface BenchCertificate {
  certPath: string
  keyPath: string
  cert: string
}

/** Makes the certificate in `<dir>/tls` once (an ECDSA P-256 key, as test/tls.ts), or reads the one there. */
export function benchCertificate (dir: string): BenchCertificate {
  const tlsDir = join(dir, 'tls')
  const certPath = join(tlsDir, 'cert.pem')
  const keyPath = join(tlsDir, 'key.pem')
  if (!existsSync(certPath) || !existsSync(keyPath)) {
    mkdirSync(tlsDir, { recursive: true })
    execFileSync('openssl', [
      'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
      '-keyout', keyPath, '-out', certPath, '-days', '2', '-subj', '/CN=localhost',
      '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1'
    ], { stdio: ['ignore', 'ignore', 'pipe'] })
  }
  return { certPath, keyPath, cert: readFileSync(certPath, 'utf8') }
}

export interface TlsDial {
  host: string
  port: number
  /** PEM of the certificate to trust. */
  ca: string
  /** `h2` or `http/1.1`, offered alone by ALPN. */
  alpn: 'h2' | 'http/1.1'
  localAddress?: string
}

/** A TLS connection, and how to end it with a RST. */
export interface TlsLink {
  socket: TLSSocket
  /** Resets the TCP connection under the TLS socket (a TLS socket cannot itself): no TIME_WAIT is left. */
  reset (): void
}

/** A TLS connection that trusts `ca` only and offers one protocol; its socket emits 'secureConnect' when ready. */
export function dialTls ({ host, port, ca, alpn, localAddress }: TlsDial): TlsLink {
  const tcp = connectTcp({ host, port, localAddress, noDelay: true })
  // The TLS socket reports the connection's errors; this one's would only repeat them.
  tcp.on('error', () => {})
  const socket = connect({ socket: tcp, host, ca, ALPNProtocols: [alpn] })
  return { socket, reset: () => tcp.resetAndDestroy() }
}

/** How subscribers reach a server: HTTP/1.1 in the clear, HTTP/1.1 over TLS, or HTTP/2 (over TLS). */
export type Transport = 'h1' | 'h1-tls' | 'h2'
