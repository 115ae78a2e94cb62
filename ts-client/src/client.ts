/**
 * ArtifactStoreClient: the typed face of the daemon.
 *
 * Every method of the contract is available as `client.<method>(params, options)`, typed from
 * src/generated/methods.ts and installed at load time from its method list, so a new daemon
 * method needs `npm run gen` and nothing else. The PRD's convenience signatures (positional
 * ids, `dataFrame` rows or path, arrays instead of pages) are written here on top.
 */

import path from "node:path";

import type { CallOptions } from "./connection.js";
import { DaemonClient, type DaemonClientOptions } from "./daemon-client.js";
import "./generated/errors.js"; // registers the application error classes
import {
  METHOD_NAMES,
  METHODS,
  type GeneratedMethods,
  type MethodName,
  type ParamsOf,
  type ResultOf,
} from "./generated/methods.js";

export type { MethodName, ParamsOf, ResultOf } from "./generated/methods.js";

/** Rows of a data frame: one object per row, column name → value. */
export type DataFrameRows = Array<Record<string, unknown>>;

/**
 * The PRD's PublishRequest (the wire params of publishDataFrame): `dataFrame` is an array of row
 * objects (small frames) or a path to a CSV / TSV / Parquet / Arrow IPC file (anything big).
 */
export type PublishRequest = ParamsOf<"publishDataFrame">;

/** Filter of listArtifacts: the wire params; `limit` caps the total returned across pages. */
export type ArtifactFilter = ParamsOf<"listArtifacts">;

type Artifact = ResultOf<"getArtifact">;
type ListPage = ResultOf<"listArtifacts">;

/** Methods whose PRD form differs from the wire form; written by hand below. */
type Convenience =
  | "getArtifact"
  | "listArtifacts"
  | "findByLogicalKey"
  | "publishDataFrame"
  | "getLineage"
  | "getDownstream"
  | "supersede"
  | "openUi";

export type ArtifactStoreClientOptions = DaemonClientOptions;

// Declaration merging: the class gets the generated wrappers' types (installed at the bottom).
export interface ArtifactStoreClient extends Omit<GeneratedMethods, Convenience> {}

export class ArtifactStoreClient extends DaemonClient {
  constructor(options: ArtifactStoreClientOptions = {}) {
    super(options);
  }

  /**
   * Calls any contract method with typed params and result. Timeouts and aborts reject with
   * RequestTimeoutError / RequestAbortedError after sending `$/cancelRequest`; daemon errors
   * reject with the RpcError subclass of their code.
   */
  request<M extends MethodName>(method: M, params: ParamsOf<M>, options?: CallOptions): Promise<ResultOf<M>> {
    return this.requestUntyped(method, params, options) as Promise<ResultOf<M>>;
  }

  /** One artifact's manifest entry (ArtifactNotFoundError if unknown). */
  getArtifact(artifactId: string | ParamsOf<"getArtifact">, options?: CallOptions): Promise<Artifact> {
    return this.request("getArtifact", typeof artifactId === "string" ? { artifactId } : artifactId, options);
  }

  /**
   * Artifacts matching `filter`, following pages until the end or until `filter.limit` items
   * (the PRD's `Promise<Artifact[]>`). Use `listArtifactsPage` for one page and its cursor.
   */
  async listArtifacts(filter: ArtifactFilter = {}, options?: CallOptions): Promise<Artifact[]> {
    const out: Artifact[] = [];
    for await (const artifact of this.iterateArtifacts(filter, options)) out.push(artifact);
    return out;
  }

  /** One page of listArtifacts, as the daemon returns it. */
  listArtifactsPage(filter: ArtifactFilter = {}, options?: CallOptions): Promise<ListPage> {
    return this.request("listArtifacts", filter, options);
  }

  /** Streams the artifacts matching `filter`, page by page. */
  async *iterateArtifacts(filter: ArtifactFilter = {}, options?: CallOptions): AsyncGenerator<Artifact> {
    const wanted = filter.limit ?? Number.POSITIVE_INFINITY;
    let given = 0;
    let cursor = filter.cursor ?? undefined;
    for (;;) {
      const page = await this.listArtifactsPage(cursor ? { ...filter, cursor } : filter, options);
      const { items, nextCursor: next } = page;
      for (const item of items) {
        if (given >= wanted) return;
        given += 1;
        yield item;
      }
      if (!next || given >= wanted || items.length === 0) return;
      cursor = next;
    }
  }

