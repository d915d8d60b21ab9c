import { readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'

/**
 * The package's version, from the package.json of `fastify-sse-hub` found going up from this file
 * (the repository's root from the source tree, the package's root from `dist/`); `unknown` if none.
 */
export function packageVersion (): string {
  for (let dir = import.meta.dirname, depth = 0; depth < 4; dir = dirname(dir), depth++) {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: string, version?: string }
      if (pkg.name === 'fastify-sse-hub' && pkg.version !== undefined) return pkg.version
    } catch {}
  }
  return 'unknown'
}
