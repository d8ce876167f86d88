// `npm run revoke -- --stack <name> <email>`, with the break-glass admin
// context: deletes the user's Dex refresh tokens and offline sessions, so
// their next silent refresh fails, and says how long the ID tokens they hold
// stay valid. Only an admin can: OIDC users may never read dex.coreos.com.
import { DEX_NAMESPACE, DEX_OBJECTS } from "../dex/objects";
import { firstLine, kubectlFailureFix, type CommandResult } from "./checks";
import { kubectlIn, parseOptions, runMain, stackSettings } from "./cli";
import { idTokenWindow, OFFLINE_SESSIONS, REFRESH_TOKENS, revocationFor, revocationReport } from "./revocation";

const USAGE = "npm run revoke -- --stack <name> [--context <admin context>] <email>";

async function revoke(): Promise<number> {
    const options = parseOptions(process.argv.slice(2), USAGE);
    // The doctor's options mean nothing here: refuse them rather than run as if they did.
    if (options.oidcContext !== undefined || options.serverOnly) throw new Error(`--oidc-context and --server-only are the doctor's; usage: ${USAGE}`);
    const [email, ...extra] = options.positionals;
    if (!email || extra.length > 0) throw new Error(`give exactly one email; usage: ${USAGE}`);
    const settings = stackSettings(options.stack);
    const context = options.context ?? settings.context;
    if (!context) throw new Error("no admin context: the stack config is unreadable or sets no kubernetes:context; pass --context");
    const kubectl = kubectlIn(context);
    const must = (result: CommandResult, what: string) => {
        if (result.status !== 0) throw new Error(`${what}: ${firstLine(result.stderr)}; ${kubectlFailureFix(context, result, "Dex's storage CRDs are missing: has Dex ever started?")}`);
        return result.stdout;
    };
    const list = (resource: string) => JSON.parse(must(kubectl("get", resource, "-n", DEX_NAMESPACE, "-o", "json"), `listing ${resource}`)).items;

    const revocation = revocationFor(email, list(REFRESH_TOKENS), list(OFFLINE_SESSIONS));
    for (const [resource, objects] of [[REFRESH_TOKENS, revocation.refreshTokens], [OFFLINE_SESSIONS, revocation.offlineSessions]] as const) {
        if (objects.length > 0) must(kubectl("delete", resource, "-n", DEX_NAMESPACE, ...objects.map((o) => o.metadata.name)), `deleting ${resource}`);
    }
    const secret = kubectl("get", "secret", DEX_OBJECTS.configSecret, "-n", DEX_NAMESPACE, "-o", "jsonpath={.data.config\\.yaml}");
    const dexConfig = secret.status === 0 && secret.stdout ? Buffer.from(secret.stdout, "base64").toString() : undefined;
    revocationReport(email, revocation, idTokenWindow(dexConfig, settings.idTokenLifetime)).forEach((line) => console.log(line));
    return revocation.refreshTokens.length > 0 ? 0 : 1;
}

runMain(revoke);