  /** Every artifact of a type under a logical key, newest first, any status. */
  findByLogicalKey(
    artifactType: string | ParamsOf<"findByLogicalKey">,
    logicalKey?: string,
    options?: CallOptions,
  ): Promise<Artifact[]> {
    const params = typeof artifactType === "string" ? { artifactType, logicalKey: logicalKey ?? "" } : artifactType;
    return this.request("findByLogicalKey", params, options);
  }

  /**
   * Publishes a data frame as an artifact. `dataFrame` is an array of row objects or a path to a
   * CSV / TSV / Parquet / Arrow IPC file; a relative path is resolved against this Node process's
   * working directory. Idempotent: the same data under the same key comes back `deduped` with the
   * existing id. Reports `$/progress`; cancelling registers nothing.
   */
  publishDataFrame(request: PublishRequest, options?: CallOptions): Promise<ResultOf<"publishDataFrame">> {
    let params: PublishRequest;
    try {
      params = publishParams(request);
    } catch (error) {
      return Promise.reject(error);
    }
    return this.request("publishDataFrame", params, options);
  }

  /** Upstream lineage (what the artifact was made from), transitively unless `depth` is given. */
  getLineage(artifactId: string | ParamsOf<"getLineage">, options?: CallOptions): Promise<ResultOf<"getLineage">> {
    return this.request("getLineage", typeof artifactId === "string" ? { artifactId } : artifactId, options);
  }

  /** The artifacts made from this one, transitively unless `depth` is given (the PRD's `Artifact[]`). */
  getDownstream(artifactId: string | ParamsOf<"getDownstream">, options?: CallOptions): Promise<Artifact[]> {
    return this.request("getDownstream", typeof artifactId === "string" ? { artifactId } : artifactId, options);
  }

  /** The downstream lineage graph (nodes with depth, and edges). */
  getDownstreamGraph(artifactId: string, options?: CallOptions): Promise<ResultOf<"getLineage">> {
    return this.request("getLineage", { artifactId, direction: "downstream" }, options);
  }

  /**
   * Marks `oldArtifactId` superseded by `newArtifactId` (same type; idempotent); the PRD's
   * `Promise<void>`. `request("supersede", ...)` returns the old artifact's updated entry.
   * InvalidSupersessionError on a bad pair.
   */
  async supersede(newArtifactId: string, oldArtifactId: string, options?: CallOptions): Promise<void> {
    await this.request("supersede", { newArtifactId, oldArtifactId }, options);
  }

  /**
   * Starts the read-only web UI inside the daemon (once; later calls give the same URL) and
   * returns its URL on 127.0.0.1, which carries the access token: open it in a browser. The UI
   * stops with the daemon. `request("openUi", ...)` returns the port too.
   */
  async openUi(params: ParamsOf<"openUi"> = {}, options?: CallOptions): Promise<string> {
    return (await this.request("openUi", params, options)).url;
  }
}

function publishParams(request: PublishRequest): PublishRequest {
  const { dataFrame } = request;
  if (typeof dataFrame === "string") {
    return path.isAbsolute(dataFrame) ? request : { ...request, dataFrame: path.resolve(dataFrame) };
  }
  if (!Array.isArray(dataFrame)) {
    throw new TypeError("publishDataFrame: dataFrame must be an array of row objects or a file path string");
  }
  return request;
}

// Install a wrapper for every contract method the class does not define by hand.
for (const name of METHOD_NAMES) {
  if (Object.prototype.hasOwnProperty.call(ArtifactStoreClient.prototype, name)) continue;
  Object.defineProperty(ArtifactStoreClient.prototype, name, {
    configurable: true,
    writable: true,
    value: function (this: ArtifactStoreClient, params?: unknown, options?: CallOptions) {
      return this.requestUntyped(name, params ?? (METHODS[name].paramsOptional ? {} : undefined), options);
    },
  });
}

