/**
 * A Postgres array literal of ids (uuids or integers: no quoting needed), for `= ANY($1::uuid[])`. Batch
 * lookups use `= ANY(array)` rather than a join against a set-returning function: with statistics that
 * still describe an empty table (a first big import), the join was planned as a nested loop over a scan
 * (measured: minutes per batch); `= ANY` degrades to one hashed scan at worst.
 */
export const idArray = (ids: Iterable<string | number>): string => `{${[...ids].join(",")}}`
