/**
 * The preview of an imported page in headless Chromium (Debian's /usr/bin/chromium; skipped with a note when
 * it is not installed): a Figma file imported through the plugin path (signed ingress -> import job ->
 * projection -> public.*) opens at /preview/pages/:id for a member, with one element per node of the stored
 * tree; a non-member gets 404; and a re-import (a new realtime event on the project) re-renders the open page.
 */
import { assert, layer } from "@effect/vitest"
import { Duration, Effect } from "effect"
import * as fs from "node:fs"
import { chromium } from "playwright-core"
import { importEntityId } from "../../src/services/figma/convert/index.ts"
import { baseUrl, userToken } from "../edge/server.ts"
import { fixture, FigmaServerLive, postJson, signedHeaders } from "../figma-service/support.ts"

const chromiumPath = "/usr/bin/chromium"
const hasChromium = fs.existsSync(chromiumPath)
if (!hasChromium && process.env["CI"]) throw new Error(`${chromiumPath} is required in CI (apt-get install -y chromium)`)
if (!hasChromium) console.warn(`preview page test skipped: ${chromiumPath} is not installed (apt-get install -y chromium)`)

const alice = "a11ce000-0000-4000-8000-00000000e001"
const bob = "b0b00000-0000-4000-8000-00000000e002"
const aliceJwt = await userToken(alice)
const bobJwt = await userToken(bob)

type Json = { [key: string]: unknown }

/** auto-layout.json with the text node "Hug" (2:13) saying `text`. */
const documentWith = (text: string): Json => {
  const document = structuredClone(fixture("auto-layout.json")) as Json
  const walk = (node: Json): void => {
    if (node["id"] === "2:13") node["characters"] = text
    for (const child of (node["children"] as Array<Json> | undefined) ?? []) walk(child)
  }
  walk(document["document"] as Json)
  return document
}

const importAs = (root: string, projectId: string, document: Json, timestamp: number) =>
  Effect.promise(async () => {
    const body = JSON.stringify({ projectId, userId: alice, fileKey: "PREVIEW1", document })
    const answer = await postJson(`${root}/functions/v1/figma-plugin`, body, signedHeaders(body, { credential: aliceJwt, timestamp }))
    if (answer.status !== 202) throw new Error(`import refused: ${answer.status} ${JSON.stringify(answer.body)}`)
  })

/** Polls until the page's stored tree contains `text` (the projection is asynchronous). */
const storedTree = (root: string, pageId: string, text: string) =>
  Effect.promise(async () => {
    const deadline = Date.now() + 30_000
    while (Date.now() < deadline) {
      const response = await fetch(`${root}/rest/v1/pages?id=eq.${pageId}`, { headers: { authorization: `Bearer ${aliceJwt}` } })
      const rows = await response.json() as ReadonlyArray<{ definition: { tree: unknown } }>
      const tree = rows[0]?.definition.tree
      if (tree !== undefined && JSON.stringify(tree).includes(text)) return tree
      await new Promise((resolve) => setTimeout(resolve, 150))
    }
    throw new Error(`page ${pageId} never held ${text}`)
  })

const nodeIds = (tree: unknown): Set<string> => {
  const ids = new Set<string>()
  const walk = (value: unknown): void => {
    if (Array.isArray(value)) value.forEach(walk)
    else if (typeof value === "object" && value !== null) {
      const id = (value as Json)["id"]
      if (typeof id === "string") ids.add(id)
      Object.values(value).forEach(walk)
    }
  }
  walk(tree)
  return ids
}

const launch = Effect.acquireRelease(
  Effect.promise(() => chromium.launch({ executablePath: chromiumPath, headless: true, args: ["--no-sandbox", "--disable-gpu"] })),
  (browser) => Effect.promise(() => browser.close())
)

layer(FigmaServerLive(), { excludeTestServices: true, timeout: Duration.seconds(120) })("preview of an imported page", (it) => {
  it.effect.skipIf(!hasChromium)("renders for a member with every node, 404s for others, re-renders on a realtime update", () =>
    Effect.gen(function*() {
      const root = yield* baseUrl
      const projectId = crypto.randomUUID()
      const now = Math.floor(Date.now() / 1000)
      yield* importAs(root, projectId, documentWith("Hello preview"), now)
      const pageId = importEntityId(projectId, "page", "2:1")
      const tree = yield* storedTree(root, pageId, "Hello preview")
      const expectedIds = nodeIds(tree)

      const denied = yield* Effect.promise(() => fetch(`${root}/preview/pages/${pageId}`, { headers: { authorization: `Bearer ${bobJwt}` } }))
      assert.strictEqual(denied.status, 404)
      assert.match(denied.headers.get("content-type") ?? "", /problem\+json/)
      const bad = yield* Effect.promise(() => fetch(`${root}/preview/pages/not-a-uuid`, { headers: { authorization: `Bearer ${aliceJwt}` } }))
      assert.strictEqual(bad.status, 400)

      const browser = yield* launch
      const page = yield* Effect.promise(() => browser.newPage())
      const response = yield* Effect.promise(() => page.goto(`${root}/preview/pages/${pageId}?access_token=${aliceJwt}`))
      assert.strictEqual(response?.status(), 200)
      assert.match(response?.headers()["content-type"] ?? "", /text\/html/)
      const rendered = yield* Effect.promise(() => page.$$eval("[data-node-id]", (els) => els.map((e) => e.getAttribute("data-node-id"))))
      assert.deepStrictEqual(new Set(rendered), expectedIds)
      assert.strictEqual(rendered.length, expectedIds.size)
      const text = yield* Effect.promise(() => page.locator(`[data-node-id="2:13"]`).textContent())
      assert.strictEqual(text, "Hello preview")
      const box = yield* Effect.promise(() => page.locator(`[data-node-id="2:11"]`).boundingBox())
      assert.deepStrictEqual([box?.width, box?.height], [40, 40])
      yield* Effect.promise(() => page.waitForFunction(() => document.getElementById("cogo-preview")?.dataset["live"] === "open", undefined, { timeout: 15_000 }))

      // A re-import changes the text: the projection's realtime event makes the open page fetch and re-render.
      yield* importAs(root, projectId, documentWith("Updated live"), now + 1)
      yield* Effect.promise(() =>
        page.waitForFunction(() => document.querySelector(`[data-node-id="2:13"]`)?.textContent === "Updated live", undefined, { timeout: 30_000 }))
      const renders = yield* Effect.promise(() => page.evaluate(() => Number(document.getElementById("cogo-preview")?.dataset["renders"])))
      assert.isAtLeast(renders, 2)
    }))
})
