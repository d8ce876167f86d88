import { expect } from "chai";
import { container, dexConfigYaml, k8s, restrictedPod } from "../test/fixtures";
import { checkPlaintextCredentials } from "./plaintext-credentials";
import { label, RULES } from "./resource";

describe("policy: no-plaintext-credentials", () => {
    it("passes secrets taken by reference, non-credential literals, and a Dex config of $VARs", () => {
        const configMap = k8s("ConfigMap", "dex", { data: { "config.yaml": dexConfigYaml("$GITHUB_CLIENT_SECRET"), "log-level": "debug" } });
        const secret = k8s("Secret", "dex-credentials", { stringData: { "client-secret": "s3cr3t-value", "config.yaml": dexConfigYaml("${GITHUB_CLIENT_SECRET}") } });
        for (const r of [restrictedPod(), configMap, secret]) expect(checkPlaintextCredentials(r), label(r)).to.deep.equal([]);
    });

    it("fails a literal credential env value, in any workload kind", () => {
        const env = [{ name: "GITHUB_CLIENT_SECRET", value: "s3cr3t" }];
        const cronJob = k8s("CronJob", "sync", { spec: { jobTemplate: { spec: { template: { spec: { initContainers: [{ name: "init", env }] } } } } } });
        const [message] = checkPlaintextCredentials(cronJob);
        expect(message).to.contain("CronJob/sync").and.contain('GITHUB_CLIENT_SECRET of container "init"').and.contain("secretKeyRef");
    });

    it("fails literal env values of PASSWORD and TOKEN names, not only SECRET", () => {
        const pod = restrictedPod();
        container(pod).env.push({ name: "DB_PASSWORD", value: "hunter2" }, { name: "REGISTRY_TOKEN", value: "t0ken" });
        const messages = checkPlaintextCredentials(pod);
        expect(messages).to.have.length(2);
        expect(messages[0]).to.contain("sets env DB_PASSWORD");
        expect(messages[1]).to.contain("sets env REGISTRY_TOKEN");
    });

    it("fails a credential-named key in a ConfigMap's binaryData", () => {
        const messages = checkPlaintextCredentials(k8s("ConfigMap", "app", { binaryData: { "client-secret": Buffer.from("s3cr3t").toString("base64") } }));
        expect(messages).to.have.length(1);
        expect(messages[0]).to.contain('ConfigMap/app has key "client-secret"');
    });

    const failing: [string, Record<string, string>, string][] = [
        ["a credential-named key", { "api-key": "abc" }, 'has key "api-key"'],
        // Dex expands only $NAME and ${NAME}; anything else after a "$" is the secret itself.
        ["a $-prefixed literal that is no $VAR", { "config.yaml": dexConfigYaml("$3cr3t!") }, 'connector "github" with a literal clientSecret'],
        ["a PEM private key", { "tls.key": "-----BEGIN EC PRIVATE KEY-----\nMHcC\n-----END EC PRIVATE KEY-----\n" }, "PEM private key"],
        ["a literal password in a document", { "app.yaml": "database:\n  password: hunter2\n" }, "database.password"],
        ["Dex config with a literal clientSecret", { "config.yaml": dexConfigYaml("0123456789abcdef") }, 'connector "github" with a literal clientSecret'],
    ];
    for (const [what, data, expected] of failing) {
        it(`fails a ConfigMap holding ${what}`, () => {
            const messages = checkPlaintextCredentials(k8s("ConfigMap", "app", { data }));
            expect(messages).to.have.length(1);
            expect(messages[0]).to.contain("ConfigMap/app").and.contain(expected).and.contain(RULES.credentials);
        });
    }

    it("fails a Dex config in a Secret with a literal clientSecret or static client secret, also base64 in data", () => {
        const literal = dexConfigYaml("0123456789abcdef").replace("secretEnv: DASHBOARD_SECRET", "secret: dashboard-s3cr3t");
        const secret = k8s("Secret", "dex-config", { data: { "config.yaml": Buffer.from(literal).toString("base64") } });
        const messages = checkPlaintextCredentials(secret);
        expect(messages).to.have.length(2);
        expect(messages[0]).to.contain("Secret/dex-config").and.contain("literal clientSecret");
        expect(messages[1]).to.contain('static client "dashboard" with a literal secret').and.contain("secretEnv");
    });
});
