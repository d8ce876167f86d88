// Dex, the OIDC issuer, as plain typed Kubernetes objects. No Helm chart: a CI
// preview must never need a chart repository, and every object here is
// rendered by a tested function in dex/config.ts or dex/objects.ts.
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { adoptionMetadata, type AdoptedObjects, type Exposure } from "../config/types";
import { apiServerClientSecret, checksum, CREDENTIALS, DEX_HTTP_PORT, dexConfigYaml, GITHUB_CA } from "./config";
import {
    DEX_NAMESPACE,
    DEX_OBJECTS,
    dexDisruptionBudget,
    dexExposureSpec,
    dexLabels,
    dexNetworkPolicySpec,
    type DexPeers,
    dexPodTemplate,
    dexCustomResourceDefinitions,
    dexStorageRules,
} from "./objects";

export interface DexArgs {
    /** Dex's config.yaml content (from dex/config.ts `dexConfig`); it holds no secrets. */
    config: Record<string, unknown>;
    host: string;
    githubClientId: pulumi.Input<string>;
    githubClientSecret: pulumi.Input<string>;
    replicas: number;
    image: string;
    exposure: Exposure;
    /** The device flow: without it, the route refuses Dex's device endpoints (objects.ts, DEX_DEVICE_PATH). */
    deviceFlow: boolean;
    /** Who may reach Dex's ports. */
    peers: DexPeers;
    /** Existing objects to take over (adoptExisting); their apply wins the conflicts with the old owner. */
    adopted: AdoptedObjects;
    /** A GitHub Enterprise Server's private CA, which Dex must trust to log people in there. */
    githubCaPem?: string;
}

export class Dex extends pulumi.ComponentResource {
    constructor(name: string, args: DexArgs, opts?: pulumi.ComponentResourceOptions) {
        super("platform-auth:auth:Dex", name, {}, opts);
        const parent = { parent: this };
        const metadata = (kind: string, objectName: string) => ({ name: objectName, namespace: DEX_NAMESPACE, labels: dexLabels, ...adoptionMetadata(args.adopted, kind, objectName) });
        const configYaml = dexConfigYaml(args.config);

        const namespace = new k8s.core.v1.Namespace(
            `${name}-namespace`,
            {
                metadata: {
                    name: DEX_NAMESPACE,
                    labels: {
                        ...dexLabels,
                        "pod-security.kubernetes.io/enforce": "restricted",
                        "pod-security.kubernetes.io/enforce-version": "latest",
                    },
                    ...adoptionMetadata(args.adopted, "Namespace", DEX_NAMESPACE),
                },
            },
            parent,
        );
        const inNamespace = { parent: this, dependsOn: [namespace] };

        const serviceAccount = new k8s.core.v1.ServiceAccount(`${name}-sa`, { metadata: metadata("ServiceAccount", DEX_OBJECTS.serviceAccount) }, inNamespace);
        const storageUser = [{ kind: "ServiceAccount", name: serviceAccount.metadata.name, namespace: DEX_NAMESPACE }];
        const role = new k8s.rbac.v1.Role(`${name}-storage`, { metadata: metadata("Role", "dex-storage"), rules: dexStorageRules }, inNamespace);
        const roleBinding = new k8s.rbac.v1.RoleBinding(
            `${name}-storage`,
            {
                metadata: metadata("RoleBinding", "dex-storage"),
                roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: role.metadata.name },
                subjects: storageUser,
            },
            inNamespace,
        );
        const crds = dexCustomResourceDefinitions().map(
            (crd) =>
                new k8s.apiextensions.v1.CustomResourceDefinition(
                    `${name}-crd-${crd.spec.names.plural}`,
                    { metadata: { name: crd.name, labels: dexLabels, ...adoptionMetadata(args.adopted, "CustomResourceDefinition", crd.name) }, spec: crd.spec },
                    parent,
                ),
        );

        // Not a ConfigMap: the config is only $VAR references today, but a
        // Secret keeps it out of `view`'s reach should anyone inline a value.
        const configSecret = new k8s.core.v1.Secret(
            `${name}-config`,
            { metadata: metadata("Secret", DEX_OBJECTS.configSecret), type: "Opaque", stringData: { "config.yaml": configYaml, ...(args.githubCaPem ? { [GITHUB_CA.secretKey]: args.githubCaPem } : {}) } },
            inNamespace,
        );
        const credentialValues = pulumi.secret(
            pulumi.all([args.githubClientId, args.githubClientSecret]).apply(([id, secret]) => ({
                [CREDENTIALS.githubClientId.key]: id,
                [CREDENTIALS.githubClientSecret.key]: secret,
                [CREDENTIALS.apiServerClientSecret.key]: apiServerClientSecret(secret),
            })),
        );
        const credentials = new k8s.core.v1.Secret(
            `${name}-credentials`,
            { metadata: metadata("Secret", DEX_OBJECTS.credentialsSecret), type: "Opaque", stringData: credentialValues },
            inNamespace,
        );
        // A digest reveals nothing of a high-entropy secret, so it may be a plain annotation.
        const credentialsChecksum = pulumi.unsecret(credentialValues.apply((values) => checksum(JSON.stringify(values))));

        const deployment = new k8s.apps.v1.Deployment(
            `${name}`,
            {
                metadata: metadata("Deployment", DEX_OBJECTS.workload),
                spec: {
                    replicas: args.replicas,
                    selector: { matchLabels: dexLabels },
                    strategy: { type: "RollingUpdate", rollingUpdate: { maxUnavailable: 0, maxSurge: 1 } },
                    template: dexPodTemplate({ configYaml, image: args.image, credentialsChecksum, githubCaPem: args.githubCaPem }),
                },
            },
            // Dex checks for its CRDs and writes its state at start-up: without them and its storage RBAC the first pods crash-loop.
            { parent: this, dependsOn: [namespace, serviceAccount, configSecret, credentials, roleBinding, ...crds] },
        );

        const service = new k8s.core.v1.Service(
            `${name}`,
            {
                metadata: metadata("Service", DEX_OBJECTS.service),
                spec: { selector: dexLabels, ports: [{ name: "http", port: DEX_HTTP_PORT, targetPort: "http", protocol: "TCP" }] },
            },
            inNamespace,
        );
        new k8s.policy.v1.PodDisruptionBudget(
            `${name}`,
            { metadata: metadata("PodDisruptionBudget", DEX_OBJECTS.workload), spec: { selector: { matchLabels: dexLabels }, ...dexDisruptionBudget(args.replicas) } },
            { parent: this, dependsOn: [deployment] },
        );
        new k8s.networking.v1.NetworkPolicy(`${name}`, { metadata: metadata("NetworkPolicy", DEX_OBJECTS.workload), spec: dexNetworkPolicySpec(args.peers) }, inNamespace);

        const exposure = dexExposureSpec(args.exposure, args.host, DEX_OBJECTS.service, args.deviceFlow);
        if (exposure.kind === "HTTPRoute") {
            new k8s.apiextensions.CustomResource(`${name}-route`, { ...exposure, metadata: metadata(exposure.kind, DEX_OBJECTS.workload) }, { parent: this, dependsOn: [service] });
        } else {
            new k8s.networking.v1.Ingress(`${name}-ingress`, { metadata: metadata(exposure.kind, DEX_OBJECTS.workload), spec: exposure.spec }, { parent: this, dependsOn: [service] });
        }

        this.registerOutputs({});
    }
}
