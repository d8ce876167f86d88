// Stack entry point: `pulumi up` runs this. The outputs are a contract with
// users and scripts, so their names are fixed (see docs/configuration.md, Outputs).
// The program is async (it asks the cluster before creating anything): Pulumi
// runs an exported function and takes the outputs from what it resolves to.
import { platformAuth } from "./program";

export = () => platformAuth();
