/**
 * @quantbot/artifact-store: a typed client for the QuantBot Research Bridge daemon
 * (`python -m bridge serve`, newline-delimited JSON-RPC 2.0 over stdio).
 */

export { DaemonClient } from "./daemon-client.js";
export type {
  ClientState,
  CloseTimeouts,
  DaemonClientEvents,
  DaemonClientOptions,
  InitializeInfo,
  RestartOptions,
} from "./daemon-client.js";
export type { CallOptions, Logger, Progress } from "./connection.js";
export { JsonRpcConnection, CANCEL_METHOD, PROGRESS_METHOD } from "./connection.js";
export { LineReader, LineWriter, LineTooLongError, WriteClosedError, serialize, serializeValue } from "./ndjson.js";
export { resolvePython, PYTHON_ENV_VAR, type ResolvedPython, type PythonSource } from "./discovery.js";
export { PROTOCOL_VERSION, SUPPORTED_PROTOCOL_VERSIONS } from "./protocol.js";
export * from "./errors.js";
export { ArtifactStoreClient } from "./client.js";
export type {
  ArtifactFilter,
  ArtifactStoreClientOptions,
  DataFrameRows,
  MethodName,
  ParamsOf,
  PublishRequest,
  ResultOf,
} from "./client.js";
export { METHODS, METHOD_NAMES, type GeneratedMethods, type MethodInfo, type MethodMap } from "./generated/methods.js";
export * from "./generated/errors.js";
export { CONTRACT_PROTOCOL_VERSION, CONTRACT_VERSION } from "./generated/contract.js";
export type * from "./generated/types.js";

import type {
  ChatReport,
  ColumnInfo,
  FileLoad,
  IngestReport,
  Limits,
  ProjectionInput,
  ProjectionStaleReason,
  QueryResult,
  SliceResult,
  TableType,
} from "./generated/types.js";
/** @deprecated Renamed `IngestReport`: the contract now uses the ingestion's own report type. */
export type IngestReportWire = IngestReport;
/** @deprecated Renamed `ChatReport`. */
export type ChatReportWire = ChatReport;
/** @deprecated Renamed `ProjectionInput`: the contract now uses the projections' own types. */
export type ProjectionInputWire = ProjectionInput;
/** @deprecated Renamed `TableType`. */
export type TableTypeWire = TableType;
/** @deprecated Renamed `ProjectionStaleReason`. */
export type ProjectionStaleReasonWire = ProjectionStaleReason;
/** @deprecated Renamed `ColumnInfo`. */
export type ColumnInfoWire = ColumnInfo;
/** @deprecated Renamed `QueryResult`. */
export type QueryResultWire = QueryResult;
/** @deprecated Renamed `SliceResult`: the contract now uses the OHLCV export's own types. */
export type SliceResultWire = SliceResult;
/** @deprecated Renamed `FileLoad`. */
export type FileLoadWire = FileLoad;
/** @deprecated Renamed `Limits`: the contract now uses the daemon's own limits type. */
export type LimitsWire = Limits;
