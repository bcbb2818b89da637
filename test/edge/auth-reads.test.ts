import { assert, layer } from "@effect/vitest"
import { createClient } from "@supabase/supabase-js"
import { Effect } from "effect"
import { SqlClient } from "effect/sql/SqlClient"
import * as jose from "jose"
import { Database, DbRole, sqlStateOf } from "../../src/services/platform/Database.ts"
import { isSqlError } from "effect/sql/SqlError"
import { seedOwnedPages } from "./restSeed.ts"
import { anonKey, baseUrl, EdgeServerLive, serviceRoleKey, signToken, userToken } from "./server.ts"

const alice = "a11ce000-0000-4000-8000-000000000001"
const bob = "b0b00000-0000-4000-8000-000000000002"

const seed = seedOwnedPages({ alice, bob }, [{ suffix: "home", route: "/" }, { suffix: "about", route: "/about" }])

const get = (url: string, init: RequestInit = {}) => Effect.promise(() => fetch(url, init))

layer(EdgeServerLive(), { excludeTestServices: true })("edge auth, CORS, limits and PostgREST reads", (it) => {
  it.effect("supabase-js .from('pages').select() under two users' JWTs: each sees only their rows", () =>
    Effect.gen(function*() {
      yield* seed
      const url = yield* baseUrl
      const key = yield* Effect.promise(anonKey)
      const clientFor = (token: string) =>
        createClient(url, key, { auth: { persistSession: false, autoRefreshToken: false }, global: { headers: { Authorization: `Bearer ${token}` } } })
      const aliceClient = clientFor(yield* Effect.promise(() => userToken(alice)))
      const bobClient = clientFor(yield* Effect.promise(() => userToken(bob)))

      const alicePages = yield* Effect.promise(async () => await aliceClient.from("pages").select("name, route").order("name"))
      assert.isNull(alicePages.error)
      assert.deepStrictEqual(alicePages.data, [{ name: "alice about", route: "/about" }, { name: "alice home", route: "/" }])
      const bobPages = yield* Effect.promise(async () => await bobClient.from("pages").select("*").order("name", { ascending: false }))
      assert.isNull(bobPages.error)
      assert.deepStrictEqual(bobPages.data?.map((p) => p["name"]), ["bob home", "bob about"])
      assert.strictEqual(typeof bobPages.data?.[0]?.["version"], "number")

      // eq / in filters, limit, single object.
      const home = yield* Effect.promise(async () => await aliceClient.from("pages").select("name").eq("route", "/").single())
      assert.isNull(home.error)
      assert.deepStrictEqual(home.data, { name: "alice home" })
      const some = yield* Effect.promise(async () => await aliceClient.from("pages").select("name").in("name", ["alice home", "bob home"]).limit(5))
      assert.deepStrictEqual(some.data, [{ name: "alice home" }])
      const notSingle = yield* Effect.promise(async () => await aliceClient.from("pages").select("name").single())
      assert.strictEqual(notSingle.status, 406)
      assert.strictEqual(notSingle.error?.code, "PGRST116")
      // Bad input is a 400 naming the field, never a database error.
      const badUuid = yield* Effect.promise(async () => await aliceClient.from("pages").select("name").eq("project_id", "not-a-uuid"))
      assert.strictEqual(badUuid.status, 400)
      assert.include(badUuid.error?.message ?? "", "project_id")
      const badColumn = yield* Effect.promise(async () => await aliceClient.from("pages").select("nope"))
      assert.strictEqual(badColumn.status, 400)
      const badTable = yield* Effect.promise(async () => await aliceClient.from("secrets").select())
      assert.strictEqual(badTable.status, 404)

      // The service role reads everything; an anonymous key in prod mode is refused.
      const service = yield* Effect.promise(async () => await createClient(url, serviceRoleKey, { auth: { persistSession: false } }).from("pages").select("id"))
      assert.strictEqual(service.data?.length, 4)
      const anonymous = yield* Effect.promise(async () => await createClient(url, key, { auth: { persistSession: false } }).from("pages").select("id"))
      assert.strictEqual(anonymous.status, 401)
    }))

  it.effect("reads answer PostgREST's bytes: PostgreSQL's JSON (exact bigints, jsonb text, ISO timestamps), Content-Range, single object", () =>
    Effect.gen(function*() {
      const url = yield* baseUrl
      const sql = yield* SqlClient
      const db = yield* Database
      const projectId = "5a000000-0000-4000-8000-0000000000a1"
      yield* db.withRole(DbRole.projector, Effect.gen(function*() {
        yield* sql`INSERT INTO public.projects (id, name, owner_id, settings, created_at) VALUES
          (${projectId}, 'shape "q" \\ ü', ${alice}, '{"b": [1, 2.50], "a": "x"}'::jsonb, '2026-01-02T03:04:05.123456Z')`
        yield* sql`INSERT INTO public.assets (project_id, name, size_bytes) VALUES
          (${projectId}, 'a-big', 9007199254740993), (${projectId}, 'b-none', NULL)`
      }))
      const headers = { authorization: `Bearer ${yield* Effect.promise(() => userToken(alice))}` }
      const read = (path: string, accept?: string) =>
        Effect.promise(async () => {
          const response = await fetch(`${url}/rest/v1/${path}`, { headers: accept === undefined ? headers : { ...headers, accept } })
          return { status: response.status, type: response.headers.get("content-type"), range: response.headers.get("content-range"), body: await response.text() }
        })

      const assets = yield* read(`assets?select=name,size_bytes&project_id=eq.${projectId}&order=name`)
      assert.deepStrictEqual(assets, {
        status: 200,
        type: "application/json",
        range: "0-1/*",
        body: "[{\"name\":\"a-big\",\"size_bytes\":9007199254740993}, \n {\"name\":\"b-none\",\"size_bytes\":null}]"
      })
      const second = yield* read(`assets?select=name&project_id=eq.${projectId}&order=name&offset=1`)
      assert.deepStrictEqual([second.range, second.body], ["1-1/*", "[{\"name\":\"b-none\"}]"])
      const none = yield* read(`assets?select=name&name=eq.nothing`)
      assert.deepStrictEqual([none.status, none.range, none.body], [200, "*/*", "[]"])

      const project = yield* read(`projects?select=name,settings,version,created_at&id=eq.${projectId}`, "application/vnd.pgrst.object+json")
      assert.deepStrictEqual([project.status, project.type, project.range], [200, "application/vnd.pgrst.object+json", null])
      assert.include(project.body, "{\"name\":\"shape \\\"q\\\" \\\\ ü\",\"settings\":{\"a\": \"x\", \"b\": [1, 2.50]},\"version\":1,")
      const row = JSON.parse(project.body) as Record<string, unknown>
      assert.deepStrictEqual(Object.keys(row), ["name", "settings", "version", "created_at"])
      // ISO 8601 with the microseconds and the session's offset (+00:00 on a UTC server), as PostgREST answers.
      assert.match(String(row["created_at"]), /^2026-01-0[12]T\d\d:\d\d:05\.123456[+-]\d\d:\d\d$/)
      assert.strictEqual(new Date(String(row["created_at"])).toISOString(), "2026-01-02T03:04:05.123Z")
      const many = yield* read(`assets?project_id=eq.${projectId}`, "application/vnd.pgrst.object+json")
      assert.deepStrictEqual([many.status, (JSON.parse(many.body) as { readonly details?: string }).details], [406, "The result contains 2 rows"])
    }))

  it.effect("a read is one statement (cogo.rest_read): every operator and value kind, hostile values stay values, RLS holds", () =>
    Effect.gen(function*() {
      const url = yield* baseUrl
      const sql = yield* SqlClient
      const db = yield* Database
      const projectId = "5a000000-0000-4000-8000-0000000000b2"
      yield* db.withRole(DbRole.projector, Effect.gen(function*() {
        yield* sql`INSERT INTO public.projects (id, name, owner_id) VALUES (${projectId}, 'ops', ${alice})`
        yield* sql`INSERT INTO public.assets (project_id, name, size_bytes, created_at) VALUES
          (${projectId}, 'o1', 10, '2026-01-01T00:00:00Z'), (${projectId}, 'o2', 20, '2026-01-02T00:00:00Z'),
          (${projectId}, 'o3', 30, '2026-01-03T00:00:00Z'), (${projectId}, 'o4', NULL, '2026-01-04T00:00:00Z'),
          (${projectId}, ${"o'5 $1 )::text; DROP TABLE public.assets; --"}, 50, '2026-01-05T00:00:00Z')`
      }))
      const asAlice = { authorization: `Bearer ${yield* Effect.promise(() => userToken(alice))}` }
      const asBob = { authorization: `Bearer ${yield* Effect.promise(() => userToken(bob))}` }
      const names = (query: string, headers = asAlice) =>
        Effect.promise(async () => {
          const response = await fetch(`${url}/rest/v1/assets?select=name&project_id=eq.${projectId}&order=name&${query}`, { headers })
          const body = await response.text()
          if (response.status !== 200) return `${response.status} ${body}`
          // Sorted here: the collation orders the hostile name differently on PGlite and PostgreSQL.
          return (JSON.parse(body) as ReadonlyArray<{ readonly name: string }>).map((row) => row.name).sort().join(",")
        })
      const hostile = "o'5 $1 )::text; DROP TABLE public.assets; --"
      // Expected rows written out by hand from the five inserted above.
      const cases: ReadonlyArray<readonly [string, string]> = [
        ["size_bytes=gt.10", `${hostile},o2,o3`],
        ["size_bytes=gte.20&size_bytes=lte.30", "o2,o3"],
        ["size_bytes=lt.20", "o1"],
        ["size_bytes=neq.20", `${hostile},o1,o3`],
        ["size_bytes=is.null", "o4"],
        ["created_at=gte.2026-01-03T00:00:00Z&created_at=lt.2026-01-05T00:00:00Z", "o3,o4"],
        ["name=in.(o1,o4,nothing)", "o1,o4"],
        [`name=eq.${encodeURIComponent(hostile)}`, hostile],
        [`name=in.(${encodeURIComponent(`"${hostile}"`)},o2)`, `${hostile},o2`],
        ["name=eq.$1", ""],
        ["size_bytes=lte.30&limit=2&offset=1", "o2,o3"],
        ["size_bytes=gte.20&size_bytes=lte.30&limit=1", "o2"]
      ]
      for (const [query, expected] of cases) {
        assert.strictEqual(yield* names(query), expected, query)
      }
      // Row-level security inside the one statement: Bob is not a member of Alice's project.
      assert.strictEqual(yield* names("size_bytes=gt.0", asBob), "")
      // The table is intact after the hostile values.
      const [count] = yield* sql<{ n: number }>`SELECT count(*)::int AS n FROM public.assets WHERE project_id = ${projectId}`
      assert.strictEqual(count?.n, 5)
    }))

  it.effect("cogo.rest_read: only the service's login may run it, and a caller's transaction keeps its own role and claims", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient
      const db = yield* Database
      const read = `SELECT count(*)::int, '[]'::text FROM public.pages`
      for (const role of [DbRole.agent, DbRole.projector, DbRole.service, DbRole.authenticated, DbRole.anon]) {
        const refused = yield* db.withRole(role, sql`SELECT * FROM cogo.rest_read('authenticated', NULL, ${read}, '[]'::jsonb)`).pipe(
          Effect.flip,
          Effect.map((error) => isSqlError(error) ? sqlStateOf(error)?.code : String(error))
        )
        assert.strictEqual(refused, "42501", role)
      }
      // The service's login, inside a longer transaction of its own: after the read it is itself again.
      const [after] = yield* sql.withTransaction(Effect.gen(function*() {
        yield* sql`SELECT set_config('request.jwt.claims', '{"sub":"x"}', true)`
        const [read1] = yield* sql<{ count: number }>`SELECT count FROM cogo.rest_read('authenticated', '{"sub":"0e000000-0000-4000-8000-00000000000e"}', ${read}, '[]'::jsonb)`
        assert.strictEqual(read1?.count, 0) // no membership for that user: RLS applied
        return yield* sql<{ role: string; claims: string; who: string; login: string }>`SELECT current_setting('role') AS role,
          current_setting('request.jwt.claims') AS claims, current_user::text AS who, session_user::text AS login`
      }))
      assert.deepStrictEqual(after, { role: "none", claims: "{\"sub\":\"x\"}", who: after?.login ?? "", login: after?.login ?? "" })
    }))

  it.effect("attack list: alg none, expired, wrong audience, tampered payload, other key, bad role are all 401", () =>
    Effect.gen(function*() {
      const url = yield* baseUrl
      const good = yield* Effect.promise(() => userToken(alice))
      const [header, payload, signature] = good.split(".") as [string, string, string]
      const claims = JSON.parse(Buffer.from(payload, "base64url").toString()) as Record<string, unknown>
      const tampered = `${header}.${Buffer.from(JSON.stringify({ ...claims, sub: bob })).toString("base64url")}.${signature}`
      const none = new jose.UnsecuredJWT({ sub: alice, role: "authenticated", aud: "authenticated" }).setExpirationTime("1h").encode()
      const { privateKey } = yield* Effect.promise(() => jose.generateKeyPair("RS256"))
      const rsa = yield* Effect.promise(() =>
        new jose.SignJWT({ sub: alice, role: "authenticated", aud: "authenticated" }).setProtectedHeader({ alg: "RS256" }).setExpirationTime("1h").sign(privateKey))
      const attacks: Record<string, string> = {
        none,
        expired: yield* Effect.promise(() => signToken({ sub: alice, role: "authenticated", aud: "authenticated" }, { expiresIn: Math.floor(Date.now() / 1000) - 60 })),
        wrongAudience: yield* Effect.promise(() => userToken(alice, { aud: "someone-else" })),
        tampered,
        otherKey: yield* Effect.promise(() => signToken({ sub: alice, role: "authenticated", aud: "authenticated" }, { secret: "another-secret-another-secret-another-secret" })),
        rsaWithoutJwks: rsa,
        badRole: yield* Effect.promise(() => userToken(alice, { role: "postgres" })),
        noSub: yield* Effect.promise(() => signToken({ role: "authenticated", aud: "authenticated" })),
        garbage: "not.a.jwt",
        hs384: yield* Effect.promise(() => signToken({ sub: alice, role: "authenticated", aud: "authenticated" }, { alg: "HS384" }))
      }
      for (const [name, token] of Object.entries(attacks)) {
        const response = yield* get(`${url}/rest/v1/pages`, { headers: { authorization: `Bearer ${token}` } })
        assert.strictEqual(response.status, 401, name)
        assert.strictEqual(response.headers.get("content-type"), "application/problem+json", name)
        // The same through an HttpApi group (the Authentication middleware).
        const embed = yield* get(`${url}/functions/v1/embed`, {
          method: "POST",
          headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
          body: JSON.stringify({ texts: ["x"] })
        })
        assert.strictEqual(embed.status, 401, `embed ${name}`)
        assert.strictEqual(embed.headers.get("content-type"), "application/problem+json", `embed ${name}`)
        const problemBody = yield* Effect.promise(() => embed.json() as Promise<Record<string, unknown>>)
        assert.strictEqual(problemBody["type"], "https://cogo.dev/problems/unauthorized")
      }
      const missing = yield* get(`${url}/rest/v1/pages`)
      assert.strictEqual(missing.status, 401)
      const ok = yield* get(`${url}/rest/v1/pages`, { headers: { authorization: `Bearer ${good}` } })
      assert.strictEqual(ok.status, 200)
    }))

  it.effect("CORS preflight on any path, CORS headers on responses, 413 for oversized bodies", () =>
    Effect.gen(function*() {
      const url = yield* baseUrl
      const preflight = yield* get(`${url}/functions/v1/chat`, {
        method: "OPTIONS",
        headers: { origin: "https://ide.example", "access-control-request-method": "POST", "access-control-request-headers": "authorization, idempotency-key" }
      })
      assert.strictEqual(preflight.status, 204)
      assert.strictEqual(preflight.headers.get("access-control-allow-origin"), "*")
      const allowed = preflight.headers.get("access-control-allow-headers") ?? ""
      for (const header of ["authorization", "apikey", "x-client-info", "idempotency-key", "traceparent", "content-type"]) {
        assert.include(allowed, header)
      }
      const notFound = yield* get(`${url}/nowhere`, { headers: { origin: "https://ide.example" } })
      assert.strictEqual(notFound.status, 404)
      assert.strictEqual(notFound.headers.get("access-control-allow-origin"), "*")
      const huge = yield* get(`${url}/functions/v1/embed`, { method: "POST", body: "x".repeat(2 * 1024 * 1024), headers: { "content-type": "application/json" } })
      assert.strictEqual(huge.status, 413)
      assert.strictEqual(huge.headers.get("content-type"), "application/problem+json")
    }))

  it.effect("supabase-js functions.invoke reaches the Figma functions too: bad input is a 4xx problem, never a 5xx", () =>
    Effect.gen(function*() {
      const url = yield* baseUrl
      const supabase = createClient(url, yield* Effect.promise(anonKey), {
        auth: { persistSession: false },
        global: { headers: { Authorization: `Bearer ${yield* Effect.promise(() => userToken(alice))}` } }
      })
      const compat = yield* Effect.promise(() => supabase.functions.invoke("figma-compat", { body: { not: "a figma document" } }))
      const compatAnswer = (compat.error as { context?: Response } | null)?.context
      assert.strictEqual(compatAnswer?.status, 400, "a body that is not a Figma document is refused as bad input")
      assert.match(compatAnswer?.headers.get("content-type") ?? "", /application\/problem\+json/)
      const plugin = yield* Effect.promise(() => supabase.functions.invoke("figma-plugin", { body: { unsigned: true } }))
      const pluginStatus = (plugin.error as { context?: Response } | null)?.context?.status
      assert.strictEqual(pluginStatus, 401, "unsigned plugin uploads are refused")
    }))
})
