import { expect } from "chai";
import { parse, stringify } from "yaml";
import { makeCa } from "../lab/pki";
import { CHECKS } from "./checks";
import { cachedLogins, kubeconfigEntryCheck, kubeloginCheck, whoamiCheck } from "./client";
import { parseStackOutputs, type StackOutputs } from "./stack";
import { failed, ok, outputsJson } from "./support.test";

/** A kubeconfig file holding `users`, as kubectl config set-credentials leaves it. */
const kubeconfig = (...users: unknown[]) => stringify({ apiVersion: "v1", kind: "Config", users });
const encode = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url");
/** A kubelogin cache file whose ID token carries `claims` (the doctor reads claims, never checks signatures). */
const cacheFile = (claims: Record<string, unknown>) => JSON.stringify({ id_token: `${encode({ alg: "RS256" })}.${encode(claims)}.sig`, refresh_token: "r" });

describe("doctor: your side of the login", () => {
    let local: StackOutputs;
    before(async () => {
        local = parseStackOutputs(await outputsJson("local"));
    });
    const ned = () => ({ iss: local.issuerUrl, aud: [local.apiServerAudience, local.kubectlClientId], email: "ned@devantler.tech" });

    it("kubelogin must answer `kubectl oidc-login --help`", () => {
        expect(kubeloginCheck(ok("Login to the OpenID Connect provider")).status).to.equal("pass");
        expect(kubeloginCheck({ status: 1, stdout: "", stderr: 'error: unknown command "oidc-login" for "kubectl"' }).fix).to.include("krew install oidc-login");
    });

    it("the entry setCredentialsCommand wrote matches the outputs", () => {
        const result = kubeconfigEntryCheck("local", local, [{ path: "/home/ned/.kube/config", text: kubeconfig(parse(local.kubeconfigUser)) }]);
        expect(result).to.include({ status: "pass", name: CHECKS.kubeconfig });
    });

    it("an entry from before a CA rotation is drift, named, with the command that fixes it", () => {
        const stale = parse(local.kubeconfigUser);
        stale.user.exec.args = stale.user.exec.args.map((a: string) => (a.startsWith("--certificate-authority-data=") ? `--certificate-authority-data=${Buffer.from(makeCa("old CA").certPem).toString("base64")}` : a));
        const result = kubeconfigEntryCheck("local", local, [{ path: "/k", text: kubeconfig(stale) }]);
        expect(result.status).to.equal("fail");
        expect(result.detail).to.include("issuer CA").and.not.include("scopes");
        expect(result.fix).to.include("setCredentialsCommand --stack local");
    });

    it("kubectl's first file with the user wins, and a missing user says how to create it", () => {
        const other = parse(local.kubeconfigUser);
        other.user.exec.args = other.user.exec.args.filter((a: string) => !a.includes("offline_access"));
        const files = [{ path: "/a", text: kubeconfig(other) }, { path: "/b", text: kubeconfig(parse(local.kubeconfigUser)) }];
        expect(kubeconfigEntryCheck("local", local, files).detail).to.include("/a").and.include("scopes");
        const missing = kubeconfigEntryCheck("local", local, [{ path: "/a", text: kubeconfig({ name: "admin", user: { token: "t" } }) }]);
        expect(missing.detail).to.include("no user oidc-local");
        expect(missing.fix).to.include("setContextCommand");
    });

    it("only cached logins from this stack's issuer count", () => {
        const files = [cacheFile(ned()), cacheFile({ ...ned(), iss: "https://dex.elsewhere.lan" }), "not json"];
        expect(cachedLogins(files, local.issuerUrl)).to.deep.equal([ned()]);
    });

    it("passes when the apiserver names you as the stack's patch maps your login", () => {
        const whoami = ok(JSON.stringify({ status: { userInfo: { username: "oidc:ned@devantler.tech" } } }));
        expect(whoamiCheck("local", local, "oidc@local", [ned()], whoami)).to.include({ status: "pass", detail: "as oidc:ned@devantler.tech" });
        const renamed = whoamiCheck("local", local, "oidc@local", [ned()], ok(JSON.stringify({ status: { userInfo: { username: "ned@devantler.tech" } } })));
        expect(renamed.status).to.equal("fail");
        expect(renamed.fix).to.include("talosPatch");
    });

    it("expects the name as the apiserver maps it: lowercased by the Talos 1.14 document, as it is by the 1.13 flags", async () => {
        const v114 = parseStackOutputs(await outputsJson("local", { "platform-auth:talosVersion": "v1.14" }));
        const mixedCase = { ...ned(), email: "Ned@devantler.tech" };
        const named = (username: string) => ok(JSON.stringify({ status: { userInfo: { username } } }));
        expect(whoamiCheck("local", v114, "oidc@local", [mixedCase], named("oidc:ned@devantler.tech")).status).to.equal("pass");
        expect(whoamiCheck("local", local, "oidc@local", [mixedCase], named("oidc:Ned@devantler.tech")).status).to.equal("pass");
        expect(whoamiCheck("local", local, "oidc@local", [mixedCase], named("oidc:ned@devantler.tech")).status).to.equal("fail");
    });

    it("Unauthorized with a token the patch accepts blames the apiserver's settings: re-apply talosPatch", () => {
        const result = whoamiCheck("local", local, "oidc@local", [ned()], failed("error: You must be logged in to the server (Unauthorized)"));
        expect(result.status).to.equal("fail");
        expect(result.fix).to.include("talosPatch").and.not.include("setCredentialsCommand");
    });

    it("Unauthorized with a token lacking the audience blames the kubeconfig user", () => {
        const result = whoamiCheck("local", local, "oidc@local", [{ ...ned(), aud: local.kubectlClientId }], failed("error: You must be logged in to the server (Unauthorized)"));
        expect(result.detail).to.include(`without ${local.apiServerAudience}`);
        expect(result.fix).to.include("setCredentialsCommand").and.not.include("talosPatch");
    });

    it("without a cached login it does not run, and a login that needs a browser says to log in again", () => {
        expect(whoamiCheck("local", local, "oidc@local", [], undefined).status).to.equal("skip");
        const waiting = whoamiCheck("local", local, "oidc@local", [ned()], { status: -1, stdout: "", stderr: "", timedOut: true });
        expect(waiting.fix).to.include("kubectl oidc-login clean");
    });
});
