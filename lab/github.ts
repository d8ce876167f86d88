// A stand-in for GitHub, over TLS, as github.com and api.github.com or as a
// GitHub Enterprise Server (the API under /api/v3): one org, one set of
// people and teams, shared by both of GitHub's callers here.
// - The github provider manages the org's teams and memberships (REST, and
//   the one GraphQL query TeamMembers reads a team's direct members with).
// - Dex's GitHub connector logs people in: the web flow (a sign-in form at
//   /login/oauth/authorize, the code exchanged at /login/oauth/access_token),
//   then the person's profile, emails, org membership and teams, with `Link`
//   pagination, as GitHub answers a token with the scopes it was granted.
// So the memberships `pulumi up` makes are the ones Dex reads. Every call is
// recorded; any other call answers 404 and is recorded too (the deploy step
// fails on any write the provider made that the stand-in does not serve). The suite can
// also act in GitHub's web UI (make a team, add a member) and break the API.
//
// The server (github-server.ts) runs in a worker thread: the suite's kubectl
// calls are synchronous, and a login inside one reaches GitHub. This side
// asks the worker synchronously too (a message, then Atomics.wait until the
// answer is posted), so the suite reads GitHub's state as plain values.
import { join } from "node:path";
import { MessageChannel, receiveMessageOnPort, Worker } from "node:worker_threads";
import type { Operations } from "./github-server";
import type { GitHubStandInOptions, MembershipChange, RecordedCall } from "./github-types";

export interface GitHubStandIn {
    /** Every call so far, in order. */
    calls(): RecordedCall[];
    memberships(): MembershipChange[];
    /** Team slug to its members' logins and roles, as the stand-in holds them now. */
    teams(): Record<string, Record<string, string>>;
    /** As a person in GitHub's web UI: a team made outside any stack, with its members. */
    makeTeam(slug: string, members: Record<string, string>): void;
    /** As a team maintainer in the web UI: adds someone to a team. */
    addMember(slug: string, login: string): void;
    /** Slugs of the teams made by makeTeam, which no destroy may delete. */
    madeByHand(): string[];
    /** As the app's owner: a new client secret (GitHub keeps the old one valid too, until deleted). */
    addClientSecret(secret: string): void;
    /** As the app's owner: deletes a client secret; Dex's code exchanges with it fail from then on. */
    deleteClientSecret(secret: string): void;
    /** Every API call made with a person's token answers `status` from now on; undefined ends the outage. */
    breakApi(status: number | undefined): void;
    /**
     * Holds GitHub's answer to the next creation of team `slug` (the team is created):
     * `arrived` resolves when the request is in, and the answer goes out on `release()`.
     */
    holdCreate(slug: string): { arrived: Promise<void>; release(): void };
    close(): Promise<void>;
}

export async function startGitHubStandIn(options: GitHubStandInOptions): Promise<GitHubStandIn> {
    const worker = new Worker(join(__dirname, "github-server.js"), { workerData: options });
    const { port1, port2 } = new MessageChannel();
    const signal = new Int32Array(new SharedArrayBuffer(4));
    const arrivals = new Map<string, () => void>();
    let crashed: Error | undefined;
    const started = new Promise<void>((resolve, reject) => {
        worker.on("message", (message: { listening?: true; error?: string; arrived?: string }) => {
            if (message.listening) resolve();
            if (message.error) reject(new Error(`the GitHub stand-in did not start: ${message.error}`));
            if (message.arrived) arrivals.get(message.arrived)?.();
        });
        worker.on("error", (error) => {
            crashed = error;
            reject(error);
        });
    });
    worker.postMessage({ port: port2, signal }, [port2]);
    await started;

    let calls = 0;
    const call = <K extends keyof Operations>(op: K, ...args: Parameters<Operations[K]>): Awaited<ReturnType<Operations[K]>> => {
        if (crashed) throw new Error(`the GitHub stand-in crashed: ${crashed.message}`);
        const id = ++calls;
        Atomics.store(signal, 0, 0);
        port1.postMessage({ id, op, args });
        if (Atomics.wait(signal, 0, 0, 30_000) === "timed-out") throw new Error(`the GitHub stand-in did not answer ${op} within 30s`);
        // A late answer to an earlier call that timed out may still be queued: skip it.
        let answer: { id: number; value?: any; error?: string } | undefined;
        do answer = receiveMessageOnPort(port1)?.message;
        while (answer !== undefined && answer.id !== id);
        if (answer === undefined || answer.error !== undefined) throw new Error(`the GitHub stand-in failed ${op}: ${answer?.error ?? "no answer"}`);
        return answer.value;
    };
    return {
        calls: () => call("calls"),
        memberships: () => call("memberships"),
        teams: () => call("teams"),
        makeTeam: (slug, members) => call("makeTeam", slug, members),
        addMember: (slug, login) => call("addMember", slug, login),
        madeByHand: () => call("madeByHand"),
        addClientSecret: (secret) => call("addClientSecret", secret),
        deleteClientSecret: (secret) => call("deleteClientSecret", secret),
        breakApi: (status) => call("breakApi", status ?? null),
        holdCreate: (slug) => {
            const arrived = new Promise<void>((resolve) => arrivals.set(slug, resolve));
            call("holdCreate", slug);
            return { arrived, release: () => call("release", slug) };
        },
        close: async () => {
            call("close");
            await worker.terminate();
        },
    };
}
