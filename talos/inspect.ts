// Before any resource exists, the nodes are read: a migration that is not
// confirmed is refused like any bad config, what else each node holds is
// said, so that a preview shows what `pulumi up` will keep and remove, and
// each node that lacks any of the program's settings is named. The program
// reads that as drift when its settings have not changed since the last
// apply: the talosctl command cannot read the nodes back, so `refresh` alone
// never would.
import { createHash } from "node:crypto";
import * as command from "@pulumi/command";
import { DIFFERS, REFUSAL } from "./compose";

/** How the command provider runs the agent: Node runs its TypeScript as it is, from the project directory. */
export const AGENT = "node --disable-warning=MODULE_TYPELESS_PACKAGE_JSON talos/agent.ts";

export interface NodeInspection {
    /** Why the nodes cannot take the settings: the config key to look at, and the message naming the node. */
    refusals: { key: string; message: string }[];
    /** What the nodes keep and what the program will remove, one line each. */
    notes: string[];
    /** Each node that lacks any of the program's settings now: `<node> (<changes>)`. */
    differs: string[];
}

/** Runs `agent inspect` (an invoke, so in every preview) and sorts its report. */
export async function inspectTalosNodes(environment: Record<string, string>): Promise<NodeInspection> {
    const { stdout = "" } = await command.local.run({ command: `${AGENT} inspect`, environment });
    return agentReport(stdout);
}

/** The agent's lines: refusals (REFUSAL-prefixed) apart from the rest. */
export function agentReport(stdout: string): NodeInspection {
    const lines = stdout.split("\n").filter(Boolean);
    return {
        refusals: lines.filter((line) => line.startsWith(REFUSAL)).map((line) => {
            const [key, ...message] = line.slice(REFUSAL.length).split(": ");
            return { key, message: message.join(": ") };
        }),
        notes: lines.filter((line) => !line.startsWith(REFUSAL) && !line.startsWith(DIFFERS)),
        differs: lines.filter((line) => line.startsWith(DIFFERS)).map((line) => line.slice(DIFFERS.length)),
    };
}

/** The output the next deployment compares with: a digest of the nodes and settings the agent applies. */
export const SETTINGS_OUTPUT = "talosSettings";

export function settingsDigest(environment: Record<string, string>): string {
    return createHash("sha256").update(`${environment.TALOS_NODES}\n${environment.TALOS_OWNED}`).digest("hex");
}

/**
 * Nodes that lack the settings while the settings are the ones the last
 * deployment applied: someone changed a node by hand, or it was reset. Any
 * other difference is an update that `pulumi up` makes anyway.
 */
export function driftMessage(inspection: NodeInspection, applied: string | undefined, now: string, mode: string): string | undefined {
    if (inspection.differs.length === 0 || applied !== now) return undefined;
    return `talos: node(s) ${inspection.differs.join(", ")} differ from the apiserver's OIDC settings (${mode}); re-apply them with \`PLATFORM_AUTH_TALOS_REPAIR=1 pulumi up\`.`;
}
