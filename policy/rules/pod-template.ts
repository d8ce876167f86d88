// Where a workload keeps its pods' settings, whatever its kind: both the
// credentials rule (env values) and the Pod Security rule read them.
import { isObj, kindOf, list, obj, type Obj, type Resource } from "./resource";

/** Where each workload kind keeps its pod template (metadata and spec); a Pod is its own. */
const POD_TEMPLATE_PATHS: Record<string, string[]> = {
    Pod: [],
    Deployment: ["spec", "template"],
    StatefulSet: ["spec", "template"],
    DaemonSet: ["spec", "template"],
    ReplicaSet: ["spec", "template"],
    Job: ["spec", "template"],
    CronJob: ["spec", "jobTemplate", "spec", "template"],
};

export function podTemplate(r: Resource): Obj | undefined {
    return POD_TEMPLATE_PATHS[kindOf(r) ?? ""]?.reduce<Obj>((at, key) => obj(at[key]), r.props);
}

export function podSpec(r: Resource): Obj | undefined {
    const spec = podTemplate(r)?.spec;
    return isObj(spec) ? spec : undefined;
}

export function containers(spec: Obj): Obj[] {
    return ["initContainers", "containers", "ephemeralContainers"].flatMap((key) => list(spec[key]).map(obj));
}
