/**
 * Helpers of the authoring tests: the real service over HTTP (test/edge/server.ts) and supabase-js clients
 * acting as users with their own JWTs.
 */
import { createClient, type SupabaseClient } from "@supabase/supabase-js"
import { Effect } from "effect"
import { anonKey, baseUrl, userToken } from "../edge/server.ts"

export const alice = "a11ce000-0000-4000-8000-0000000000a1"
export const bob = "b0b00000-0000-4000-8000-0000000000b2"
export const carol = "ca201000-0000-4000-8000-0000000000c3"
export const dave = "da7e0000-0000-4000-8000-0000000000d4"

export interface User {
  readonly id: string
  readonly token: string
  readonly client: SupabaseClient
}

/** A supabase-js client for `userId` against the running service. */
export const userClient = (userId: string) =>
  Effect.gen(function*() {
    const url = yield* baseUrl
    const key = yield* Effect.promise(anonKey)
    const token = yield* Effect.promise(() => userToken(userId))
    const client = createClient(url, key, {
      auth: { persistSession: false, autoRefreshToken: false },
      global: { headers: { Authorization: `Bearer ${token}` } }
    })
    return { id: userId, token, client } satisfies User
  })

/** Runs a supabase-js call. */
export const call = <A>(f: () => PromiseLike<A>) => Effect.promise(async () => await f())

/** A raw fetch against the service with a user's token. */
export const rest = (user: User, path: string, init: { readonly method?: string; readonly body?: unknown; readonly headers?: Record<string, string> } = {}) =>
  Effect.gen(function*() {
    const url = yield* baseUrl
    return yield* Effect.promise(async () => {
      const response = await fetch(`${url}${path}`, {
        method: init.method ?? "GET",
        headers: { authorization: `Bearer ${user.token}`, "content-type": "application/json", ...init.headers },
        ...(init.body === undefined ? {} : { body: typeof init.body === "string" ? init.body : JSON.stringify(init.body) })
      })
      const text = await response.text()
      let json: unknown = undefined
      try {
        json = text === "" ? undefined : JSON.parse(text)
      } catch {
        json = text
      }
      return { status: response.status, headers: response.headers, json }
    })
  })

/** A minimal valid COGO UI JSON widget tree. */
export const tree = (data: string) => ({ type: "Column", id: "root", children: [{ type: "Text", id: "t1", data }, { type: "SizedBox", id: "gap", height: 8 }] })
