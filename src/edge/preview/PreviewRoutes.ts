/**
 * `GET /preview/pages/:id` and `GET /preview/components/:id`: the stored COGO UI JSON tree as one HTML
 * page, for the project's members (RLS; anyone else gets 404, as for a row that does not exist). Browsers
 * cannot send headers when opening a link, so the token may come as `?access_token=` (redacted from traces
 * and logs by the service's redaction; never logged here). The page reloads itself from the project's
 * realtime stream; its Content-Security-Policy allows only its own nonce'd script and same-origin requests.
 */
import { Effect } from "effect"
import { HttpRouter, type HttpServerRequest, HttpServerResponse } from "effect/http"
import { randomBytes } from "node:crypto"
import { problem } from "../../domain/platform/Problem.ts"
import { uuidPattern } from "../../domain/platform/Uuid.ts"
import { Auth } from "../../services/auth/Auth.ts"
import { badRequest, problemResponse } from "../../services/platform/problemResponse.ts"
import { PagePreview } from "../../services/preview/PagePreview.ts"

const csp = (nonce: string) =>
  `default-src 'none'; style-src 'unsafe-inline'; img-src * data:; script-src 'nonce-${nonce}'; connect-src 'self'; base-uri 'none'; form-action 'none'`

export const PreviewRoutesLive = HttpRouter.use(Effect.fn(function*(router) {
  const auth = yield* Auth
  const preview = yield* PagePreview

  const serve = (request: HttpServerRequest.HttpServerRequest, kind: "page" | "component") =>
    Effect.gen(function*() {
      const id = (yield* HttpRouter.params)["id"] ?? ""
      if (!uuidPattern.test(id)) return badRequest(["path", "id"], "must be a uuid")
      const queryToken = new URL(request.url, "http://local").searchParams.get("access_token")
      const principal = yield* (queryToken === null ? auth.authenticate(request) : auth.authenticateToken(queryToken))
      const nonce = randomBytes(16).toString("base64")
      const rendered = yield* (kind === "page" ? preview.page(principal, id, nonce) : preview.component(principal, id, nonce))
      return HttpServerResponse.text(rendered.html, {
        contentType: "text/html; charset=utf-8",
        headers: {
          "content-security-policy": csp(nonce),
          "cache-control": "no-store",
          "referrer-policy": "no-referrer",
          "x-content-type-options": "nosniff"
        }
      })
    }).pipe(
      Effect.catchTags({
        Unauthorized: (e) => Effect.succeed(problemResponse(e)),
        PreviewNotFound: (e) => Effect.succeed(problemResponse(problem(404, "not-found", "Not Found", `no ${e.kind} ${e.id}`))),
        PreviewInvalid: (e) => Effect.succeed(problemResponse(problem(422, "preview-invalid", "Unprocessable Entity", `${e.kind} ${e.id}: ${e.message}`))),
        SqlError: (e) => Effect.die(e)
      })
    )

  yield* router.add("GET", "/preview/pages/:id", (request) => serve(request, "page"))
  yield* router.add("GET", "/preview/components/:id", (request) => serve(request, "component"))
}))
