// The guardrails of platform-auth as pure functions over plain resource
// objects, so mocha can run them without the Pulumi CLI; policy/index.ts only
// registers `policies`. Each rule guards an invariant that one careless edit
// could break without any test of the program noticing: OIDC identities stay
// read-only, credentials never sit in plain text, Dex and the apiserver agree
// on one https issuer, workloads meet Pod Security "restricted", and Dex's
// ports are reached only from named peers.
import type { Policies } from "@pulumi/policy";
import { plaintextCredentialsPolicy } from "./plaintext-credentials";
import { podSecurityPolicy } from "./pod-security";
import { readOnlyAccessPolicy } from "./read-only-access";
import { tlsIssuerPolicy } from "./tls-issuer";
import { networkPeersPolicy } from "./network-peers";

export const PACK_NAME = "platform-auth-guardrails";

/** The pack, exactly as policy/index.ts registers it. */
export const policies: Policies = [readOnlyAccessPolicy, plaintextCredentialsPolicy, tlsIssuerPolicy, podSecurityPolicy, networkPeersPolicy];
