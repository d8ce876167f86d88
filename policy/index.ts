// Entry point the Pulumi CLI runs for `pulumi preview --policy-pack policy`.
// It only registers the rules: they live in rules/ as pure functions, so the
// tests exercise the very list registered here without starting the CLI.
import { PolicyPack } from "@pulumi/policy";
import { PACK_NAME, policies } from "./rules";

new PolicyPack(PACK_NAME, { policies, enforcementLevel: "mandatory" });
