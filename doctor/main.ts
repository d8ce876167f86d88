// `npm run doctor -- --stack <name>`: walks the login path in the order a
// login does (the stack's outputs, the issuer, Dex in the cluster, the route,
// kubelogin, your kubeconfig, a cached login) and prints one line per check,
// with the fix for each failure. Exits 0 only if every check passes.
//
// Options: --context <admin context> (default: the stack's kubernetes:context),
// --oidc-context <context> (default: oidc@<stack>), --server-only (the serving
// side only, for CI, which has no kubelogin, kubeconfig user or login).
import { readKubeloginUser } from "../kubeconfig/read";
import { parseExposure } from "../config/fields";
import { DEX_NAMESPACE, DEX_OBJECTS } from "../dex/objects";
import { CHECKS, deploymentCheck, discoveryCheck, exposureResource, fail, jwksCheck, outputsCheck, routeCheck, skip, type CheckResult } from "./checks";
import { cachedLogins, kubeconfigEntryCheck, kubeloginCheck, whoamiCheck } from "./client";
import { httpsGet, kubeconfigFiles, kubectlIn, parseOptions, runCommand, runMain, stackSettings, tokenCacheFiles } from "./cli";
import { issuerTrust } from "./stack";

/** Long enough for a silent refresh, short enough not to sit out kubelogin's wait for a browser. */
const WHOAMI_TIMEOUT_MS = 45_000;

const MARK = { pass: "✔", fail: "✘", skip: "–" };

function print(result: CheckResult): void {
    console.log(`${MARK[result.status]} ${result.name}: ${result.detail}`);
    if (result.fix) console.log(`    fix: ${result.fix}`);
}

async function doctor(): Promise<number> {
    const options = parseOptions(process.argv.slice(2), "npm run doctor -- --stack <name> [--context <admin context>] [--oidc-context <context>] [--server-only]");
    const { stack } = options;
    const results: CheckResult[] = [];
    const record = (result: CheckResult) => {
        results.push(result);
        print(result);
    };

    const { result: outputsResult, outputs } = outputsCheck(stack, runCommand("pulumi", ["stack", "output", "--json", "--stack", stack]));
    record(outputsResult);

    if (outputs) {
        const trust = issuerTrust(readKubeloginUser(outputs.kubeconfigUser).caPem);
        const discovery = discoveryCheck(outputs, trust, await httpsGet(`${outputs.issuerUrl}/.well-known/openid-configuration`, trust.caPem));
        record(discovery.result);
        record(discovery.jwksUri ? jwksCheck(await httpsGet(discovery.jwksUri, trust.caPem)) : skip(CHECKS.jwks, "needs the discovery document"));
    } else {
        [CHECKS.discovery, CHECKS.jwks].forEach((name) => record(skip(name, "needs the stack outputs")));
    }

    const settings = stackSettings(stack);
    const context = options.context ?? settings.context;
    // An unreadable config leaves the program's default exposure, as `pulumi up` would take it.
    const exposure = settings.exposure ?? parseExposure(undefined, () => undefined)!;
    if (context) {
        const kubectl = kubectlIn(context);
        record(deploymentCheck(context, kubectl("get", "deployment", DEX_OBJECTS.workload, "-n", DEX_NAMESPACE, "-o", "json")));
        record(routeCheck(exposure, context, kubectl("get", exposureResource(exposure), DEX_OBJECTS.workload, "-n", DEX_NAMESPACE, "-o", "json")));
    } else {
        record(fail(CHECKS.deployment, "no admin context: the stack config is unreadable or sets no kubernetes:context", "pass the cluster's admin context with --context"));
        record(skip(exposure.kind === "httproute" ? CHECKS.route : CHECKS.ingress, "needs the admin context"));
    }

    if (options.serverOnly) {
        [CHECKS.kubelogin, CHECKS.kubeconfig, CHECKS.whoami].forEach((name) => record(skip(name, "--server-only")));
    } else {
        record(kubeloginCheck(runCommand("kubectl", ["oidc-login", "--help"])));
        if (outputs) {
            record(kubeconfigEntryCheck(stack, outputs, kubeconfigFiles()));
            const oidcContext = options.oidcContext ?? `oidc@${stack}`;
            const logins = cachedLogins(tokenCacheFiles(), outputs.issuerUrl);
            // Only with a cached login: without one, kubelogin would wait for a browser.
            const whoami = logins.length > 0 ? runCommand("kubectl", ["--context", oidcContext, "auth", "whoami", "-o", "json"], WHOAMI_TIMEOUT_MS) : undefined;
            record(whoamiCheck(stack, outputs, oidcContext, logins, whoami));
        } else {
            [CHECKS.kubeconfig, CHECKS.whoami].forEach((name) => record(skip(name, "needs the stack outputs")));
        }
    }

    const failed = results.filter((r) => r.status === "fail").length;
    console.log(failed === 0 ? `doctor: the login path of stack ${stack} is healthy` : `doctor: ${failed} of ${results.length} checks failed; each names its fix above`);
    return failed === 0 ? 0 : 1;
}

runMain(doctor);
