/**
 * UUIDs as every layer accepts them: the text form PostgreSQL's `uuid` type prints (8-4-4-4-12 hex digits),
 * any version and any variant bits, either case. Checked before they reach SQL or a cast.
 *
 * Deliberately NOT `Schema.isUUID()`: that one also requires an RFC 4122 version and variant, so a value
 * PostgreSQL stores and returns (e.g. `00000000-0000-0000-0000-000000000000`, or a v4 id with the variant
 * nibble `c`-`f`) would pass the database and the edge, then fail a later decode (a Figma import into a
 * project whose owner id has such bits died with `ownerId: Expected a UUID`). Values one layer accepts must be
 * accepted by the next, so every Schema of an id stored in a `uuid` column uses `Uuid` below.
 */
import { Schema } from "effect"

export const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

export const isUuid = (value: string): boolean => uuidPattern.test(value)

/** Any PostgreSQL uuid in its printed form (see above). */
export const Uuid = Schema.String.check(Schema.isPattern(uuidPattern, { expected: "a UUID" }))
