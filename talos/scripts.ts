// The talosctl scripts that carry out a plan (plan.ts) on the nodes, for
// @pulumi/command: apply (the Command's create, which the provider also runs
// on update), revert (its delete), and two read-only checks run as invokes:
// the migration check before the Command and the drift check after it. Each
// node gets one `talosctl patch` that takes off what is stale and puts on
// what is missing, so it never serves without OIDC in between, and it is
// healthy again before the next node is touched: no step touches all nodes
// at once, and rebooting every control-plane node together would lose etcd
// quorum.
import { TALOS_MIGRATION_TO_1_14 } from "../config/types";
import type { PlanPart, TalosApplyPlan } from "./plan";
import { toYamlStream } from "./render";

/** The stdout line an apply ends with; the next run reads it back to revert nodes that left the list. */
const APPLIED_LINE = "talos-nodes: ";

/** The environment every script reads: the nodes, then one patch file per part. */
export function talosApplyEnvironment(plan: TalosApplyPlan, nodes: string[], migrationConfirmed: boolean): Record<string, string> {
    return {
        TALOS_NODES: nodes.join(" "),
        TALOS_PATCH: toYamlStream(plan.always),
        TALOS_ISSUER_HOST: plan.issuerHost,
        TALOS_ISSUER_ADDRESS: plan.hostEntry?.address ?? "",
        TALOS_MIGRATION: migrationConfirmed ? "confirmed" : "",
        ...(plan.hostEntry ? { TALOS_HOST_PATCH: toYamlStream([plan.hostEntry.document]) } : {}),
        ...Object.fromEntries(partsOf(plan).map((part) => [`TALOS_PART_${part.name}`, toYamlStream([part.document])])),
    };
}

/**
 * Applies the plan to each listed node in turn, then reverts the nodes that
 * the previous run applied to and that are no longer listed. Applying again
 * changes nothing: the flags and the 1.14 document merge in place, and list
 * entries are added only when missing.
 */
export function talosctlApplyScript(plan: TalosApplyPlan): string {
    return [
        ...library(plan),
        "for node in $TALOS_NODES; do apply_node; done",
        // The provider hands the previous run's stdout to the next (create runs on update too).
        `previous=$(printf '%s\\n' "\${PULUMI_COMMAND_STDOUT:-}" | sed -n 's/^${APPLIED_LINE}//p' | tail -n 1)`,
        "for node in $previous; do if ! listed \"$node\" $TALOS_NODES; then revert_node; fi; done",
        `echo "${APPLIED_LINE}$TALOS_NODES"`,
    ].join("\n");
}

/** Takes the settings off each node that has them, in turn (destroy, or the last node leaving the list). */
export function talosctlRevertScript(plan: TalosApplyPlan): string {
    return [...library(plan), "for node in $TALOS_NODES; do revert_node; done"].join("\n");
}

/** Fails, naming the node, while a node has the 1.13 flags and the move to the 1.14 document is unconfirmed. */
export function talosctlMigrationCheckScript(plan: TalosApplyPlan): string {
    return [...library(plan), "for node in $TALOS_NODES; do read_node; check_migration; done"].join("\n");
}

/**
 * Fails, naming them, when nodes lost the settings. With TALOS_REPAIR=1 it
 * re-applies them instead (only when TALOS_DRY_RUN is not true: a preview
 * says what `pulumi up` will do).
 */
export function talosctlDriftCheckScript(plan: TalosApplyPlan): string {
    return [
        ...library(plan),
        'lost=""',
        'for node in $TALOS_NODES; do read_node; if ! in_sync; then lost="$lost $node"; fi; done',
        'if [ -z "$lost" ]; then exit 0; fi',
        'if [ "${TALOS_REPAIR:-}" != 1 ]; then',
        `  echo "talos: node(s)$lost lost the apiserver's OIDC settings (${plan.mode}); re-apply them with \\\`PLATFORM_AUTH_TALOS_REPAIR=1 pulumi up\\\`." >&2`,
        "  exit 1",
        "fi",
        'if [ "$TALOS_DRY_RUN" = true ]; then echo "talos: pulumi up re-applies the OIDC settings to$lost"; exit 0; fi',
        "for node in $lost; do apply_node; done",
        'echo "talos: re-applied the OIDC settings to$lost"',
    ].join("\n");
}

function partsOf(plan: TalosApplyPlan): PlanPart[] {
    return [...plan.appendOnce, ...plan.revert, ...plan.migrateFrom];
}

/** Adds each part's patch file where the part is on the node. */
function addWherePresent(parts: PlanPart[]): string[] {
    return parts.map((part) => `  if has '${part.presentWhen}'; then add ${part.name}; fi`);
}

