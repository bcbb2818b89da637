/**
 * The observability pieces for `src/layers/Main.ts`: services (alerts, trace events, artifacts), the HttpApi
 * group handlers (traces, alerts, artifacts) and the raw routes (status page).
 */
import { Layer } from "effect"
import { Alerts } from "../services/Alerts.ts"
import { Artifacts } from "../services/Artifacts.ts"
import { DatabaseMetricsLive } from "../services/DatabaseMetrics.ts"
import { JobQueue } from "../services/JobQueue.ts"
import { Telemetry } from "../services/Telemetry.ts"
import { AlertsLive } from "./AlertsLive.ts"
import { ArtifactFilesRoute, ArtifactsLive } from "./ArtifactsLive.ts"
import { StatusRoutesLive } from "./status/StatusRoutes.ts"
import { TracesLive } from "./TracesLive.ts"

/** Artifacts plus the recorder of finished jobs (JobQueue.layer is memoized: the same queue AgentsLive builds). */
const ArtifactServicesLive = Artifacts.jobRecorderLayer.pipe(Layer.provideMerge(Artifacts.layer), Layer.provide(JobQueue.layer))

export const ObservabilityServicesLive = Layer.mergeAll(Alerts.layer, ArtifactServicesLive, Telemetry.eventsLayer, DatabaseMetricsLive)

export const ObservabilityHandlersLive = Layer.mergeAll(TracesLive, AlertsLive, ArtifactsLive)

export const ObservabilityRoutesLive = Layer.mergeAll(ArtifactFilesRoute, StatusRoutesLive)
