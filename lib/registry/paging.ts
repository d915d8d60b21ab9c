import { badCursor, badLimit } from '../base/errors.js'
import { isChannelName } from '../base/rules.js'

/** The largest page, and the size of a page when none is asked for. */
export const MAX_PAGE_SIZE = 1000

/** A page request: the page size and where the previous page ended. */
export interface PageQuery {
  /** 1..1000; default 1000. */
  limit?: number
  /** `nextCursor` of the previous page; absent for the first. */
  cursor?: string
}

/**
 * The page size from a number (an embedding app) or the text of a query string (a route).
 * Throws a 400 naming the value unless it is an integer from 1 to 1000; undefined is the default.
 */
export function pageLimit (value: number | string | undefined): number {
  if (value === undefined) return MAX_PAGE_SIZE
  const limit = typeof value === 'string' && /^\d{1,7}$/.test(value) ? Number(value) : value
  if (typeof limit === 'number' && Number.isInteger(limit) && limit >= 1 && limit <= MAX_PAGE_SIZE) return limit
  throw badLimit(value, MAX_PAGE_SIZE)
}

/**
 * The cursor after `key`. Opaque (base64url) so that clients pass it back rather than build one:
 * a cluster-wide registry may page differently.
 */
export function encodeCursor (key: string): string {
  return Buffer.from(key, 'utf8').toString('base64url')
}

/**
 * The key a cursor of `encodeCursor` stands for; undefined for the first page. Anything a
 * previous page cannot have returned (not base64url, not a name) is a 400 naming the value.
 */
export function decodeCursor (cursor: string | undefined): string | undefined {
  if (cursor === undefined) return undefined
  const key = typeof cursor === 'string' && /^[A-Za-z0-9_-]{1,172}$/.test(cursor) ? Buffer.from(cursor, 'base64url').toString('utf8') : undefined
  if (key === undefined || !isChannelName(key) || encodeCursor(key) !== cursor) {
    throw badCursor(cursor)
  }
  return key
}
