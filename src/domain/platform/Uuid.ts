/** UUIDs as the edge accepts them (any version, either case): checked before they reach SQL or a cast. */
import { Schema } from "effect"

export const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

export const isUuid = (value: string): boolean => uuidPattern.test(value)

export const UuidString = Schema.String.check(Schema.isPattern(uuidPattern))
