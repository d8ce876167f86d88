// The two stacks as the tests load them: each real Pulumi.<stack>.yaml plus
// the keys a user sets by hand (local also gets a throwaway mkcert-like CA),
// and what each promises. Frozen, so no test can change another's fixture.
import { makeCa } from "../../lab/pki";
import { USER_KEYS } from "../../lab/stack-file";

export const LOCAL_CA = makeCa("mkcert development CA");

export interface StackFixture {
    domain: string;
    userKeys: Readonly<Record<string, string>>;
    replicas: number;
}

export const STACKS: Readonly<Record<"local" | "prod", StackFixture>> = Object.freeze({
    local: Object.freeze({ domain: "platform.lan", userKeys: Object.freeze({ ...USER_KEYS, issuerCaPem: LOCAL_CA.certPem }), replicas: 1 }),
    prod: Object.freeze({ domain: "platform.devantler.tech", userKeys: Object.freeze({ ...USER_KEYS }), replicas: 2 }),
});
