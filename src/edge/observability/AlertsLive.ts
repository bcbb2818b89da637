import { Effect } from "effect"
import { HttpApiBuilder } from "effect/http-api"
import { Alerts } from "../../services/observability/Alerts.ts"
import { Api } from "../Api.ts"

export const AlertsLive = HttpApiBuilder.group(Api, "alerts", Effect.fn(function*(handlers) {
  const alerts = yield* Alerts
  return handlers.handle("alerts", () => Effect.map(alerts.current, (list) => ({ alerts: list })))
}))
