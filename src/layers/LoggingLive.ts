/** Log output and level from the configuration (see src/services/platform/Logging.ts). Needs `AppConfig`. */
import { Layer } from "effect"
import { logLevelLayer, loggerLayer } from "../services/platform/Logging.ts"

export const LoggingLive = Layer.mergeAll(loggerLayer, logLevelLayer)
