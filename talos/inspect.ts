// Before any resource exists, the nodes are read: a migration that is not
// confirmed is refused like any bad config, and what else each node holds is
// said, so that a preview shows what `pulumi up` will keep and remove.
import * as command from "@pulumi/command";
import { REFUSAL } from "./compose";

/** How the command provider runs the agent: Node runs its TypeScript as it is, from the project directory. */
export const AGENT = "node --disable-warning=MODULE_TYPELESS_PACKAGE_JSON talos/agent.ts";

export interface NodeInspection {
    /** Why the nodes cannot take the settings: the config key to look at, and the message naming the node. */
    refusals: { key: string; message: string }[];
    /** What the nodes keep and what the program will remove, one line each. */
    notes: string[];
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
        notes: lines.filter((line) => !line.startsWith(REFUSAL)),
    };
}
