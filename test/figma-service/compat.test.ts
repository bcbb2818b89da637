/**
 * figma-compat over real HTTP with only the figma-compat handlers (conversion is pure: no database is
 * started): every direction, 400s naming the bad path, invalid JSON, the body cap (declared and streamed),
 * and a mutation fuzz subset with zero 5xx. The endpoint inside the whole service is covered by
 * plugin.test.ts (OpenAPI) and the observability tests.
 */
import { assert, layer } from "@effect/vitest"
import { Effect, Schema } from "effect"
import { CogoDocument } from "../../src/domain/figma/CogoUi.ts"
import { UuiDocument } from "../../src/domain/figma/Uui.ts"
import { baseUrl } from "../edge/server.ts"
import { seededRandom } from "../fixtures/figma/generate.ts"
import { FigmaCompatServerLive, fixture, fixtureText, postJson } from "./support.ts"

const isCogo = Schema.is(CogoDocument)
const isUui = Schema.is(UuiDocument)
const capBytes = 256 * 1024
const fixtures = ["auto-layout.json", "components.json", "gradients-nodes.json", "images-shadows.plugin.json", "old-era.json", "text-mixed.json", "vectors.json"]

const promise = <A>(f: () => Promise<A>) => Effect.promise(f)


const junk: ReadonlyArray<unknown> = [null, -1, 0, 1e308, "", "x", true, [], {}, [null], { id: 1 }, "NaN", -0.5]

/** One random edit somewhere in a clone of `document`: delete a key, replace a value, or duplicate an array item. */
const mutate = (document: unknown, next: () => number): unknown => {
  const clone: unknown = structuredClone(document)
  const containers: Array<Record<string, unknown> | Array<unknown>> = []
  const stack: Array<unknown> = [clone]
  while (stack.length > 0) {
    const value = stack.pop()
    if (typeof value === "object" && value !== null) {
      containers.push(value as Record<string, unknown>)
      for (const child of Object.values(value)) stack.push(child)
    }
  }
  const target = containers[Math.floor(next() * containers.length)]!
  const keys = Object.keys(target)
  if (keys.length === 0) return clone
  const key = keys[Math.floor(next() * keys.length)]!
  const choice = next()
  if (Array.isArray(target)) {
    const index = Number(key)
    if (choice < 0.3) target.splice(index, 1)
    else if (choice < 0.5) target.push(structuredClone(target[index]))
    else target[index] = junk[Math.floor(next() * junk.length)]
  } else if (choice < 0.35) {
    delete target[key]
  } else {
    target[key] = junk[Math.floor(next() * junk.length)]
  }
  return clone
}

