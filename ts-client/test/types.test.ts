/**
 * Compile-time checks of the public types (this file failing to compile fails `npm test`), plus
 * a runtime check that every contract method is a function on the client.
 */

import assert from "node:assert/strict";
import { it } from "node:test";

import {
  ArtifactStoreClient,
  ErrorCodes,
  METHOD_NAMES,
  type Artifact,
  type ArtifactFilter,
  type ArtifactLineage,
  type PublishRequest,
  type ProjectionResult,
  type QueryResult,
  type QueryResultWire,
  type SliceResult,
  type SliceResultWire,
  type Limits,
  type LimitsWire,
  type ErrorCode,
  type ParamsOf,
  type PublishResult,
  type ResultOf,
} from "../src/index.js";

/** The PRD's interface (FR-1), verbatim except for the types it names. */
interface PrdArtifactStoreClient {
  getArtifact(artifactId: string): Promise<Artifact>;
  listArtifacts(filter: ArtifactFilter): Promise<Artifact[]>;
  findByLogicalKey(artifactType: string, logicalKey: string): Promise<Artifact[]>;
  publishDataFrame(request: PublishRequest): Promise<PublishResult>;
  getLineage(artifactId: string): Promise<ArtifactLineage>;
  getDownstream(artifactId: string): Promise<Artifact[]>;
  supersede(newArtifactId: string, oldArtifactId: string): Promise<void>;
}

// Never called: only type-checked.
async function typeChecks(client: ArtifactStoreClient): Promise<void> {
  const a: Artifact = await client.getArtifact("id");
  const b: Artifact = await client.getArtifact({ artifactId: "id" });
  const list: Artifact[] = await client.listArtifacts({ artifactType: "alerts" });
  const found: Artifact[] = await client.findByLogicalKey("alerts", "key");
  const down: Artifact[] = await client.getDownstream("id");
  const published: PublishResult = await client.publishDataFrame({
    artifactType: "alerts",
    schemaVersion: 1,
    logicalKey: "k",
    dataFrame: [{ a: 1 }],
    writerName: "w",
    writerVersion: "1",
    gitCommit: "c",
    gitDirty: false,
  });
  await client.publishDataFrame({
    artifactType: "alerts",
    schemaVersion: 1,
    logicalKey: "k",
    dataFrame: "/path/to/file.parquet",
    writerName: "w",
    writerVersion: "1",
    gitCommit: "c",
    gitDirty: false,
  });
  const nothing: void = await client.supersede("new", "old");
  const old: Artifact = await client.request("supersede", { newArtifactId: "n", oldArtifactId: "o" });
  const prd: PrdArtifactStoreClient = client;
  const viaRequest: ResultOf<"getArtifact"> = await client.request("getArtifact", { artifactId: "x" });
  const params: ParamsOf<"getArtifact"> = { artifactId: "x" };
  const code: ErrorCode = ErrorCodes.ArtifactNotFound;
  // generated wrappers are typed too
  const projection: ProjectionResult = await client.buildProjection({ tables: { alerts: ["id"] } }, { timeoutMs: 1000 });
  const rows: unknown[][] = (await client.query({ projectionId: projection.projectionId, sql: "SELECT 1" })).rows;
  const types = await client.listArtifactTypes();
  const rules: string[] = types.flatMap((t) => (t.rules ?? []).map((r) => r.sql));
  // the old *Wire names still compile, as aliases of the domain types the contract now names
  const oldQuery: QueryResultWire = await client.query({ projectionId: "p", sql: "SELECT 1" });
  const newQuery: QueryResult = oldQuery;
  const slice: SliceResultWire = (await client.exportSlice({ token: "T", resolution: "1m", from: "a", to: "b" })) satisfies SliceResult;
  const limits: LimitsWire = {} as Limits;
  const maxReply: number = limits.maxReplyBytes; // always sent: required in the contract
  void [rules, newQuery, slice, maxReply];
  // @ts-expect-error generated wrapper: sql must be a string
  await client.query({ projectionId: "p", sql: 1 });
  // @ts-expect-error generated wrapper: unknown field (additionalProperties: false)
  await client.getRun({ runId: "r", bogus: true });
  void [rows, types];
  // @ts-expect-error unknown method
  await client.request("noSuchMethod", {});
  // @ts-expect-error wrong params type
  await client.request("getArtifact", { artifactId: 1 });
  // @ts-expect-error ids are strings
  await client.getArtifact(42);
  // @ts-expect-error dataFrame must be rows or a path
  await client.publishDataFrame({ artifactType: "a", schemaVersion: 1, logicalKey: "k", dataFrame: 5, writerName: "w", writerVersion: "1" });
  void [a, b, list, found, down, published, nothing, old, prd, viaRequest, params, code];
}
void typeChecks;

it("every contract method is callable on the client", () => {
  const client = new ArtifactStoreClient({ pythonPath: "/nonexistent" });
  const missing = METHOD_NAMES.filter((m) => typeof (client as unknown as Record<string, unknown>)[m] !== "function");
  assert.deepEqual(missing, []);
  assert.ok(METHOD_NAMES.length >= 7);
});
