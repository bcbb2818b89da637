/**
 * The typed TypeScript client of the cogo API (IDE tooling, the Figma plugin, scripts), generated from the same
 * HttpApi definition the server implements. Requests carry the caller's access token.
 *
 *   const client = yield* makeCogoClient({ baseUrl: "http://localhost:3000", accessToken })
 *   const result = yield* client.embed.embed({ payload: { texts: ["a button"] } })
 */
import { Effect } from "effect"
import { FetchHttpClient, HttpClient, HttpClientRequest } from "effect/http"
import { HttpApiClient } from "effect/http-api"
import { Api } from "./Api.ts"

export const makeCogoClient = (options: { readonly baseUrl: string; readonly accessToken?: string | undefined }) =>
  HttpApiClient.make(Api, {
    baseUrl: options.baseUrl,
    transformClient: (client) =>
      options.accessToken === undefined
        ? client
        : HttpClient.mapRequest(client, HttpClientRequest.bearerToken(options.accessToken))
  }).pipe(Effect.provide(FetchHttpClient.layer))
