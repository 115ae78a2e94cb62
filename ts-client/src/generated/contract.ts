// PLACEHOLDER until schemas/ exist.
export const CONTRACT_PROTOCOL_VERSION = "1" as const;
