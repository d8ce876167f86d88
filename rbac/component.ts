// Read-only RBAC for OIDC identities: cluster-reader plus two bindings. No OIDC
// subject is ever bound to cluster-admin, admin or edit; writes are break-glass
// only, through the root client certificate.
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { adoptionMetadata, type AdoptedObjects } from "../config/types";
import { CLUSTER_READER_ROLE, READ_ONLY_BINDINGS, type PolicyRule, type Subject } from "./rules";

export interface ReadOnlyRbacArgs {
    clusterReaderRules: PolicyRule[];
    subjects: Subject[];
    /** Existing objects to take over (adoptExisting); their apply wins the conflicts with the old owner. */
    adopted: AdoptedObjects;
}

export class ReadOnlyRbac extends pulumi.ComponentResource {
    constructor(name: string, args: ReadOnlyRbacArgs, opts?: pulumi.ComponentResourceOptions) {
        super("platform-auth:auth:ReadOnlyRbac", name, {}, opts);
        const labels = { "app.kubernetes.io/part-of": "platform-auth" };
        const clusterReader = new k8s.rbac.v1.ClusterRole(
            `${name}-${CLUSTER_READER_ROLE}`,
            { metadata: { name: CLUSTER_READER_ROLE, labels, ...adoptionMetadata(args.adopted, "ClusterRole", CLUSTER_READER_ROLE) }, rules: args.clusterReaderRules },
            { parent: this },
        );
        for (const [binding, role] of Object.entries(READ_ONLY_BINDINGS)) {
            new k8s.rbac.v1.ClusterRoleBinding(
                `${name}-${binding}`,
                {
                    metadata: { name: binding, labels, ...adoptionMetadata(args.adopted, "ClusterRoleBinding", binding) },
                    roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: role },
                    subjects: args.subjects,
                },
                { parent: this, dependsOn: role === CLUSTER_READER_ROLE ? [clusterReader] : [] },
            );
        }
        this.registerOutputs({});
    }
}