/** The shell functions every script is made of; `$node` names the node at hand, `$live` holds its config. */
function library(plan: TalosApplyPlan): string[] {
    return [
        "set -eu",
        "dir=$(mktemp -d)",
        "trap 'rm -rf \"$dir\"' EXIT",
        'printf \'%s\' "$TALOS_PATCH" >"$dir/always.yaml"',
        ...(plan.hostEntry ? ['printf \'%s\' "$TALOS_HOST_PATCH" >"$dir/host.yaml"'] : []),
        ...partsOf(plan).map((part) => `printf '%s' "$TALOS_PART_${part.name}" >"$dir/${part.name}.yaml"`),
        "read_node() { live=$(talosctl --nodes \"$node\" get machineconfig -o yaml); }",
        // has REGEX: whether a line of the node's live config matches.
        "has() { printf '%s\\n' \"$live\" | grep -Eq \"$1\"; }",
        'listed() { item=$1; shift; for each in "$@"; do if [ "$each" = "$item" ]; then return 0; fi; done; return 1; }',
        // add NAME: the patch file NAME goes into the node's one `talosctl patch`.
        'add() { patches="$patches --patch @$dir/$1.yaml"; }',
        // The addresses of the StaticHostConfig documents that map only the issuer's
        // host: the ones this program writes (a document is named by its address).
        "host_docs() {",
        "  printf '%s\\n' \"$live\" | awk -v host=\"$TALOS_ISSUER_HOST\" '",
        '    function flush() { if (kind == "StaticHostConfig" && hosts == " " host) print name; kind = name = hosts = ""; listing = 0 }',
        '    $1 == "---" { flush(); next }',
        '    listing && $1 == "-" { hosts = hosts " " $2; next }',
        "    { listing = 0 }",
        '    $1 == "kind:" { kind = $2 } $1 == "name:" { name = $2 } $1 == "hostnames:" { listing = 1 }',
        "    END { flush() }'",
        "}",
        "unhost() {",
        "  printf 'apiVersion: v1alpha1\\nkind: StaticHostConfig\\nname: %s\\n$patch: delete\\n' \"$1\" >\"$dir/unhost-$1.yaml\"",
        '  add "unhost-$1"',
        "}",
        "check_migration() {",
        ...(plan.migrateFrom.length === 0
            ? ["  :"]
            : [
                  `  if [ "$TALOS_MIGRATION" != confirmed ] && { ${plan.migrateFrom.map((part) => `has '${part.presentWhen}'`).join(" || ")}; }; then`,
                  "    echo \"talos: node $node still has the Talos 1.13 oidc-* apiserver flags, but talosVersion asks for the 1.14 KubeAuthenticationConfig." +
                      ` That is the 1.13 to 1.14 migration: confirm it with \\\`pulumi config set talosMigration ${TALOS_MIGRATION_TO_1_14}\\\` (README: Applying the Talos patch). Nothing was changed.\" >&2`,
                  "    exit 1",
                  "  fi",
              ]),
        "}",
        "in_sync() {",
        ...plan.inSyncWhen.map((regex) => `  has '${regex}' || return 1`),
        ...plan.appendOnce.map((part) => `  has '${part.presentWhen}' || return 1`),
        '  [ -z "$TALOS_ISSUER_ADDRESS" ] || listed "$TALOS_ISSUER_ADDRESS" $(host_docs)',
        "}",
        "apply_node() {",
        "  read_node",
        "  check_migration",
        '  patches=""',
        "  mode=auto",
        ...addWherePresent([...plan.migrateFrom, ...plan.revert]),
        "  add always",
        ...plan.appendOnce.map((part) => `  if ! has '${part.presentWhen}'; then add ${part.name};${part.needsReboot ? " mode=staged;" : ""} fi`),
        '  for address in $(host_docs); do if [ "$address" != "$TALOS_ISSUER_ADDRESS" ]; then unhost "$address"; fi; done',
        ...(plan.hostEntry ? ['  if ! listed "$TALOS_ISSUER_ADDRESS" $(host_docs); then add host; fi'] : []),
        // A `.machine.files` entry takes effect only on reboot: stage, then reboot (talosctl waits until it is back).
        '  talosctl patch machineconfig --nodes "$node" --mode "$mode" $patches',
        '  if [ "$mode" = staged ]; then talosctl --nodes "$node" reboot; fi',
        '  talosctl --nodes "$node" health --wait-timeout 10m',
        "}",
        "revert_node() {",
        "  read_node",
        '  patches=""',
        ...addWherePresent(plan.revert),
        '  for address in $(host_docs); do unhost "$address"; done',
        // Nothing of this program's on the node: reverting twice is harmless.
        '  if [ -z "$patches" ]; then return 0; fi',
        '  talosctl patch machineconfig --nodes "$node" --mode auto $patches',
        '  talosctl --nodes "$node" health --wait-timeout 10m',
        "}",
    ];
}
