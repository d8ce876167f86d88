// What the steps after the control plane share within one mode: the program's
// run, the cluster and Dex it configured, and the ways in that users have.
import type { StackRun } from "../../test/support/stack";
import type { Cluster, Kubectl, Pki } from "../control-plane";
import type { DexHandle, StaticUser } from "../dex";
import type { Report } from "../report";

export interface ModeContext {
    program: StackRun;
    cluster: Cluster;
    pki: Pki;
    dex: DexHandle;
    kubectl: Kubectl;
    /** The issuer's CA, which kubelogin and direct token requests trust. */
    issuerCaPem: string;
    /** kubelogin's HOME: its token cache lives below it. */
    home: string;
    report: Report;
    /** A kubeconfig with the program's kubeconfigUser entry, logging in as `who` by password grant. */
    oidcKubeconfig(who: StaticUser, password?: string): string;
}
