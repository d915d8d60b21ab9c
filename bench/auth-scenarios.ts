/**
 * The setups of the auth scenarios (A1, A2): the hub verifying a JWT per subscriber
 * (`jwtSecret` + `subscribeAuth`), or asking the bench's app on each subscribe (`authUrl`,
 * auth-app.ts, on the servers' core), each subscriber with a credential of its own or all with
 * one; and what A2 does while the streams are open (auth-holds.ts).
 */
import { spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { openSync } from 'node:fs'
import { join } from 'node:path'
import type { AppStats } from './auth-app.js'
import { type AuthApp, type HubAuthCounts, hubAuthCounts, renewalHold, type Renewals, revocationHold, type Revocation } from './auth-holds.js'
import type { Credential } from './credentials.js'
import type { LoadOptions } from './load.js'
import { freePort, pinned, REPO, type Server, type StartOptions, startHub, stopChild, track, waitUntilUp } from './servers.js'

export type AuthSetupName = 'hub-jwt' | 'hub-jwt-shared' | 'hub-app' | 'hub-app-shared'

interface AuthSetup {
  kind: 'jwt' | 'app'
  /** Every subscriber with the same credential. */
  shared: boolean
  /** Its column's header. */
  header: string
}

export const AUTH_SETUPS: Record<AuthSetupName, AuthSetup> = {
  'hub-jwt': { kind: 'jwt', shared: false, header: 'JWT' },
  'hub-jwt-shared': { kind: 'jwt', shared: true, header: 'JWT, shared' },
  'hub-app': { kind: 'app', shared: false, header: 'callback' },
  'hub-app-shared': { kind: 'app', shared: true, header: 'callback, shared' }
}

export function isAuthSetup (name: string): name is AuthSetupName {
  return Object.hasOwn(AUTH_SETUPS, name)
}

/** A column's header: the setup's, or `no auth` for the plain hub. */
export function authHeaderOf (name: string): string {
  return isAuthSetup(name) ? AUTH_SETUPS[name].header : 'no auth'
}

/** What an A scenario's app grants, and what happens once the streams are open. */
export interface AuthPlan {
  /** Seconds a grant of the app lasts. */
  ttl: number
  /** `withdraw`: the app withdraws every grant, the hold lasts until the streams ended; `keep`: it grants on for the hold. */
  then?: 'withdraw' | 'keep'
}

export interface AuthFigures {
  /** The app's counts after the run. */
  app?: AppStats['calls']
  hub?: HubAuthCounts
  revocation?: Revocation
  renewals?: Renewals
}

/** The app (auth-app.ts) from source, pinned as the hub is (to the servers' core). */
export async function startAuthApp (options: StartOptions, sessions: number, ttl: number): Promise<AuthApp> {
  const port = await freePort(19490)
  const log = join(options.workDir, `auth-app-${port}.log`)
  const entry = join(REPO, 'bench', 'auth-app.ts')
  const [command, args] = pinned(options.core, process.execPath,
    ['--import', 'tsx', entry, '--port', String(port), '--sessions', String(sessions), '--ttl', String(ttl)])
  const fd = openSync(log, 'a')
  const child = spawn(command, args, { cwd: REPO, stdio: ['ignore', fd, fd] })
  track(child)
  await waitUntilUp(port, child, '/health', log)
  const base = `http://127.0.0.1:${port}`
  return {
    url: `${base}/auth`,
    pid: child.pid as number,
    stats: async (expiries = false) => await (await fetch(`${base}/stats${expiries ? '?expiries=1' : ''}`)).json() as AppStats,
    withdraw: async () => await (await fetch(`${base}/withdraw`, { method: 'POST' })).json() as AppStats,
    stop: () => stopChild(child)
  }
}

/** An auth setup, running: the hub, the app it asks, and what the load adds for them. */
export interface AuthDeployment {
  hub: Server
  load: Pick<LoadOptions, 'credential' | 'appPid' | 'hold'>
  figures (): Promise<AuthFigures>
  stop (): Promise<void>
}

/** Starts the hub of `name` (and its app), ready for `subscribers` subscribers under `plan`. */
export async function deployAuth (name: AuthSetupName, plan: AuthPlan, subscribers: number, duration: number, start: StartOptions): Promise<AuthDeployment> {
  const setup = AUTH_SETUPS[name]
  if (setup.kind === 'jwt') {
    const secret = randomBytes(24).toString('hex')
    const hub = await startHub({ ...start, env: { SSE_HUB_JWT_SECRET: secret, SSE_HUB_SUBSCRIBE_AUTH: 'true' } })
    const credential: Credential = { kind: 'jwt', secret, shared: setup.shared }
    return { hub, load: { credential }, figures: async () => ({}), stop: () => hub.stop() }
  }
  const app = await startAuthApp(start, subscribers, plan.ttl)
  let hub: Server
  try {
    hub = await startHub({ ...start, env: { SSE_HUB_AUTH_URL: app.url } })
  } catch (err) {
    await app.stop()
    throw err
  }
  const figures: AuthFigures = {}
  const hold = plan.then === 'withdraw'
    ? revocationHold(hub, app, figures)
    : plan.then === 'keep' ? renewalHold(hub, app, duration, figures) : undefined
  return {
    hub,
    load: { credential: { kind: 'cookie', shared: setup.shared }, appPid: app.pid, hold },
    figures: async () => ({ ...figures, app: (await app.stats()).calls, hub: await hubAuthCounts(hub) }),
    stop: async () => {
      await hub.stop()
      await app.stop()
    }
  }
}
