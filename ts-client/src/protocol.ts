/**
 * Protocol versions this client speaks. The daemon's `initialize` reply must name one of them.
 */

import { CONTRACT_PROTOCOL_VERSION } from "./generated/contract.js";

/** The version this client asks for in `initialize`. */
export const PROTOCOL_VERSION: string = CONTRACT_PROTOCOL_VERSION;

/** Versions accepted in the daemon's reply. */
export const SUPPORTED_PROTOCOL_VERSIONS: readonly string[] = [CONTRACT_PROTOCOL_VERSION];