layer(FigmaCompatServerLive({ FIGMA_MAX_BODY_BYTES: String(capBytes) }), { excludeTestServices: true })("figma-compat over HTTP", (it) => {
  it.effect("converts every fixture Figma -> COGO by default, and the four directions agree with each other", () =>
    Effect.gen(function*() {
      const url = `${yield* baseUrl}/functions/v1/figma-compat`
      for (const name of fixtures) {
        const text = fixtureText(name)
        const cogo = yield* promise(() => postJson(url, text))
        assert.strictEqual(cogo.status, 200, `${name}: ${JSON.stringify(cogo.body).slice(0, 300)}`)
        assert.strictEqual(cogo.body.direction, "figma-to-cogo")
        assert.strictEqual(cogo.body.format, "cogo")
        assert.isTrue(isCogo(cogo.body.document), `${name}: valid COGO UI JSON`)
        assert.isArray(cogo.body.warnings)

        const uui = yield* promise(() => postJson(`${url}?direction=figma-to-uui`, text))
        assert.strictEqual(uui.status, 200)
        assert.strictEqual(uui.body.format, "uui")
        assert.isTrue(isUui(uui.body.document), `${name}: valid UUI`)

        // Figma -> UUI -> COGO over two requests gives the same tree as Figma -> COGO in one.
        const viaUui = yield* promise(() => postJson(`${url}?direction=uui-to-cogo`, JSON.stringify(uui.body.document)))
        assert.strictEqual(viaUui.status, 200)
        assert.deepStrictEqual(viaUui.body.document, cogo.body.document)

        const back = yield* promise(() => postJson(`${url}?direction=cogo-to-uui`, JSON.stringify(cogo.body.document)))
        assert.strictEqual(back.status, 200)
        assert.strictEqual(back.body.format, "uui")
        assert.isTrue(isUui(back.body.document))
      }
    }))

  it.effect("reports approximations as warnings with node, feature and action", () =>
    Effect.gen(function*() {
      const url = `${yield* baseUrl}/functions/v1/figma-compat`
      const answer = yield* promise(() => postJson(url, fixtureText("gradients-nodes.json")))
      assert.strictEqual(answer.status, 200)
      const warnings = answer.body.warnings ?? []
      assert.isAbove(warnings.length, 0)
      for (const warning of warnings) {
        assert.isString(warning.nodeId)
        assert.isAbove(warning.feature.length, 0)
        assert.isAbove(warning.action.length, 0)
      }
    }))

  it.effect("accepts any content type (the plugin may send text/plain)", () =>
    Effect.gen(function*() {
      const url = `${yield* baseUrl}/functions/v1/figma-compat`
      const answer = yield* promise(() => postJson(url, fixtureText("text-mixed.json"), { "content-type": "text/plain;charset=UTF-8" }))
      assert.strictEqual(answer.status, 200)
      assert.strictEqual(answer.body.format, "cogo")
    }))

  it.effect("malformed documents are 400 problem+json naming the bad path", () =>
    Effect.gen(function*() {
      const url = `${yield* baseUrl}/functions/v1/figma-compat`
      const document = fixture("auto-layout.json") as { document: { children: Array<{ children: Array<Record<string, unknown>> }> } }
      document.document.children[0]!.children[0]!["opacity"] = "high"
      const answer = yield* promise(() => postJson(url, JSON.stringify(document)))
      assert.strictEqual(answer.status, 400)
      assert.match(answer.contentType ?? "", /application\/problem\+json/)
      assert.deepStrictEqual(answer.body.errors?.[0]?.path, ["document", "children", 0, "children", 0, "opacity"])
      assert.include(answer.body.detail ?? "", "document.children.0.children.0.opacity")

      const notFigma = yield* promise(() => postJson(url, JSON.stringify({ hello: "world" })))
      assert.strictEqual(notFigma.status, 400)
      assert.deepStrictEqual(notFigma.body.errors?.[0]?.path, [])

      const badUui = yield* promise(() => postJson(`${url}?direction=uui-to-cogo`, JSON.stringify({ schemaVersion: 1, roots: "nope", tokens: [] })))
      assert.strictEqual(badUui.status, 400)
      assert.isAbove(badUui.body.errors?.length ?? 0, 0)
    }))

  it.effect("invalid JSON, empty bodies and unknown directions are 400 problem+json", () =>
    Effect.gen(function*() {
      const url = `${yield* baseUrl}/functions/v1/figma-compat`
      for (const body of ["{\"document\": ", "not json", "", new Uint8Array([0xff, 0xfe, 0x7b, 0x7d])]) {
        const answer = yield* promise(() => postJson(url, body))
        assert.strictEqual(answer.status, 400, `body ${String(body)}`)
        assert.match(answer.contentType ?? "", /application\/problem\+json/)
        assert.deepStrictEqual(answer.body.errors?.[0]?.path, [])
      }
      const deepArrays = "[".repeat(100_000) + "]".repeat(100_000)
      assert.strictEqual((yield* promise(() => postJson(url, deepArrays))).status, 400)
      // A node tree nested thousands deep converts or is refused with a 400, never a 5xx.
      const levels = 4000
      const deepNodes = `${'{"id":"1:1","type":"FRAME","children":['.repeat(levels)}{"id":"2:2","type":"TEXT"}${"]}".repeat(levels)}`
      const nested = yield* promise(() => postJson(url, deepNodes))
      assert.include([200, 400], nested.status)
      const direction = yield* promise(() => postJson(`${url}?direction=sideways`, fixtureText("text-mixed.json")))
      assert.strictEqual(direction.status, 400)
      assert.match(direction.contentType ?? "", /application\/problem\+json/)
    }))

  it.effect("bodies over the cap are 413 problem+json, declared or streamed", () =>
    Effect.gen(function*() {
      const url = `${yield* baseUrl}/functions/v1/figma-compat`
      const big = JSON.stringify({ id: "1:1", type: "FRAME", name: "x".repeat(capBytes) })
      const declared = yield* promise(() => postJson(url, big))
      assert.strictEqual(declared.status, 413)
      assert.match(declared.contentType ?? "", /application\/problem\+json/)
      assert.strictEqual(declared.body.status, 413)

      // Chunked, without a content-length: the cap applies while reading.
      const bytes = new TextEncoder().encode(big)
      const streamed = yield* promise(async () => {
        const body = new ReadableStream<Uint8Array>({
          start(controller) {
            for (let offset = 0; offset < bytes.length; offset += 16 * 1024) controller.enqueue(bytes.subarray(offset, offset + 16 * 1024))
            controller.close()
          }
        })
        const response = await fetch(url, { method: "POST", body, duplex: "half", headers: { "content-type": "application/json" } } as RequestInit)
        return { status: response.status, contentType: response.headers.get("content-type") }
      })
      assert.strictEqual(streamed.status, 413)
      assert.match(streamed.contentType ?? "", /application\/problem\+json/)
    }))

  it.effect("a mutation fuzz subset over HTTP: 300 mutated documents, no 5xx, every 200 is valid COGO UI JSON", () =>
    Effect.gen(function*() {
      const url = `${yield* baseUrl}/functions/v1/figma-compat`
      const next = seededRandom(6)
      const seeds = fixtures.map(fixture)
      const inputs = Array.from({ length: 300 }, (_, i) => {
        let document = seeds[i % seeds.length]
        const edits = 1 + Math.floor(next() * 3)
        for (let e = 0; e < edits; e++) document = mutate(document, next)
        return JSON.stringify(document)
      })
      const answers = yield* Effect.forEach(inputs, (input) => promise(() => postJson(url, input)), { concurrency: 8 })
      const statuses = new Map<number, number>()
      for (const answer of answers) {
        statuses.set(answer.status, (statuses.get(answer.status) ?? 0) + 1)
        // No 5xx: every answer is a conversion (200) or a refusal of bad input (400), nothing else.
        assert.oneOf(answer.status, [200, 400])
        if (answer.status === 200) assert.isTrue(isCogo(answer.body.document))
        else assert.isAbove(answer.body.errors?.length ?? 0, 0)
      }
      // Both outcomes occur, so the subset exercises conversion and rejection.
      assert.isAbove(statuses.get(200) ?? 0, 0)
      assert.isAbove(statuses.get(400) ?? 0, 0)
    }), 60_000)
})
