// Stack entry point: `pulumi up` runs this. The outputs are a contract with
// users and scripts, so their names are fixed (see README, Outputs).
import { platformAuth } from "./program";

const outputs = platformAuth();

export const issuerUrl = outputs.issuerUrl;
export const kubectlClientId = outputs.kubectlClientId;
export const apiServerAudience = outputs.apiServerAudience;
export const kubeconfigUser = outputs.kubeconfigUser;
export const setCredentialsCommand = outputs.setCredentialsCommand;
export const setContextCommand = outputs.setContextCommand;
export const oidcLoginSetupCommand = outputs.oidcLoginSetupCommand;
export const talosPatch = outputs.talosPatch;
export const talosPatchMode = outputs.talosPatchMode;
export const githubOAuthApp = outputs.githubOAuthApp;
